"""Finding, reading and validating chatops.yaml; `load()` gives settings and file at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from chatops.config.catalog import ConfigFile, config_file
from chatops.config.document import ConfigModel
from chatops.config.explain import explain
from chatops.config.settings import Settings, load_settings
from chatops.domain.catalog import Catalog
from chatops.errors import ConfigError

__all__ = ["DEFAULT_CONFIG", "Config", "find_config", "load", "read_config_file"]

DEFAULT_CONFIG = Path("chatops.yaml")


@dataclass(frozen=True, slots=True)
class Config:
    settings: Settings
    file: ConfigFile

    @property
    def catalog(self) -> Catalog:
        return self.file.catalog


def find_config(explicit: Path | None, settings: Settings) -> Path:
    """`--config`, else $CHATOPS_CONFIG, else ./chatops.yaml."""
    return explicit or settings.chatops_config or DEFAULT_CONFIG


def load(explicit: Path | None = None, *, settings: Settings | None = None) -> Config:
    """Settings and chatops.yaml, validated.

    Raises:
        ConfigError: the file is missing, not YAML, or breaks the schema (every problem listed).
    """
    settings = settings or load_settings()
    path = find_config(explicit, settings)
    return Config(settings=settings, file=read_config_file(path, settings=settings))


def read_config_file(path: Path, *, settings: Settings) -> ConfigFile:
    """Parse and validate one chatops.yaml.

    Raises:
        ConfigError: as for `load`.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file",
            hint="pass --config PATH, set CHATOPS_CONFIG, or create chatops.yaml (see README)",
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}:{where}: not valid YAML: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping with `environments:` and `bots:`"
        )
    try:
        model = ConfigModel.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(explain(path, exc, text)) from None
    return config_file(path, model, settings)
