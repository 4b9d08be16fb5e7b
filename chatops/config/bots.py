"""The `bots:` section of chatops.yaml: a bot, its secrets, limits and per-environment settings."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from chatops.config.fields import ForgeProject, Seconds, StrictModel
from chatops.domain.catalog import HealthKind, HealthSpec, Resources
from chatops.domain.names import parse_memory
from chatops.errors import BadInput

__all__ = [
    "AwsSecret",
    "BotModel",
    "EnvSecret",
    "FileSecret",
    "HealthModel",
    "ResourcesModel",
    "SecretModel",
    "TargetModel",
]


class HealthModel(StrictModel):
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


class EnvSecret(StrictModel):
    """A secret from an environment variable of the chatops process."""

    provider: Literal["env"]
    var: str | None = None  # defaults to the secret's own name


class FileSecret(StrictModel):
    """A secret read from a file (e.g. a mounted Docker/Kubernetes secret)."""

    provider: Literal["file"]
    path: str


class AwsSecret(StrictModel):
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


class ResourcesModel(StrictModel):
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


class TargetModel(StrictModel):
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


class BotModel(StrictModel):
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
