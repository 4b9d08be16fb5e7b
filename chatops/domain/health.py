"""Health of a running release: what the runtime observed, and the verdict chatops draws.

A single failed probe is noise; `threshold` failures in a row make an incident,
and one success ends it.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from chatops.domain.durations import format_duration

__all__ = [
    "GateState",
    "GateStep",
    "Health",
    "HealthGate",
    "Observation",
    "Verdict",
    "judge",
]


class Health(enum.StrEnum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    STARTING = "starting"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Observation:
    """What the runtime reported about one (bot, env) at one check."""

    health: Health
    running: bool = True
    release: str | None = None  # the chatops.release label of what actually runs
    restarts: int = 0
    exit_code: int | None = None
    oom_killed: bool = False
    detail: str = ""  # e.g. the last healthcheck output or probe error
    missing: bool = False  # no container/service at all

    @property
    def failing(self) -> bool:
        return (
            self.missing or not self.running or self.oom_killed or self.health is Health.UNHEALTHY
        )

    @property
    def overall(self) -> Health:
        """The one word for it: unhealthy whenever it is failing in any way."""
        return Health.UNHEALTHY if self.failing else self.health

    def explain(self) -> str:
        """One line saying what is wrong, for alerts and failure reasons."""
        if self.missing:
            return "the container is gone"
        parts: list[str] = []
        if not self.running:
            parts.append(
                "the container is not running"
                + (f" (exit code {self.exit_code})" if self.exit_code is not None else "")
            )
        if self.oom_killed:
            parts.append("it was killed for running out of memory (OOMKilled)")
        if self.health is Health.UNHEALTHY:
            parts.append("its health check fails")
        if self.detail:
            parts.append(self.detail)
        return "; ".join(parts) or f"health is {self.health}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judgement after one more observation."""

    failures_in_a_row: int
    incident: bool  # failing long enough to tell people
    recovered: bool  # it was an incident and the check passes again
    restarted: bool  # the runtime restarted it since the last check


def judge(
    observation: Observation,
    *,
    failures_before: int,
    restarts_before: int,
    threshold: int,
) -> Verdict:
    """Fold one observation into the running count of failures.

    Args:
        observation: the latest check.
        failures_before: consecutive failing checks before this one.
        restarts_before: the restart count seen at the previous check.
        threshold: consecutive failures that make an incident (at least 1).
    """
    restarted = observation.restarts > restarts_before
    failing = observation.failing or restarted
    failures = failures_before + 1 if failing else 0
    # a container that is gone or stopped is no flaky probe: it is an incident at once
    down = observation.missing or not observation.running
    return Verdict(
        failures_in_a_row=failures,
        incident=failing and (down or failures >= max(1, threshold)),
        recovered=not failing and failures_before >= max(1, threshold),
        restarted=restarted,
    )


class GateState(enum.StrEnum):
    WAITING = "waiting"
    PASSED = "passed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class GateStep:
    """Where the health gate stands after one more observation; `why` says why it failed."""

    state: GateState
    why: str = ""


@dataclass(frozen=True, slots=True)
class HealthGate:
    """The health gate of a release just started: healthy, or up long enough without a check.

    The runtime hands the gate a fresh container (or service spec), so any restart of it
    is a crash: a process that exits at once may be seen `running` between its restarts.

    Args:
        deadline: when waiting ends in failure.
        settle: how long a release without a health check of its own must stay up.
        fails_fast: an unhealthy verdict of the image's own HEALTHCHECK ends the gate at
            once (an HTTP probe may fail while the bot still starts).
        settles: running counts as healthy (`health: {none: true}`).
        up_since: when it was first seen up with nothing to say against it.
    """

    deadline: datetime
    timeout: timedelta
    settle: timedelta
    fails_fast: bool = True
    settles: bool = False
    up_since: datetime | None = None

    def judge(self, observation: Observation, now: datetime) -> tuple[HealthGate, GateStep]:
        """Fold one observation into the gate."""
        if observation.missing or not observation.running or observation.oom_killed:
            return self, GateStep(GateState.FAILED, f"did not stay up: {observation.explain()}")
        if observation.restarts > 0:
            times = "once" if observation.restarts == 1 else f"{observation.restarts} times"
            return self, GateStep(
                GateState.FAILED, f"did not stay up: it crashed and was restarted {times}"
            )
        settling = self.settles or observation.health is Health.UNKNOWN
        if observation.health is Health.HEALTHY and not settling:
            return self, GateStep(GateState.PASSED)
        gate = self
        if settling:
            gate = dataclasses.replace(self, up_since=self.up_since or now)
            if now - (gate.up_since or now) >= self.settle:
                return gate, GateStep(GateState.PASSED)
        elif observation.health is Health.UNHEALTHY and self.fails_fast:
            return gate, GateStep(
                GateState.FAILED, f"failed its health check: {observation.detail}"
            )
        if now >= self.deadline:
            detail = f"; {observation.detail}" if observation.detail else ""
            return gate, GateStep(
                GateState.FAILED,
                f"was not healthy within {format_duration(self.timeout)} "
                f"(health: {observation.health}{detail})",
            )
        return gate, GateStep(GateState.WAITING)
