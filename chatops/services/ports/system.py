"""Small ports of the surroundings: time, secrets, people, calendar, processes, metrics."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from chatops.domain.catalog import Bot, BotTarget, Environment
from chatops.domain.deployment import Deployment
from chatops.domain.policy import FreezeWindow

__all__ = [
    "Clock",
    "Directory",
    "FreezeCalendar",
    "Launcher",
    "Metrics",
    "ProcessTable",
    "Secrets",
]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def sleep(self, seconds: float) -> None: ...


class Secrets(Protocol):
    def resolve(self, bot: Bot, target: BotTarget) -> dict[str, str]:
        """The secret variables of a bot in an environment (env_file and `secrets:`).

        Raises:
            ConfigError: a file or provider is missing or unreadable (without the value).
        """
        ...


class Directory(Protocol):
    def expand(self, entries: Iterable[str]) -> frozenset[str]:
        """User ids, with user groups (`S…`) replaced by their members."""
        ...


class FreezeCalendar(Protocol):
    def open_window(self, env: Environment, now: datetime) -> FreezeWindow | None:
        """The freeze window of `env` open at `now`, if any."""
        ...


class ProcessTable(Protocol):
    def me(self) -> str:
        """This process's owner token, unique across hosts, reboots and pid reuse."""
        ...

    def alive(self, owner: str) -> bool | None:
        """Whether the process behind `owner` still runs; None when it cannot tell."""
        ...


class Launcher(Protocol):
    def launch(self, deployment_id: int) -> None:
        """Run a queued deployment: here and now (CLI) or on a worker thread (serve)."""
        ...


class Metrics(Protocol):
    """Counters and timings of chatops itself (served at /metrics)."""

    def deployment_finished(self, deployment: Deployment, *, seconds: float) -> None: ...

    def build_finished(self, bot: str, *, seconds: float, ok: bool) -> None: ...

    def live_release(self, bot: str, env: str, version: int | None) -> None: ...

    def alerts_firing(self, bot: str, env: str, count: int) -> None: ...

    def health_check(self, bot: str, env: str, *, seconds: float) -> None: ...

    def measured(self, bot: str, env: str, check: str, verdict: str, *, seconds: float) -> None:
        """One verification measurement (DESIGN §10) and how long its query took."""
        ...
