"""Settings from the environment and `.env`, and the chatops.yaml schema.

The only reader of os.environ. `load()` returns frozen values: the Settings
(tokens, ports, URLs) and the domain Catalog built from chatops.yaml. Every
problem in the file is reported at once, each naming the file, the key path and
what is allowed, so a typo never passes silently.

::

    settings      environment variables and `.env` (secrets from `NAME_FILE` too)
    fields        value types the sections share: names, durations, URLs
    environments  `environments:`  (freezes, verification, CI checks)
    bots          `bots:`          (secrets, resources, per-environment targets)
    document      the whole file: top-level sections and the checks across them
    explain       schema errors in words, with line numbers and allowed keys
    catalog       the validated file as the domain Catalog, paths resolved
    loading       find, read and validate: `load()`
"""

from __future__ import annotations

from chatops.config.catalog import ConfigFile
from chatops.config.document import ConfigModel, WebModel
from chatops.config.loading import DEFAULT_CONFIG, Config, find_config, load, read_config_file
from chatops.config.settings import Settings, environ, file_variables, load_settings

__all__ = [
    "DEFAULT_CONFIG",
    "Config",
    "ConfigFile",
    "ConfigModel",
    "Settings",
    "WebModel",
    "environ",
    "file_variables",
    "find_config",
    "load",
    "load_settings",
    "read_config_file",
]
