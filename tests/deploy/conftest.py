"""What the shipped files (deploy/, docs/operations.md) are checked against: the real CLI,
settings, HTTP routes and drain grace of chatops, and chatops' image built once per session.
"""

from __future__ import annotations

import inspect
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import click
import pytest
import typer

from chatops import __version__
from chatops.config import Settings
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


def variable_known(name: str) -> bool:
    """NAME, or NAME_FILE of a secret, is something chatops reads (or libpq does)."""
    if name in FOREIGN_VARIABLES:
        return True
    known = settings_variables()
    return name in known or (name.endswith("_FILE") and name.removesuffix("_FILE") in known)


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
