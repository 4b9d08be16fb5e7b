"""The health gate of a release just started: what passes it, what fails it, and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chatops.domain.health import GateState, Health, HealthGate, Observation

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def gate(**changes: object) -> HealthGate:
    values: dict[str, object] = {
        "deadline": T0 + timedelta(seconds=60),
        "timeout": timedelta(seconds=60),
        "settle": timedelta(seconds=1),
    }
    values.update(changes)
    return HealthGate(**values)  # type: ignore[arg-type]


def run(the_gate: HealthGate, steps: list[tuple[float, Observation]]) -> tuple[GateState, str]:
    """Feed observations at T0 + seconds; the state after the last one (or the first end)."""
    for seconds, observation in steps:
        the_gate, step = the_gate.judge(observation, T0 + timedelta(seconds=seconds))
        if step.state is not GateState.WAITING:
            return step.state, step.why
    return GateState.WAITING, ""


HEALTHY = Observation(health=Health.HEALTHY)
STARTING = Observation(health=Health.STARTING)
NO_CHECK = Observation(health=Health.UNKNOWN)


@pytest.mark.parametrize(
    ("observation", "why"),
    [
        (Observation(health=Health.UNKNOWN, running=False, missing=True), "the container is gone"),
        (Observation(health=Health.UNKNOWN, running=False, exit_code=1), "exit code 1"),
        (Observation(health=Health.HEALTHY, oom_killed=True), "OOMKilled"),
        # up at this instant, yet it exited and was restarted in between: a crash loop
        (Observation(health=Health.UNKNOWN, restarts=1), "restarted once"),
        (Observation(health=Health.HEALTHY, restarts=3), "restarted 3 times"),
    ],
)
def test_a_release_that_does_not_stay_up_fails_at_once(observation: Observation, why: str) -> None:
    state, reason = run(gate(), [(0, observation)])

    assert state is GateState.FAILED
    assert reason.startswith("did not stay up")
    assert why in reason


def test_a_release_with_its_own_health_check_passes_once_healthy() -> None:
    assert run(gate(), [(0, STARTING), (1, STARTING)]) == (GateState.WAITING, "")
    assert run(gate(), [(0, STARTING), (2, HEALTHY)])[0] is GateState.PASSED


def test_without_a_health_check_it_must_stay_up_for_the_settle_time() -> None:
    assert run(gate(), [(0, NO_CHECK), (0.5, NO_CHECK)])[0] is GateState.WAITING
    assert run(gate(), [(0, NO_CHECK), (0.5, NO_CHECK), (1.0, NO_CHECK)])[0] is GateState.PASSED


def test_a_crash_between_two_looks_fails_the_settle_without_a_health_check() -> None:
    state, why = run(gate(), [(0, NO_CHECK), (0.5, Observation(Health.UNKNOWN, restarts=1))])

    assert state is GateState.FAILED
    assert "restarted" in why


def test_health_none_settles_even_when_the_image_reports_healthy() -> None:
    settling = gate(settles=True)

    assert run(settling, [(0, HEALTHY)])[0] is GateState.WAITING
    assert run(settling, [(0, HEALTHY), (1, HEALTHY)])[0] is GateState.PASSED


def test_an_unhealthy_image_check_fails_at_once_but_an_http_probe_may_wait() -> None:
    unhealthy = Observation(health=Health.UNHEALTHY, detail="curl: connection refused")

    state, why = run(gate(), [(0, unhealthy)])
    assert state is GateState.FAILED
    assert why == "failed its health check: curl: connection refused"

    assert run(gate(fails_fast=False), [(0, unhealthy), (30, unhealthy)])[0] is GateState.WAITING


def test_waiting_past_the_deadline_fails_with_the_last_health() -> None:
    state, why = run(gate(fails_fast=False), [(0, STARTING), (60, STARTING)])

    assert state is GateState.FAILED
    assert why == "was not healthy within 1m (health: starting)"
