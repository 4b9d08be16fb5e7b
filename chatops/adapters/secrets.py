"""Secret values for bots: the environment's env_file (dotenv) and `secrets:` providers.

Values are returned to the pipeline only; errors name the file or provider,
never a value.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from chatops.domain.catalog import Bot, BotTarget, SecretRef
from chatops.errors import ConfigError

__all__ = ["ProviderSecrets"]


class ProviderSecrets:
    """Reads env files and the `env`, `file` and `aws_secretsmanager` providers."""

    def __init__(self, environ: Callable[[str], str | None]) -> None:
        self._environ = environ

    def resolve(self, bot: Bot, target: BotTarget) -> dict[str, str]:
        values: dict[str, str] = {}
        if target.env_file:
            values.update(self._env_file(bot, target, Path(target.env_file)))
        for ref in target.secrets:
            values[ref.name] = self._provider(bot, target, ref)
        return values

    def _env_file(self, bot: Bot, target: BotTarget, path: Path) -> dict[str, str]:
        if not path.is_file():
            raise ConfigError(
                f"env_file {path} of {bot.name} in {target.env} does not exist",
                hint="create it (dotenv format: NAME=value per line) or remove `env_file`",
            )
        try:
            parsed = dotenv_values(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"env_file {path} of {bot.name} cannot be read: {exc}") from None
        return {k: v for k, v in parsed.items() if v is not None}

    def _provider(self, bot: Bot, target: BotTarget, ref: SecretRef) -> str:
        where = f"secret {ref.name} of {bot.name} in {target.env}"
        if ref.provider == "env":
            var = ref.option("var") or ref.name
            value = self._environ(var)
            if value is None:
                raise ConfigError(f"{where}: environment variable {var} is not set")
            return value
        if ref.provider == "file":
            path = Path(ref.option("path") or "")
            try:
                return path.read_text(encoding="utf-8").rstrip("\n")
            except OSError as exc:
                raise ConfigError(f"{where}: cannot read {path}: {exc.strerror}") from None
        if ref.provider == "aws_secretsmanager":
            return self._aws(where, ref)
        raise ConfigError(f"{where}: unknown provider {ref.provider!r}")

    def _aws(self, where: str, ref: SecretRef) -> str:
        try:
            import boto3  # type: ignore[import-not-found]  # optional: only for this provider
        except ImportError:
            raise ConfigError(
                f"{where}: the aws_secretsmanager provider needs boto3", hint="pip install boto3"
            ) from None
        try:
            client: Any = boto3.client("secretsmanager", region_name=ref.option("region"))
            secret = client.get_secret_value(SecretId=ref.option("secret_id"))
        except Exception as exc:  # botocore's errors are many; the name is enough here
            raise ConfigError(
                f"{where}: AWS Secrets Manager refused: {type(exc).__name__}"
            ) from None
        text = str(secret.get("SecretString", ""))
        key = ref.option("key")
        if key is None:
            return text
        try:
            return str(json.loads(text)[key])
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"{where}: the secret is not JSON with the key {key!r}") from None
