"""Secret values for bots: the environment's env_file (dotenv) and `secrets:` providers.

Values are returned to the pipeline only; errors name the file, provider or
secret id, never a value. `aws_secretsmanager` needs the `aws` extra (boto3);
boto3 finds credentials, region and endpoint (AWS_ENDPOINT_URL) as it always does.
"""

from __future__ import annotations

import json
import re
import threading
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
        self._clients: dict[str | None, Any] = {}
        self._guard = threading.Lock()

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
        secret_id = ref.option("secret_id") or ""
        key = ref.option("key")
        secret = self._aws_secret(where, secret_id, ref.option("region"))
        if "SecretString" not in secret:
            raise ConfigError(
                f"{where}: the AWS secret {secret_id!r} holds binary data; "
                "chatops reads text secrets (SecretString) only"
            )
        text = str(secret["SecretString"])
        if key is None:
            return text
        try:
            value = json.loads(text)[key]
        except (ValueError, KeyError, TypeError, IndexError):
            raise ConfigError(
                f"{where}: the AWS secret {secret_id!r} is not a JSON object with the key {key!r}",
                hint="check `key`, or leave it out to use the whole secret",
            ) from None
        return value if isinstance(value, str) else json.dumps(value)

    def _aws_secret(self, where: str, secret_id: str, region: str | None) -> dict[str, Any]:
        """GetSecretValue's answer; every failure is a ConfigError naming the secret id."""
        try:
            from botocore.exceptions import (
                BotoCoreError,
                ClientError,
                NoCredentialsError,
                NoRegionError,
            )
        except ImportError:
            raise ConfigError(
                f"{where}: the aws_secretsmanager provider needs boto3",
                hint="install chatops with it: pip install 'chatops[aws]'",
            ) from None
        try:
            answer: dict[str, Any] = self._aws_client(region).get_secret_value(SecretId=secret_id)
        except ClientError as exc:
            code = _error_code(exc.response.get("Error") or {})
            template, hint = _AWS_REFUSALS.get(code, (f"refused to read {{id}} ({code})", None))
            raise ConfigError(
                f"{where}: AWS Secrets Manager {template.format(id=repr(secret_id))}", hint=hint
            ) from None
        except NoRegionError:
            raise ConfigError(
                f"{where}: no AWS region to look for {secret_id!r} in",
                hint="set `region` on the secret, or AWS_DEFAULT_REGION",
            ) from None
        except NoCredentialsError:
            raise ConfigError(
                f"{where}: chatops has no AWS credentials to read {secret_id!r}",
                hint=_CREDENTIALS_HINT,
            ) from None
        except BotoCoreError as exc:  # unreachable endpoint, bad endpoint URL, …
            raise ConfigError(
                f"{where}: AWS Secrets Manager could not be asked for {secret_id!r}: "
                f"{type(exc).__name__}",
                hint="check the network, `region` and AWS_ENDPOINT_URL (when set)",
            ) from None
        return answer

    def _aws_client(self, region: str | None) -> Any:
        """One Secrets Manager client per region, made once (boto3 sessions are not
        thread-safe, their clients are). boto3 reads credentials, AWS_DEFAULT_REGION
        and AWS_ENDPOINT_URL itself."""
        with self._guard:
            client = self._clients.get(region)
            if client is None:
                import boto3

                client = boto3.session.Session().client("secretsmanager", region_name=region)
                self._clients[region] = client
            return client


def _error_code(error: dict[str, Any]) -> str:
    """AWS's error code; from an XML body botocore did not parse (a proxy, an emulator,
    which leaves the HTTP status as the code) when it is there."""
    code = str(error.get("Code") or "")
    if code.isdigit() and (found := re.search(r"<Code>(\w+)</Code>", str(error.get("Message")))):
        return found[1]
    return code or "an error"


_CREDENTIALS_HINT = (
    "give chatops AWS credentials: an IAM role, AWS_PROFILE, "
    "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)
_BAD_CREDENTIALS = ("did not accept chatops' AWS credentials to read {id}", _CREDENTIALS_HINT)
# error code → (what happened, with {id} for the secret id; what to do)
_DENIED = (
    "denied chatops access to {id}",
    "allow secretsmanager:GetSecretValue on it (and kms:Decrypt on its key) "
    "to the AWS identity chatops runs as",
)
_AWS_REFUSALS: dict[str, tuple[str, str | None]] = {
    "ResourceNotFoundException": (
        "has no secret {id}",
        "check `secret_id` (name or ARN) and `region`",
    ),
    "AccessDenied": _DENIED,
    "AccessDeniedException": _DENIED,
    "UnrecognizedClientException": _BAD_CREDENTIALS,
    "InvalidClientTokenId": _BAD_CREDENTIALS,
    "InvalidSignatureException": _BAD_CREDENTIALS,
    "SignatureDoesNotMatch": _BAD_CREDENTIALS,
    "ExpiredTokenException": _BAD_CREDENTIALS,
    "DecryptionFailure": ("could not decrypt {id}", "check its KMS key and key policy"),
    "InvalidRequestException": ("refused to read {id} (is it scheduled for deletion?)", None),
}
