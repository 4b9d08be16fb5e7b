"""Process settings from environment variables and `.env`: the only reader of os.environ.

Secrets may come from files (`NAME_FILE`), and a blank value counts as unset. The
variables are gathered here (python-dotenv reads `.env`) and validated by one pydantic
model: what pydantic-settings did for these flat settings, without its import time
(about 26 ms, asyncio included), which every command paid.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from chatops.errors import ConfigError

__all__ = ["Settings", "environ", "file_variables", "load_settings"]


class Settings(BaseModel):
    """Process settings, read by `load_settings` from environment variables and `./.env`
    (real variables win), each named as its field in any case (`SLACK_BOT_TOKEN`).

    An empty or blank value counts as unset (compose writes `NAME=` for a variable it
    was not given), so a server never runs with an empty signing secret or token.
    Each secret, and the database URL, may be given as `NAME_FILE` instead: the path
    of a file holding the value (Docker and Kubernetes secrets).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str | None = None
    chatops_config: Path | None = None
    chatops_database_url: str | None = None
    chatops_http_host: str = "127.0.0.1"
    chatops_http_port: int = 3000
    chatops_http_body_timeout_seconds: float = Field(default=20.0, gt=0, le=3600)
    chatops_alert_token: SecretStr | None = None
    chatops_git_webhook_secret: SecretStr | None = None
    chatops_metrics_token: SecretStr | None = None
    chatops_lease_seconds: float = Field(default=15.0, gt=0)
    # after SIGTERM, serve takes no new work and stops within this (the shipped stop
    # timeouts, 60 s, leave room for it and for Kubernetes' preStop)
    chatops_drain_seconds: float = Field(default=45.0, ge=10, le=3600)
    chatops_log_format: Literal["text", "json"] = "text"  # read early by the CLI too
    chatops_public_url: str | None = None
    chatops_slack_client_id: str | None = None
    chatops_slack_client_secret: SecretStr | None = None
    # forges, for CI checks and deployment statuses (DESIGN §10)
    chatops_github_api_url: str = "https://api.github.com"
    chatops_github_token: SecretStr | None = None
    chatops_gitlab_api_url: str = "https://gitlab.com/api/v4"
    chatops_gitlab_token: SecretStr | None = None
    chatops_ci_poll_seconds: float = Field(default=10.0, gt=0, le=600)  # pending CI, read again
    docker_host: str | None = None
    user: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data

    def default_user(self) -> str:
        if self.user:
            return self.user
        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return "unknown"


def file_variables() -> list[str]:
    """The settings that may be given as `NAME_FILE`: every secret, and the database URL."""
    secrets = [
        name
        for name, field in Settings.model_fields.items()
        if SecretStr in (field.annotation, *get_args(field.annotation))
    ]
    return [*secrets, "chatops_database_url"]


def _variables(env_file: Path | None) -> dict[str, str]:
    """The variables, by lower-case name: `env_file`'s, then the environment's, which win;
    an empty one counts as unset (and leaves the file's value)."""
    given: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        from dotenv import dotenv_values

        given |= {k.lower(): v for k, v in dotenv_values(env_file).items() if v}
    given |= {k.lower(): v for k, v in os.environ.items() if v}
    return given


def _from_files(given: dict[str, str]) -> dict[str, str]:
    """`NAME_FILE=PATH`: the file's content, as NAME."""
    values: dict[str, str] = {}
    for name in file_variables():
        path = (given.get(f"{name}_file") or "").strip()
        if not path:
            continue
        variable = name.upper()
        if (given.get(name) or "").strip():
            raise ConfigError(
                f"both {variable} and {variable}_FILE are set",
                hint=f"set only one of them (unset {variable} to read it from the file)",
            )
        value = _read_secret_file(f"{variable}_FILE", Path(path))
        if value is not None:
            values[name] = value
    return values


def _read_secret_file(variable: str, path: Path) -> str | None:
    """A secret file's content without its trailing newline (None when it is empty or blank:
    like an empty variable, an empty file counts as unset); errors never show the content."""
    try:
        value = path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(
            f"{variable}: cannot read {path}: {exc.strerror or type(exc).__name__}",
            hint="mount the secret there, or fix the path",
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{variable}: {path} is not UTF-8 text") from None
    return value if value.strip() else None


def load_settings(env_file: Path | None = Path(".env")) -> Settings:
    """Read the settings from the environment and `env_file` (None: no file).

    Raises:
        ConfigError: a variable has a bad value, or a `NAME_FILE` cannot be read.
    """
    given = _variables(env_file)
    values: dict[str, Any] = {name: given[name] for name in Settings.model_fields if name in given}
    values |= _from_files(given)
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"bad environment variable: {problems}") from None


def environ(name: str) -> str | None:
    """One environment variable, for the few adapters configured by a variable the user names."""
    return os.environ.get(name)
