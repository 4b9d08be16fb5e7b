"""Settings from the environment and `.env`, and the chatops.yaml schema.

The only reader of os.environ. `load()` returns frozen values: the Settings
(tokens, ports, URLs) and the domain Catalog built from chatops.yaml. Every
problem in the file is reported at once, each naming the file, the key path and
what is allowed, so a typo never passes silently.
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from chatops.domain.catalog import (
    ANYONE,
    Bot,
    BotTarget,
    Catalog,
    Environment,
    FreezeRule,
    HealthKind,
    HealthSpec,
    Resources,
    SecretRef,
    Strategy,
)
from chatops.domain.names import (
    DEFAULT_INSTANCE,
    NAME_PATTERN,
    colliding_units,
    parse_duration,
    parse_memory,
    unit_name,
)
from chatops.domain.repos import remote_location
from chatops.domain.retention import RetentionPolicy
from chatops.domain.verification import ALL_CHECKS, CheckSpec, ChecksSpec, NoData, VerifySpec
from chatops.errors import BadInput, ConfigError

__all__ = [
    "Config",
    "ConfigFile",
    "Settings",
    "file_variables",
    "find_config",
    "load",
    "load_settings",
]

DEFAULT_CONFIG = Path("chatops.yaml")
_MAX_SERVICE_NAME = 63  # Swarm's limit (a DNS label)


# ── environment variables ─────────────────────────────────────────────────


class Settings(BaseSettings):
    """Process settings from environment variables and `./.env` (real variables win).

    An empty or blank value counts as unset (compose writes `NAME=` for a variable it
    was not given), so a server never runs with an empty signing secret or token.
    Each secret, and the database URL, may be given as `NAME_FILE` instead: the path
    of a file holding the value (Docker and Kubernetes secrets).
    """

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, env_ignore_empty=True
    )

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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        files = _SecretFiles(settings_cls, env_settings, dotenv_settings)
        return init_settings, files, env_settings, dotenv_settings, file_secret_settings

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


class _SecretFiles(PydanticBaseSettingsSource):
    """`NAME_FILE=PATH` (from the environment or `.env`): the file's content, as NAME."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        env: PydanticBaseSettingsSource,
        dotenv: PydanticBaseSettingsSource,
    ) -> None:
        super().__init__(settings_cls)
        self._given: dict[str, str | None] = {
            **getattr(dotenv, "env_vars", {}),
            **getattr(env, "env_vars", {}),
        }

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads every variable at once

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in file_variables():
            path = (self._given.get(f"{name}_file") or "").strip()
            if not path:
                continue
            variable = name.upper()
            if (self._given.get(name) or "").strip():
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


def load_settings(env_file: Path | None = None) -> Settings:
    """Read the settings; `env_file` replaces `./.env`.

    Raises:
        ConfigError: a variable has a bad value, or a `NAME_FILE` cannot be read.
    """
    try:
        if env_file is not None:
            return Settings(_env_file=env_file)
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"bad environment variable: {problems}") from None


# ── chatops.yaml schema ───────────────────────────────────────────────────

Name = Annotated[str, Field(pattern=NAME_PATTERN.pattern, max_length=63)]


def _duration(value: Any) -> Any:
    """`90s`, `10m`, `2h`, `1d` (or `1h30m`) as seconds; numbers as they are."""
    if isinstance(value, str) and not _NUMBER.fullmatch(value.strip()):
        try:
            return parse_duration(value)
        except BadInput:
            raise ValueError(f"{_DURATION_WORDS} (not {value!r})") from None
    return value


_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?")
_DURATION_WORDS = "must be a number of seconds or a duration such as 90s, 10m, 2h, 1d"
_DURATION_SCHEMA = {"type": "string", "pattern": r"^([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$"}
Seconds = Annotated[
    float,
    BeforeValidator(_duration),
    Field(gt=0),
    WithJsonSchema({"anyOf": [{"type": "number", "exclusiveMinimum": 0}, _DURATION_SCHEMA]}),
]
SecondsOrZero = Annotated[
    float,
    BeforeValidator(_duration),
    Field(ge=0),
    WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0}, _DURATION_SCHEMA]}),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HealthModel(_Model):
    """`{http: URL}` or `{none: true}`; absent means the image's own HEALTHCHECK."""

    http: str | None = None
    none: bool | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> HealthModel:
        if (self.http is None) == (not self.none):
            raise ValueError("give exactly one of `http: URL` or `none: true`")
        if self.http is not None and not self.http.startswith(("http://", "https://")):
            raise ValueError("`http` must be an http:// or https:// URL")
        return self

    def spec(self) -> HealthSpec:
        if self.http is not None:
            return HealthSpec(HealthKind.HTTP, self.http)
        return HealthSpec(HealthKind.NONE)


class FreezeModel(_Model):
    cron: str
    duration_hours: Annotated[float, Field(gt=0, le=24 * 31)]


# ── verification and CI gates (DESIGN §10) ──


class VerifyCheckModel(_Model):
    """One entry of `verify.checks`."""

    name: Annotated[str, Field(min_length=1, max_length=80)]
    query: Annotated[str, Field(min_length=1, max_length=4000)]
    min: float | None = None
    max: float | None = None
    failure_limit: Annotated[int, Field(ge=0, le=1000)] = 0
    on_no_data: Literal["fail", "pass", "inconclusive"] = "fail"
    on_error: Literal["fail", "pass", "inconclusive"] = "inconclusive"

    @model_validator(mode="after")
    def _bounded(self) -> VerifyCheckModel:
        if self.min is None and self.max is None:
            raise ValueError(
                f"check {self.name!r} needs `min:` or `max:` (or both): a bound its value must keep"
            )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(
                f"check {self.name!r}: `min` ({self.min:g}) is above `max` ({self.max:g})"
            )
        return self

    def spec(self) -> CheckSpec:
        return CheckSpec(
            name=self.name,
            query=self.query,
            min=self.min,
            max=self.max,
            failure_limit=self.failure_limit,
            on_no_data=NoData(self.on_no_data),
            on_error=NoData(self.on_error),
        )


class VerifyModel(_Model):
    """An environment's `verify:`: Prometheus queries measured while a release runs."""

    prometheus: Annotated[str, Field(pattern=r"^https?://[^\s]+$")]
    interval_seconds: Annotated[float, Field(ge=1)] = 30
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10
    checks: Annotated[list[VerifyCheckModel], Field(min_length=1)]

    @model_validator(mode="after")
    def _distinct(self) -> VerifyModel:
        names = [c.name for c in self.checks]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two checks are named {name!r}; give each a name of its own")
        return self

    def spec(self) -> VerifySpec:
        return VerifySpec(
            prometheus=self.prometheus.rstrip("/"),
            checks=tuple(c.spec() for c in self.checks),
            interval=timedelta(seconds=self.interval_seconds),
            timeout=timedelta(seconds=self.timeout_seconds),
        )


class ChecksModel(_Model):
    """An environment's `checks:`: CI results a commit needs before it runs there."""

    required: Literal["all"] | Annotated[list[str], Field(min_length=1)]
    ignored: list[str] = Field(default_factory=list)
    timeout_seconds: Seconds = 900

    def spec(self) -> ChecksSpec:
        return ChecksSpec(
            required=None if self.required == ALL_CHECKS else tuple(self.required),
            ignored=frozenset(self.ignored),
            timeout=timedelta(seconds=self.timeout_seconds),
        )


ForgeProject = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")]


class EnvSecret(_Model):
    """A secret from an environment variable of the chatops process."""

    provider: Literal["env"]
    var: str | None = None  # defaults to the secret's own name


class FileSecret(_Model):
    """A secret read from a file (e.g. a mounted Docker/Kubernetes secret)."""

    provider: Literal["file"]
    path: str


class AwsSecret(_Model):
    """A secret from AWS Secrets Manager (needs boto3 and AWS credentials)."""

    provider: Literal["aws_secretsmanager"]
    secret_id: str
    key: str | None = None  # a field of a JSON secret
    region: str | None = None


SecretModel = Annotated[EnvSecret | FileSecret | AwsSecret, Field(discriminator="provider")]

_BUILD_ARGS_RULE = (
    "build arguments may not carry secrets: the engine records them in the image's history, "
    "where anyone who can pull the image reads them"
)


def _no_secret_build_args(value: Any) -> Any:
    """`build_args` values are plain text; a secret reference (`{provider: …}`) is refused."""
    if isinstance(value, dict):
        for arg, given in value.items():
            if isinstance(given, dict):
                raise ValueError(
                    f"{arg}: {_BUILD_ARGS_RULE}; give the secret to the container with "
                    "`secrets:` instead"
                )
    return value


class ResourcesModel(_Model):
    """`resources: {cpus: 0.5, memory: 256m}`: limits of each container or task."""

    cpus: Annotated[float, Field(gt=0, le=1024)] | None = None
    memory: int | str | None = None

    @field_validator("memory")
    @classmethod
    def _amount(cls, value: int | str | None) -> int | str | None:
        if value is None:
            return None
        try:
            parse_memory(str(value))
        except BadInput as exc:
            raise ValueError(f"{exc.message}; {exc.hint}") from None
        return value

    def limits(self, fallback: ResourcesModel | None = None) -> Resources:
        """These limits, each unset one taken from `fallback` (the bot's own)."""
        cpus = self.cpus if self.cpus is not None else (fallback.cpus if fallback else None)
        memory = self.memory if self.memory is not None else (fallback.memory if fallback else None)
        return Resources(cpus=cpus, memory=parse_memory(str(memory)) if memory else None)


class TargetModel(_Model):
    """A bot's settings in one environment (`bots.<bot>.environments.<env>`)."""

    env: dict[str, str] = Field(default_factory=dict)
    env_file: str | None = None
    secrets: dict[str, SecretModel] = Field(default_factory=dict)
    health: HealthModel | None = None
    health_timeout_seconds: Seconds | None = None
    replicas: Annotated[int, Field(ge=1, le=100)] | None = None
    build_args: dict[str, str] = Field(default_factory=dict)
    resources: ResourcesModel | None = None

    _build_args = field_validator("build_args", mode="before")(_no_secret_build_args)


class BotModel(_Model):
    repo: str
    branch: str = "main"
    dockerfile: str = "Dockerfile"
    context: str = "."
    env: dict[str, str] = Field(default_factory=dict)
    env_file: str | None = None
    secrets: dict[str, SecretModel] = Field(default_factory=dict)
    health: HealthModel | None = None
    health_timeout_seconds: Seconds = 60
    replicas: Annotated[int, Field(ge=1, le=100)] = 1
    build_args: dict[str, str] = Field(default_factory=dict)
    build_timeout_seconds: Seconds = 1800
    resources: ResourcesModel = Field(default_factory=ResourcesModel)
    github: ForgeProject | None = None
    gitlab: ForgeProject | None = None
    push_tags: bool = True  # false: release and environment tags stay in chatops' mirror
    environments: dict[str, TargetModel | None] | None = None

    _build_args = field_validator("build_args", mode="before")(_no_secret_build_args)

    @model_validator(mode="after")
    def _build_args_name_no_secret(self) -> BotModel:
        overrides = [o for o in (self.environments or {}).values() if o is not None]
        secrets = set(self.secrets).union(*(o.secrets for o in overrides))
        args = set(self.build_args).union(*(o.build_args for o in overrides))
        if self.github and self.gitlab:
            raise ValueError("`github` and `gitlab`: name one forge, not both")
        for arg in sorted(args & secrets):
            raise ValueError(
                f"build_args.{arg}: {_BUILD_ARGS_RULE}; {arg} is one of the bot's `secrets`, "
                "which the running container gets anyway"
            )
        return self


class EnvironmentModel(_Model):
    runtime: Literal["docker", "swarm"] = "docker"
    network: str | None = None
    deployers: list[str] | None = None  # None: anyone ("*"), where nothing guards the way in
    approvers: list[str] = Field(default_factory=list)
    approvals: Annotated[int, Field(ge=0, le=10)] = 0
    approval_ttl_seconds: Seconds = 3600
    promote_from: str | None = None
    soak_seconds: SecondsOrZero = 0
    auto_rollback: bool = False
    auto_rollback_window_seconds: Seconds = 600
    rollback_approvals: Annotated[int, Field(ge=0, le=10)] = 0
    strategy: Literal["stop-first", "start-first"] = "stop-first"
    health_interval_seconds: Seconds = 30
    unhealthy_threshold: Annotated[int, Field(ge=1, le=100)] = 2
    auto_deploy: str | None = None
    poll_seconds: Seconds | None = None
    timezone: str = "UTC"
    docker_host: str | None = None
    build_docker_host: str | None = None  # where bots' Dockerfiles are built (untrusted code)
    viewers: list[str] | None = None  # who may read logs; default: deployers and approvers
    channel: str | None = None
    freeze: list[FreezeModel] = Field(default_factory=list)
    verify: VerifyModel | None = None
    checks: ChecksModel | None = None
    environment_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$")] | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin"
            ) from None
        return value

    @model_validator(mode="after")
    def _checks(self) -> EnvironmentModel:
        if self.approvals > 0 and not self.approvers:
            raise ValueError(f"`approvals: {self.approvals}` needs `approvers` (user or group ids)")
        if self.rollback_approvals > 0 and not self.approvers:
            raise ValueError("`rollback_approvals` needs `approvers`")
        for index, rule in enumerate(self.freeze):
            try:
                CronTrigger.from_crontab(rule.cron, timezone=self.timezone)
            except ValueError as exc:
                raise ValueError(
                    f"freeze[{index}].cron {rule.cron!r} is not a cron expression: {exc}"
                ) from None
        return self


def _guarded(env: EnvironmentModel) -> str:
    """Why who deploys to `env` matters enough to be written down, if it does."""
    if env.promote_from:
        return f"takes promotions from {env.promote_from}"
    if env.approvals or env.rollback_approvals:
        return "needs approvals"
    return ""


class SlackModel(_Model):
    channel: str | None = None
    admins: list[str] = Field(default_factory=list)


class AlertmanagerModel(_Model):
    bot_label: str = "bot"
    env_label: str = "env"


class RetentionModel(_Model):
    """`retention:` how many releases' images and build logs (per bot), and how many days
    of audit, to keep; release tags are never deleted."""

    releases: Annotated[int, Field(ge=1, le=10_000)] | None = None
    audit_days: Annotated[int, Field(ge=1, le=36_500)] | None = None


def _public_url(value: str | None) -> str | None:
    if value is None:
        return None
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
        raise ValueError(
            f"{value!r} is not an http(s) URL; write where people reach chatops, "
            "e.g. https://chatops.example.com"
        )
    return value.rstrip("/")


class WebModel(_Model):
    """`web:` who may see the web view (DESIGN §11)."""

    auth: Literal["slack", "proxy"]
    team_id: str | None = None  # slack: only members of this workspace
    issuer: str = "https://slack.com"  # slack: the OpenID Connect issuer (a stand-in in tests)
    header: str = "X-Forwarded-User"  # proxy: the header naming the signed-in person
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 12

    @model_validator(mode="after")
    def _complete(self) -> WebModel:
        if self.auth == "slack" and not self.team_id:
            raise ValueError(
                "web.team_id: required with `auth: slack` (the workspace whose members may "
                "sign in, T…)"
            )
        try:
            for proxy in self.trusted_proxies:
                ipaddress.ip_network(proxy, strict=False)
        except ValueError as exc:
            raise ValueError(f"web.trusted_proxies: {exc}") from None
        if not re.fullmatch(r"[A-Za-z0-9-]+", self.header):
            raise ValueError(f"web.header: {self.header!r} is not an HTTP header name")
        _public_url(self.issuer)
        return self


class ConfigModel(_Model):
    instance: Name = DEFAULT_INSTANCE  # namespaces what chatops makes (DESIGN §4)
    retention: RetentionModel = Field(default_factory=RetentionModel)
    database_url: str | None = None
    public_url: str | None = None
    web: WebModel | None = None
    registry: str | None = None
    build_docker_host: str | None = None
    workdir: str = ".chatops"
    slack: SlackModel = Field(default_factory=SlackModel)
    alertmanager: AlertmanagerModel = Field(default_factory=AlertmanagerModel)
    environments: dict[Name, EnvironmentModel]
    bots: dict[Name, BotModel] = Field(default_factory=dict)

    _url = field_validator("public_url")(_public_url)

    @model_validator(mode="after")
    def _references(self) -> ConfigModel:
        if not self.environments:
            raise ValueError("`environments` needs at least one environment")
        for name, env in self.environments.items():
            if re.fullmatch(r"v[0-9]+", name):
                raise ValueError(
                    f"environments.{name}: an environment may not be named like a release (v<N>), "
                    "since `<bot>/<env>` tags would clash with release tags"
                )
            if env.promote_from is not None and env.promote_from not in self.environments:
                raise ValueError(
                    f"environments.{name}.promote_from: {env.promote_from!r} is not an environment "
                    f"(known: {', '.join(sorted(self.environments))})"
                )
            seen = {name}
            source = env.promote_from
            while source is not None:
                if source in seen:
                    raise ValueError(
                        f"environments.{name}.promote_from: the promotion chain loops back"
                    )
                seen.add(source)
                source = self.environments[source].promote_from
        self._check_guards_and_builds()
        self._check_forges()
        for bot, model in self.bots.items():
            for target in model.environments or {}:
                if target not in self.environments:
                    raise ValueError(
                        f"bots.{bot}.environments.{target}: not an environment "
                        f"(known: {', '.join(sorted(self.environments))})"
                    )
        self._check_unit_names()
        return self

    def _check_forges(self) -> None:
        for bot, where in self._targets():
            checked = self.environments.get(where)
            model = self.bots[bot]
            if checked is not None and checked.checks and not (model.github or model.gitlab):
                raise ValueError(
                    f"bots.{bot}: environment {where} has `checks`, which are read from the "
                    "bot's forge; add `github: owner/name` or `gitlab: group/name`"
                )

    def _check_unit_names(self) -> None:
        for unit, pairs in colliding_units(self._targets(), self.instance).items():
            keys = " and ".join(sorted({f"bots.{bot}" for bot, _ in pairs}))
            named = " and ".join(f"bot {bot} in {env}" for bot, env in pairs)
            raise ValueError(
                f"{keys}: {named} would run as the same container or service `{unit}`; "
                "rename one of the bots or environments"
            )
        for bot, target in self._targets():
            unit = unit_name(bot, target, self.instance)
            if self.environments[target].runtime == "swarm" and len(unit) > _MAX_SERVICE_NAME:
                raise ValueError(
                    f"bots.{bot}: the Swarm service of {bot} in {target}, `{unit}`, would be "
                    f"longer than the {_MAX_SERVICE_NAME} characters Swarm allows; shorten "
                    "the bot, environment or instance name"
                )

    def _check_guards_and_builds(self) -> None:
        """Guarded environments name their deployers; builds elsewhere need a registry."""
        envs = self.environments.items()
        for name, env in envs:
            if env.deployers is None and (why := _guarded(env)):
                raise ValueError(
                    f"environments.{name}.deployers: required, since {name} {why}; write who "
                    "may deploy, promote and roll back there, e.g. "
                    '`deployers: [U0DEV1, S0DEPLOYERS]`, or `deployers: ["*"]` for anyone '
                    "in the workspace"
                )
        builds_elsewhere = [
            key
            for key, host in [
                ("build_docker_host", self.build_docker_host),
                *((f"environments.{n}.build_docker_host", e.build_docker_host) for n, e in envs),
            ]
            if host
        ]
        if builds_elsewhere and not self.registry:
            raise ValueError(
                f"{builds_elsewhere[0]} needs `registry`: an image built on another Docker "
                "Engine reaches the engine that runs it only through a registry"
            )

    def _targets(self) -> list[tuple[str, str]]:
        """Every (bot, environment) pair chatops may run."""
        return [
            (bot, env)
            for bot, model in self.bots.items()
            for env in (self.environments if model.environments is None else model.environments)
        ]


# ── loading ───────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """chatops.yaml, validated, with paths resolved against its directory."""

    path: Path
    catalog: Catalog
    database_url: str
    workdir: Path
    alert_labels: tuple[str, str]
    public_url: str | None = None  # CHATOPS_PUBLIC_URL wins over `public_url`
    web: WebModel | None = None


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
        raise ConfigError(_explain(path, exc, text)) from None
    return _build(path, model, settings)


_KEYED = re.compile(r"[\w.-]+(?: and [\w.-]+)*: ")


# pydantic's words for a wrong type, said plainly
_PLAIN = {
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text (quote it if it looks like something else)",
    "list_type": "must be a list, e.g. [a, b]",
    "dict_type": "must be a mapping of keys to values",
    "model_type": "must be a mapping of keys to values",
    "model_attributes_type": "must be a mapping of keys to values",
}


def _explain(path: Path, exc: ValidationError, text: str = "") -> str:
    lines = [f"{path}: {exc.error_count()} problem(s):"]
    line_of = _line_finder(text)
    for error in exc.errors():
        loc = [str(p) for p in error["loc"] if not str(p).startswith(("function-", "tagged-union"))]
        # drop pydantic's union branch names (e.g. "env" inside a discriminated union)
        key = ".".join(loc) or "(top level)"
        if error["type"] == "extra_forbidden":
            allowed = _allowed_keys(error["loc"][:-1])
            message = "unknown key" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
        elif error["type"] == "missing":
            message = "required key is missing"
        elif error["type"] in _PLAIN:
            message = f"{_PLAIN[error['type']]} (not {error['input']!r})"
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
        line = line_of(error["loc"])
        at = f"line {line}: " if line else ""
        if not loc and _KEYED.match(message):  # the message names its key path itself
            lines.append(f"  {at}{message}")
        else:
            lines.append(f"  {at}{key}: {message}")
    return "\n".join(lines)


def _line_finder(text: str) -> Any:
    """loc → the line of chatops.yaml it is on (the deepest part of it found), or None."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader) if text else None
    except yaml.YAMLError:
        root = None

    def line_of(loc: tuple[Any, ...]) -> int | None:
        node, line = root, None
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                found = [(k, v) for k, v in node.value if k.value == str(part)]
                if not found:
                    continue  # a union branch name, or a key that is missing
                key, node = found[0]
                line = key.start_mark.line + 1
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    break
                node = node.value[part]
                line = node.start_mark.line + 1
        return line

    return line_of


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at a location in the schema, by walking the models along `loc`."""
    model: Any = ConfigModel
    mapping_next = False
    for part in loc:
        if mapping_next:
            mapping_next = False
            continue
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = model.model_fields.get(str(part))
        if field is None:
            # a discriminated union branch name (e.g. "file") selects that model
            providers = {"env": EnvSecret, "file": FileSecret, "aws_secretsmanager": AwsSecret}
            if part not in providers:
                return []
            model = providers[part]
            continue
        model, mapping_next = _inner_model(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return sorted(model.model_fields)
    return []


def _inner_model(annotation: Any) -> tuple[Any, bool]:
    """The model a field holds, and whether it sits in a dict (so the next loc part is a key)."""
    import typing

    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (dict, Mapping):
        inner, _ = _inner_model(args[1]) if len(args) == 2 else (None, False)
        return inner, True
    if origin is list:
        return _inner_model(args[0])[0] if args else None, False
    if origin is typing.Annotated:
        return _inner_model(args[0])
    if args and origin is not None:  # Optional / Union: the first model among the members
        for arg in args:
            inner, in_dict = _inner_model(arg)
            if inner is not None:
                return inner, in_dict
        return None, False
    return annotation, False


def _resolve(base: Path, value: str) -> str:
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def _looks_local(repo: str) -> bool:
    return remote_location(repo) is None


def _secret_refs(
    base: Path, secrets: Mapping[str, EnvSecret | FileSecret | AwsSecret]
) -> tuple[SecretRef, ...]:
    refs = []
    for name, model in secrets.items():
        options = {k: v for k, v in model.model_dump(exclude={"provider"}).items() if v is not None}
        if isinstance(model, FileSecret):
            options["path"] = _resolve(base, model.path)
        refs.append(
            SecretRef(name=name, provider=model.provider, options=tuple(sorted(options.items())))
        )
    return tuple(refs)


def _build(path: Path, model: ConfigModel, settings: Settings) -> ConfigFile:
    base = path.resolve().parent
    environments = {
        name: Environment(
            name=name,
            runtime=env.runtime,
            network=env.network,
            deployers=frozenset([ANYONE] if env.deployers is None else env.deployers),
            approvers=frozenset(env.approvers),
            approvals=env.approvals,
            approval_ttl=timedelta(seconds=env.approval_ttl_seconds),
            promote_from=env.promote_from,
            soak=timedelta(seconds=env.soak_seconds),
            auto_rollback=env.auto_rollback,
            auto_rollback_window=timedelta(seconds=env.auto_rollback_window_seconds),
            rollback_approvals=env.rollback_approvals,
            strategy=Strategy(env.strategy),
            health_interval=timedelta(seconds=env.health_interval_seconds),
            unhealthy_threshold=env.unhealthy_threshold,
            auto_deploy=env.auto_deploy,
            poll_seconds=int(env.poll_seconds) if env.poll_seconds else None,
            timezone=env.timezone,
            docker_host=env.docker_host,
            build_docker_host=env.build_docker_host or model.build_docker_host,
            viewers=frozenset(env.viewers) if env.viewers is not None else None,
            channel=env.channel,
            freeze=tuple(FreezeRule(f.cron, timedelta(hours=f.duration_hours)) for f in env.freeze),
            verify=env.verify.spec() if env.verify else None,
            checks=env.checks.spec() if env.checks else None,
            environment_url=env.environment_url,
        )
        for name, env in model.environments.items()
    }
    bots = {}
    for name, bot in model.bots.items():
        wanted = bot.environments if bot.environments is not None else dict.fromkeys(environments)
        targets = {}
        for env_name, override in wanted.items():
            o = override or TargetModel()
            env_file = o.env_file or bot.env_file
            health = o.health or bot.health
            targets[env_name] = BotTarget(
                env=env_name,
                env_vars={**bot.env, **o.env},
                env_file=_resolve(base, env_file) if env_file else None,
                secrets=_secret_refs(base, {**bot.secrets, **o.secrets}),
                health=health.spec() if health else HealthSpec(),
                health_timeout=timedelta(
                    seconds=o.health_timeout_seconds or bot.health_timeout_seconds
                ),
                replicas=o.replicas or bot.replicas,
                build_args=dict(o.build_args),
                resources=(o.resources or bot.resources).limits(bot.resources),
            )
        bots[name] = Bot(
            name=name,
            repo=_resolve(base, bot.repo) if _looks_local(bot.repo) else bot.repo,
            branch=bot.branch,
            dockerfile=bot.dockerfile,
            context=bot.context,
            build_args=dict(bot.build_args),
            targets=targets,
            build_timeout=timedelta(seconds=bot.build_timeout_seconds),
            github=bot.github,
            gitlab=bot.gitlab,
            push_tags=bot.push_tags,
        )
    catalog = Catalog(
        environments=environments,
        bots=bots,
        admins=frozenset(model.slack.admins),
        channel=model.slack.channel,
        registry=model.registry,
        instance=model.instance,
        retention=RetentionPolicy(model.retention.releases, model.retention.audit_days),
    )
    database_url = settings.chatops_database_url or model.database_url or "sqlite:///chatops.db"
    return ConfigFile(
        path=path,
        catalog=catalog,
        database_url=_resolve_sqlite(base, database_url),
        workdir=Path(_resolve(base, model.workdir)),
        alert_labels=(model.alertmanager.bot_label, model.alertmanager.env_label),
        public_url=_env_public_url(settings) or model.public_url,
        web=model.web,
    )


def _env_public_url(settings: Settings) -> str | None:
    try:
        return _public_url(settings.chatops_public_url)
    except ValueError as exc:
        raise ConfigError(f"CHATOPS_PUBLIC_URL: {exc}") from None


def _resolve_sqlite(base: Path, url: str) -> str:
    """Relative SQLite paths are relative to the config file, like every other path in it."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
        return prefix + _resolve(base, url[len(prefix) :])
    return url


def environ(name: str) -> str | None:
    """One environment variable, for the few adapters configured by a variable the user names."""
    return os.environ.get(name)
