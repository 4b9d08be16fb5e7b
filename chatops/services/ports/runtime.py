"""Ports where releases run, and what is measured of them: health, CI results, metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from chatops.domain.catalog import Bot, HealthSpec, Resources, Strategy
from chatops.domain.ci import CiResult
from chatops.domain.health import Health, Observation
from chatops.domain.names import DEFAULT_INSTANCE, unit_name
from chatops.domain.verification import Outcome

__all__ = ["CiChecks", "HealthProbe", "MetricQuery", "RunSpec", "Runtime"]


@dataclass(frozen=True, slots=True)
class RunSpec:
    """Everything a runtime needs to run one release of one bot in one environment."""

    bot: str
    env: str
    version: int
    image: str  # what to run: repo@digest or the image id
    image_name: str  # <registry>/[<instance>/]<bot>:v<N>, for people
    commit: str
    environment: Mapping[str, str] = field(default_factory=dict)  # secrets included
    network: str | None = None
    replicas: int = 1
    strategy: Strategy = Strategy.STOP_FIRST
    instance: str = DEFAULT_INSTANCE
    resources: Resources = field(default_factory=Resources)

    @property
    def name(self) -> str:
        return unit_name(self.bot, self.env, self.instance)


class Runtime(Protocol):
    """Where an environment runs its bots (one Docker Engine, or a Swarm)."""

    def start(self, spec: RunSpec) -> str:
        """Start `spec` beside or instead of what runs, per its strategy; return a handle.

        Raises:
            RuntimeFailure: the engine refused (bad image, name clash, engine down).
        """
        ...

    def observe(self, bot: str, env: str, handle: str | None = None) -> Observation:
        """What runs now: the candidate `handle`, or the committed one."""
        ...

    def commit(self, bot: str, env: str, handle: str) -> None:
        """The candidate is healthy: make it the one, and drop what it replaced."""
        ...

    def restore(self, bot: str, env: str, previous: RunSpec | None) -> None:
        """Undo an unfinished start: drop any candidate and run `previous` again (or nothing)."""
        ...

    def logs(self, bot: str, env: str, lines: int) -> str:
        """The last `lines` lines of output of what runs."""
        ...

    def remove(self, bot: str, env: str) -> None:
        """Stop and remove everything of (bot, env)."""
        ...

    def list_managed(self) -> Sequence[tuple[str, str, str | None, bool]]:
        """(bot, env, release label, running) of everything chatops runs on this engine."""
        ...


class HealthProbe(Protocol):
    def check(self, spec: HealthSpec) -> tuple[Health, str]:
        """Probe an HTTP health endpoint; the verdict and a short detail."""
        ...


class CiChecks(Protocol):
    def results(self, bot: Bot, sha: str) -> list[CiResult]:
        """The commit's CI results on the bot's forge.

        Raises:
            ConfigError: the bot names no forge.
            ForgeError: the forge did not answer, or refused.
        """
        ...


class MetricQuery(Protocol):
    def query(self, prometheus: str, query: str, *, timeout: float) -> Outcome:
        """An instant query's value, no data, or the error; never raises."""
        ...
