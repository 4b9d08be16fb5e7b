"""The status reads (plain rows for status and the web overview) on real SQLite and
PostgreSQL give the same values as the repositories, times in UTC."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from chatops.adapters.db import schema
from chatops.adapters.db.uow import SqlStore
from chatops.domain.alerts import Alert
from chatops.domain.deployment import ACTIVE_STATES, Deployment, Kind, State
from chatops.domain.policy import Lock, LockKind
from chatops.services.status_reads import Spell

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'chatops.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    schema.upgrade(url)
    found = SqlStore(url)
    yield found
    found.dispose()


def _deployment(bot: str, env: str, state: State, minutes: int, **more: object) -> Deployment:
    at = T0 + timedelta(minutes=minutes)
    return Deployment(
        bot=bot,
        env=env,
        kind=Kind.DEPLOY,
        state=state,
        requested_by="UDEV",
        requested_at=at,
        updated_at=at,
        **more,  # type: ignore[arg-type]
    )


def test_facts_are_what_the_repositories_read(store: SqlStore) -> None:
    with store.uow() as uow:
        first = uow.deployments.add(
            _deployment("a", "staging", State.SUPERSEDED, 0, version=1, live_at=T0)
        )
        live = uow.deployments.add(
            _deployment(
                "a", "staging", State.LIVE, 1, version=2, live_at=T0, log_tail="built", commit="c"
            )
        )
        uow.deployments.add(_deployment("a", "prod", State.PENDING_APPROVAL, 2, version=2))
        uow.deployments.add(_deployment("b", "staging", State.BUILDING, 3, owner="me"))
        uow.locks.put(Lock("a", "prod", "ULEAD", "hold", T0, kind=LockKind.ROLLBACK_HOLD))
        uow.locks.put(Lock("b", "prod", "ULEAD", "busy", T0, expires_at=T0 + timedelta(hours=1)))
        alert = uow.alerts.add(Alert("a", "staging", "alertmanager", "f1", "down", T0, T0))
        uow.commit()
    with store.uow() as uow:
        facts = uow.status.facts()
        assert facts.live == uow.deployments.in_state([State.LIVE]) == [live]
        assert facts.active == uow.deployments.in_state(ACTIVE_STATES)
        assert [d.state for d in facts.active] == [State.PENDING_APPROVAL, State.BUILDING]
        assert facts.locks == uow.locks.list()
        assert facts.open_alerts == uow.alerts.open_alerts() == [alert]
        assert facts.live[0].live_at is not None and facts.live[0].live_at.tzinfo is UTC
        assert facts.live[0].live_at == T0  # the same instant, in UTC
        assert [d.bot for d in uow.status.facts("b").active] == ["b"]
        spells = uow.status.runs_before("staging", ["a", "b"], limit=50, leave_out=[live.id or 0])
        assert spells == [Spell(first.id or 0, "a", 1, T0)]


def test_what_this_unit_of_work_wrote_is_read_back(store: SqlStore) -> None:
    with store.uow() as uow:
        added = uow.deployments.add(_deployment("a", "staging", State.QUEUED, 0))
        uow.deployments.save(replace(added, state=State.BUILDING))
        assert [d.state for d in uow.status.facts().active] == [State.BUILDING]
