"""Health of a running release: what the runtime observed, and the verdict chatops draws.

A single failed probe is noise; `threshold` failures in a row make an incident,
and one success ends it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Health", "Observation", "Verdict", "judge"]


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
