"""Which exclusive slots each deployment state holds (DESIGN §1): the whole table."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chatops.domain.deployment import Deployment, Kind, State
from chatops.domain.slots import Slot, slots_held

S = State
RUNNING = {Slot.RUNNING: "bot/prod"}

EXPECTED: dict[State, dict[Slot, str]] = {
    S.PENDING_APPROVAL: {Slot.PENDING: "bot/prod"},
    S.QUEUED: RUNNING,
    S.BUILDING: {**RUNNING, Slot.BUILD: "bot"},
    S.DEPLOYING: RUNNING,
    S.VERIFYING: RUNNING,
    S.LIVE: {},
    S.SUPERSEDED: {},
    S.FAILED: {},
    S.REJECTED: {},
    S.EXPIRED: {},
}


def _deployment(state: State) -> Deployment:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Deployment(
        bot="bot",
        env="prod",
        kind=Kind.DEPLOY,
        state=state,
        requested_by="U1",
        requested_at=at,
        updated_at=at,
    )


def test_the_table_covers_every_state() -> None:
    assert set(EXPECTED) == set(State)


@pytest.mark.parametrize("state", list(State))
def test_slots_held(state: State) -> None:
    assert slots_held(_deployment(state)) == EXPECTED[state]
