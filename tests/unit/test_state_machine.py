"""Every (state, event) pair of the deployment state machine: allowed ones and refused ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chatops.domain.deployment import (
    ACTIVE_STATES,
    ENDED_STATES,
    IN_PROGRESS_STATES,
    Deployment,
    Event,
    InvalidTransition,
    Kind,
    State,
    next_state,
)

S, E = State, Event

# The whole table of DESIGN §1: (state, event) → next state; every pair not listed is refused.
EXPECTED: dict[tuple[State, Event], State] = {
    (S.PENDING_APPROVAL, E.APPROVED): S.QUEUED,
    (S.PENDING_APPROVAL, E.REJECTED): S.REJECTED,
    (S.PENDING_APPROVAL, E.EXPIRED): S.EXPIRED,
    (S.PENDING_APPROVAL, E.SUPERSEDED): S.SUPERSEDED,
    (S.QUEUED, E.BUILD): S.BUILDING,
    (S.QUEUED, E.DEPLOY): S.DEPLOYING,
    (S.QUEUED, E.FAIL): S.FAILED,
    (S.BUILDING, E.DEPLOY): S.DEPLOYING,
    (S.BUILDING, E.FAIL): S.FAILED,
    (S.DEPLOYING, E.VERIFY): S.VERIFYING,
    (S.DEPLOYING, E.FAIL): S.FAILED,
    (S.VERIFYING, E.HEALTHY): S.LIVE,
    (S.VERIFYING, E.FAIL): S.FAILED,
    (S.LIVE, E.SUPERSEDED): S.SUPERSEDED,
}

ALL_PAIRS = [(state, event) for state in State for event in Event]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("state", "event"), ALL_PAIRS, ids=[f"{s}-{e}" for s, e in ALL_PAIRS])
def test_every_state_event_pair(state: State, event: Event) -> None:
    if (state, event) in EXPECTED:
        assert next_state(state, event) is EXPECTED[(state, event)]
    else:
        with pytest.raises(InvalidTransition):
            next_state(state, event)


@pytest.mark.parametrize("state", sorted(ENDED_STATES))
def test_ended_states_take_no_event(state: State) -> None:
    for event in Event:
        with pytest.raises(InvalidTransition):
            next_state(state, event)


def test_state_groups() -> None:
    assert {S.QUEUED, S.BUILDING, S.DEPLOYING, S.VERIFYING} == IN_PROGRESS_STATES
    assert IN_PROGRESS_STATES | {S.PENDING_APPROVAL} == ACTIVE_STATES
    assert S.LIVE not in ACTIVE_STATES and S.LIVE not in ENDED_STATES


def _deployment(state: State) -> Deployment:
    return Deployment(
        bot="b",
        env="e",
        kind=Kind.DEPLOY,
        state=state,
        requested_by="U",
        requested_at=T0,
        updated_at=T0,
        owner="me",
    )


def test_advance_stamps_times_and_releases_the_owner() -> None:
    later = T0 + timedelta(minutes=1)
    live = _deployment(S.VERIFYING).advance(E.HEALTHY, at=later)
    assert (live.state, live.live_at, live.healthy_since, live.finished_at) == (
        S.LIVE,
        later,
        later,
        None,
    )
    assert live.owner is None
    failed = _deployment(S.BUILDING).advance(E.FAIL, at=later, reason="boom")
    assert (failed.state, failed.finished_at, failed.reason) == (S.FAILED, later, "boom")
    building = _deployment(S.QUEUED).advance(E.BUILD, at=later)
    assert building.owner == "me" and building.finished_at is None
    superseded = live.advance(E.SUPERSEDED, at=later + timedelta(hours=1))
    assert superseded.finished_at == later + timedelta(hours=1)
    assert superseded.live_at == later
