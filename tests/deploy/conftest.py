"""What the shipped files (deploy/, docs/operations.md) are checked against: the real CLI,
settings, HTTP routes and drain grace of chatops, and chatops' image built once per session.

Some names in DESIGN §5 arrive with work that is not on every branch yet (`NAME_FILE` for
secrets, CHATOPS_METRICS_TOKEN). Tests that need them are marked `xfail(strict=True)` with
the reason while chatops lacks them, and run for real (and must pass) once it has them.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import typer

from chatops import __version__
from chatops.config import Settings, load_settings
from chatops.entrypoints import serve
from chatops.entrypoints.cli import app

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
IMAGE = f"chatops:{__version__}"
# the one stop grace everywhere (docker --stop-timeout, compose, systemd, Kubernetes)
STOP_GRACE_SECONDS = 60
IMAGE_UID = 10001
# variables chatops reads that are not fields of Settings: libpq's and the docker SDK's
FOREIGN_VARIABLES = {"PGPASSFILE", "HOME"}


# ── what chatops really has ─────────────────────────────────────────────────


def settings_variables() -> set[str]:
    """The environment variables Settings reads."""
    return {name.upper() for name in Settings.model_fields}


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def file_secrets_supported(tmp: Path) -> bool:
    """Whether chatops reads `NAME_FILE` (DESIGN §5) yet."""
    secret = tmp / "signing-secret"
    secret.write_text("from-a-file\n")
    with _environment(SLACK_SIGNING_SECRET_FILE=str(secret), SLACK_SIGNING_SECRET=""):
        try:
            value = load_settings(env_file=tmp / "no.env").slack_signing_secret
        except Exception:
            return False
    return value is not None and value.get_secret_value() == "from-a-file"


def _file_secrets_now() -> bool:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return file_secrets_supported(Path(tmp))


FILE_SECRETS = _file_secrets_now()
needs_file_secrets = pytest.mark.xfail(
    not FILE_SECRETS,
    reason="needs NAME_FILE secrets (DESIGN §5), which this chatops does not read yet",
    strict=True,
)


def variable_known(name: str) -> bool:
    """NAME, or NAME_FILE of a secret, is something chatops reads (or libpq does)."""
    if name in FOREIGN_VARIABLES:
        return True
    known = settings_variables()
    return name in known or (name.endswith("_FILE") and name.removesuffix("_FILE") in known)


# DESIGN §5 names that arrive with work not on every branch yet
PENDING_SETTINGS = {"CHATOPS_METRICS_TOKEN": "the /metrics token"}


def pending_variable(name: str) -> pytest.MarkDecorator | None:
    """An xfail mark for a DESIGN §5 variable that is not a setting of this chatops yet."""
    base = name.removesuffix("_FILE")
    if base in PENDING_SETTINGS and base not in settings_variables():
        return pytest.mark.xfail(
            reason=f"{base} ({PENDING_SETTINGS[base]}, DESIGN §5) is not a setting here yet",
            strict=True,
        )
    return None


def variable_params(names: list[str]) -> list[object]:
    """pytest params for variable names, each marked xfail when its feature is pending."""
    params = []
    for name in names:
        mark = pending_variable(name)
        params.append(pytest.param(name, id=name, marks=[mark] if mark else []))
    return params


def cli_command(argv: list[str]) -> click.Command:
    """The real command `chatops ARGV…` names (subcommands followed), or an AssertionError."""
    command: click.Command = typer.main.get_command(app)
    context = click.Context(command)
    words = [word for word in argv if not word.startswith("-")]
    for word in words:
        if not isinstance(command, click.Group):
            break
        found = command.get_command(context, word)
        assert found is not None, f"`chatops {' '.join(argv)}`: no command {word!r}"
        command = found
    assert not isinstance(command, click.Group), f"`chatops {' '.join(argv)}` is a group"
    return command


def cli_options(command: click.Command) -> set[str]:
    return {opt for param in command.params for opt in getattr(param, "opts", [])}


def chatops_argv(line: str) -> list[str]:
    """The arguments after `chatops` in a shell command line (`…/bin/chatops db upgrade`)."""
    words = shlex.split(line)
    for index, word in enumerate(words):
        if word == "chatops" or word.endswith("/chatops"):
            return words[index + 1 :]
    raise AssertionError(f"no chatops command in {line!r}")


def http_routes() -> set[str]:
    """The paths `chatops serve` answers (entrypoints/http.py)."""
    from chatops.entrypoints.http import HttpDeps, create_http_app

    deps = HttpDeps(**dict.fromkeys(HttpDeps.__dataclass_fields__))  # type: ignore[arg-type]
    return {route.path for route in create_http_app(deps).routes}  # type: ignore[attr-defined]


def serve_drain_seconds() -> float:
    """How long `serve` drains after SIGTERM: its setting once it has one, else uvicorn's
    `timeout_graceful_shutdown` in entrypoints/serve.py."""
    for name, field in Settings.model_fields.items():
        if ("drain" in name or "grace" in name) and isinstance(field.default, int | float):
            return float(field.default)
    found = re.search(r"timeout_graceful_shutdown=(\d+(?:\.\d+)?)", inspect.getsource(serve))
    assert found, "cannot find serve's drain grace (timeout_graceful_shutdown) in serve.py"
    return float(found.group(1))


def default_port() -> int:
    return int(Settings.model_fields["chatops_http_port"].default)


# ── chatops' image, built once per session ──────────────────────────────────


@pytest.fixture(scope="session")
def chatops_image(docker_host: str) -> str:
    """`scripts/dev image` on the test engine; its time is printed (from a cold engine it
    includes making the Debian base with mmdebstrap)."""
    started = time.monotonic()
    result = subprocess.run(
        [str(ROOT / "scripts" / "dev"), "image"],
        cwd=ROOT,
        env={**os.environ, "DOCKER_HOST": docker_host},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, f"scripts/dev image failed:\n{result.stdout}\n{result.stderr}"
    print(f"\nscripts/dev image took {time.monotonic() - started:.0f}s")
    assert IMAGE in result.stdout
    return IMAGE
