"""Which releases `retention` lets go: never what is live, was live before, or is on its way."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chatops.domain.deployment import Deployment, Kind, State
from chatops.domain.retention import releases_to_prune

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def d(version: int, state: State, previous: int | None = None) -> Deployment:
    return Deployment(
        bot="mybot",
        env="prod",
        kind=Kind.DEPLOY,
        state=state,
        requested_by="UDEV",
        requested_at=NOW,
        updated_at=NOW,
        version=version,
        previous_version=previous,
    )


def test_only_the_newest_are_kept_when_nothing_else_needs_the_old_ones() -> None:
    assert releases_to_prune(range(1, 8), keep=3, histories=[]) == [1, 2, 3, 4]
    assert releases_to_prune([], keep=3, histories=[]) == []
    assert releases_to_prune([1, 2], keep=5, histories=[]) == []


def test_the_live_the_previous_live_and_the_pending_releases_are_kept() -> None:
    prod = [
        d(5, State.PENDING_APPROVAL),
        d(2, State.LIVE, previous=3),  # a rollback from 3 to 2
        d(3, State.SUPERSEDED),
        d(2, State.SUPERSEDED),
        d(1, State.SUPERSEDED),
    ]
    staging = [d(9, State.BUILDING), d(4, State.LIVE), d(1, State.FAILED)]

    pruned = releases_to_prune(range(1, 11), keep=1, histories=[prod, staging])

    assert pruned == [1, 6, 7, 8]


@pytest.mark.parametrize("state", [State.QUEUED, State.DEPLOYING, State.VERIFYING])
def test_a_release_in_progress_is_kept(state: State) -> None:
    assert releases_to_prune([1, 2], keep=1, histories=[[d(1, state)]]) == []


def test_failed_rejected_and_expired_releases_go_like_any_old_one() -> None:
    history = [d(4, State.LIVE), d(3, State.FAILED), d(2, State.REJECTED), d(1, State.EXPIRED)]
    assert releases_to_prune(range(1, 5), keep=1, histories=[history]) == [1, 2, 3]
