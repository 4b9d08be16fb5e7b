"""What chatops manages: bots, environments and each bot's settings per environment.

These are the validated, merged values of chatops.yaml; `chatops.config` builds
them, everything else reads them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from chatops.domain.retention import RetentionPolicy
from chatops.domain.verification import ChecksSpec, VerifySpec
from chatops.errors import NotFound

__all__ = [
    "ANYONE",
    "Bot",
    "BotTarget",
    "Catalog",
    "Environment",
    "FreezeRule",
    "HealthKind",
    "HealthSpec",
    "Resources",
    "SecretRef",
    "Strategy",
]

ANYONE = "*"


class HealthKind(enum.StrEnum):
    """How a running release proves it is healthy."""

    DOCKER = "docker"  # the image's own HEALTHCHECK, as the engine reports it
    HTTP = "http"  # chatops probes a URL
    NONE = "none"  # running counts as healthy


class Strategy(enum.StrEnum):
    """How a new release replaces the running one."""

    STOP_FIRST = "stop-first"
    START_FIRST = "start-first"


@dataclass(frozen=True, slots=True)
class HealthSpec:
    kind: HealthKind = HealthKind.DOCKER
    url: str | None = None


@dataclass(frozen=True, slots=True)
class FreezeRule:
    """A recurring window in which deployments are refused."""

    cron: str
    duration: timedelta


@dataclass(frozen=True, slots=True)
class SecretRef:
    """One secret a bot needs: the variable name and where its value comes from."""

    name: str
    provider: str
    options: tuple[tuple[str, str], ...] = ()

    def option(self, key: str) -> str | None:
        return dict(self.options).get(key)


@dataclass(frozen=True, slots=True)
class Environment:
    name: str
    runtime: str = "docker"
    network: str | None = None
    deployers: frozenset[str] = frozenset({ANYONE})
    approvers: frozenset[str] = frozenset()
    approvals: int = 0
    approval_ttl: timedelta = timedelta(hours=1)
    promote_from: str | None = None
    soak: timedelta = timedelta(0)
    auto_rollback: bool = False
    auto_rollback_window: timedelta = timedelta(seconds=600)
    rollback_approvals: int = 0
    strategy: Strategy = Strategy.STOP_FIRST
    health_interval: timedelta = timedelta(seconds=30)
    unhealthy_threshold: int = 2
    auto_deploy: str | None = None
    poll_seconds: int | None = None
    timezone: str = "UTC"
    docker_host: str | None = None
    build_docker_host: str | None = None  # None: images are built where they run
    viewers: frozenset[str] | None = None  # None: the deployers and approvers
    channel: str | None = None
    freeze: tuple[FreezeRule, ...] = ()
    # DESIGN §10: evidence needed before what runs here moves on
    verify: VerifySpec | None = None
    checks: ChecksSpec | None = None
    environment_url: str | None = None  # for forge deployment statuses; {bot} filled in


@dataclass(frozen=True, slots=True)
class Resources:
    """Limits of each container or task of a bot (`resources:`); None: no limit."""

    cpus: float | None = None  # CPUs, e.g. 0.5
    memory: int | None = None  # bytes


@dataclass(frozen=True, slots=True)
class BotTarget:
    """A bot's settings in one environment: the bot's own, overridden by `environments.<env>`."""

    env: str
    env_vars: Mapping[str, str] = field(default_factory=dict)
    env_file: str | None = None
    secrets: tuple[SecretRef, ...] = ()
    health: HealthSpec = HealthSpec()
    health_timeout: timedelta = timedelta(seconds=60)
    replicas: int = 1
    build_args: Mapping[str, str] = field(default_factory=dict)
    resources: Resources = Resources()


@dataclass(frozen=True, slots=True)
class Bot:
    name: str
    repo: str
    branch: str = "main"
    dockerfile: str = "Dockerfile"
    context: str = "."
    build_args: Mapping[str, str] = field(default_factory=dict)
    targets: Mapping[str, BotTarget] = field(default_factory=dict)
    build_timeout: timedelta = timedelta(seconds=1800)  # a longer build is stopped
    github: str | None = None  # owner/name: CI checks and deployment statuses (§10)
    gitlab: str | None = None  # group/name
    push_tags: bool = True  # False: tags stay in chatops' mirror (no push rights needed)


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every bot and environment chatops knows, with lookups that explain misses."""

    environments: Mapping[str, Environment]
    bots: Mapping[str, Bot]
    admins: frozenset[str] = frozenset()
    channel: str | None = None
    registry: str | None = None
    instance: str = "default"  # namespaces what chatops makes on a shared engine (DESIGN §4)
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)

    def bot(self, name: str) -> Bot:
        try:
            return self.bots[name]
        except KeyError:
            known = ", ".join(sorted(self.bots)) or "none configured"
            raise NotFound(
                f"unknown bot {name!r}",
                hint=f"known bots: {known}; add it under `bots:` in chatops.yaml",
            ) from None

    def environment(self, name: str) -> Environment:
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(sorted(self.environments)) or "none configured"
            raise NotFound(
                f"unknown environment {name!r}", hint=f"known environments: {known}"
            ) from None

    def target(self, bot: str, env: str) -> tuple[Bot, Environment, BotTarget]:
        """The bot, the environment and the bot's settings there.

        Raises:
            NotFound: the bot or environment is unknown, or the bot is not configured for it.
        """
        the_bot = self.bot(bot)
        environment = self.environment(env)
        try:
            return the_bot, environment, the_bot.targets[env]
        except KeyError:
            known = ", ".join(sorted(the_bot.targets)) or "none"
            raise NotFound(
                f"bot {bot!r} is not configured for environment {env!r}",
                hint=f"its environments: {known}; "
                f"add `bots.{bot}.environments.{env}` in chatops.yaml",
            ) from None

    def channel_for(self, env: str) -> str | None:
        environment = self.environments.get(env)
        return (environment.channel if environment else None) or self.channel

    def downstream_of(self, env: str) -> list[Environment]:
        """Environments that take promotions from `env`."""
        return [e for e in self.environments.values() if e.promote_from == env]
