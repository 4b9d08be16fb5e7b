"""The SQL store on real SQLite and PostgreSQL: round-trips, slots, races, leases, migrations."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from chatops.adapters.db import schema
from chatops.adapters.db.tables import Base
from chatops.adapters.db.uow import SqlStore, make_engine
from chatops.domain.alerts import Alert, AlertState
from chatops.domain.approvals import Decision, Vote
from chatops.domain.audit import AuditEvent, Outcome
from chatops.domain.deployment import Deployment, Kind, Release, State
from chatops.domain.policy import Lock, LockKind
from chatops.domain.verification import Measurement, Verdict, merge_tallies, tally
from chatops.errors import SchemaOutOfDate, StoreError
from chatops.services.ports import Conflict, MessageRef, SlotTaken

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
T0_PLUS2 = T0.astimezone(timezone(timedelta(hours=2)))  # the same instant, elsewhere


# ── fixtures and helpers ─────────────────────────────────────────────────────


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file (in a directory not made yet), or PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'chatops.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    schema.upgrade(db_url)
    store = SqlStore(db_url)
    yield store
    store.dispose()


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def deployment(**changes: Any) -> Deployment:
    fields: dict[str, Any] = {
        "bot": "mybot",
        "env": "staging",
        "kind": Kind.DEPLOY,
        "state": State.QUEUED,
        "requested_by": "U0DEV1",
        "requested_at": T0,
        "updated_at": T0,
    }
    return Deployment(**(fields | changes))


def add(store: SqlStore, *items: Deployment) -> list[Deployment]:
    with store.uow() as uow:
        added = [uow.deployments.add(item) for item in items]
        uow.commit()
    return added


def assert_utc(*values: datetime | None) -> None:
    for value in values:
        assert value is not None
        assert value.tzinfo is not None
        assert value.utcoffset() == timedelta(0)


# ── round-trips ──────────────────────────────────────────────────────────────


def test_a_deployment_round_trips_with_every_field(store: SqlStore) -> None:
    (source,) = add(store, deployment(env="staging", state=State.LIVE, live_at=T0))
    full = deployment(
        env="prod",
        kind=Kind.PROMOTE,
        state=State.VERIFYING,
        requested_at=T0_PLUS2,
        updated_at=at(1),
        ref="feature-x",
        commit="a" * 40,
        version=3,
        previous_version=2,
        source_deployment_id=source.id,
        reason="because",
        force_reason="hotfix",
        request_reason="the login page is blank",
        owner="host:123:abc",
        heartbeat_at=at(2),
        live_at=at(3),
        finished_at=at(4),
        healthy_since=at(5),
        soak_noticed_at=at(6),
        rolled_back=True,
        log_tail="step 1\nstep 2 ✓",
    )
    (added,) = add(store, full)
    assert added.id is not None
    assert added.id != source.id
    assert added == dataclasses.replace(full, id=added.id)

    with store.uow() as uow:
        got = uow.deployments.get(added.id)
    assert got == added
    assert got is not None
    assert_utc(got.requested_at, got.updated_at, got.heartbeat_at, got.live_at)
    assert_utc(got.finished_at, got.healthy_since, got.soak_noticed_at)
    assert got.requested_at == T0
    assert isinstance(got.state, State)
    assert isinstance(got.kind, Kind)

    changed = dataclasses.replace(
        added,
        state=State.FAILED,
        updated_at=at(9),
        reason="health check failed",
        force_reason=None,
        owner=None,
        heartbeat_at=None,
        rolled_back=False,
        log_tail="",
        version=4,
    )
    with store.uow() as uow:
        assert uow.deployments.save(changed) == changed
        uow.commit()
    with store.uow() as uow:
        assert uow.deployments.get(added.id) == changed
        assert uow.deployments.get(added.id + 100) is None
        assert uow.deployments.get_for_update(added.id) == changed


def test_a_release_round_trips_and_is_unique_per_version_and_commit(store: SqlStore) -> None:
    (owner,) = add(store, deployment())
    release = Release(
        bot="mybot",
        version=1,
        commit="1" * 40,
        tag="mybot/v1",
        image="127.0.0.1:5000/mybot:v1",
        image_id="sha256:" + "b" * 64,
        digest="sha256:" + "c" * 64,
        created_by="U0DEV1",
        created_at=T0_PLUS2,
        deployment_id=owner.id,
        source="https://git.example.com/acme/mybot.git",
        subject="first version",
    )
    with store.uow() as uow:
        assert uow.releases.highest_version("mybot") == 0
        assert uow.releases.add(release) == release
        uow.releases.add(
            dataclasses.replace(release, version=2, commit="2" * 40, deployment_id=None)
        )
        uow.commit()

    with store.uow() as uow:
        got = uow.releases.get("mybot", 1)
        assert got == release
        assert got is not None
        assert_utc(got.created_at)
        assert uow.releases.for_commit("mybot", "2" * 40) == dataclasses.replace(
            release, version=2, commit="2" * 40, deployment_id=None
        )
        assert uow.releases.get("mybot", 3) is None
        assert uow.releases.get("otherbot", 1) is None
        assert uow.releases.for_commit("otherbot", "1" * 40) is None
        assert [r.version for r in uow.releases.list("mybot")] == [2, 1]
        assert [r.version for r in uow.releases.list("mybot", limit=1)] == [2]
        assert uow.releases.highest_version("mybot") == 2
        assert uow.releases.highest_version("otherbot") == 0

        with pytest.raises(StoreError):
            uow.releases.add(dataclasses.replace(release, commit="9" * 40))  # same version
        with pytest.raises(StoreError):
            uow.releases.add(dataclasses.replace(release, version=9))  # same commit
        # The transaction survives the refusals.
        uow.releases.add(dataclasses.replace(release, bot="otherbot"))
        uow.commit()
    with store.uow() as uow:
        assert uow.releases.highest_version("otherbot") == 1
        assert uow.releases.highest_version("mybot") == 2


def test_votes_keep_the_first_time_of_a_repeated_decision(store: SqlStore) -> None:
    (pending,) = add(store, deployment(state=State.PENDING_APPROVAL))
    assert pending.id is not None
    with store.uow() as uow:
        uow.votes.put(Vote(pending.id, "U0LEAD1", Decision.APPROVE, T0_PLUS2))
        uow.votes.put(Vote(pending.id, "U0LEAD1", Decision.APPROVE, at(5)))  # a second click
        uow.votes.put(Vote(pending.id, "U0LEAD2", Decision.APPROVE, at(1)))
        uow.commit()
    with store.uow() as uow:
        votes = uow.votes.list(pending.id)
    assert votes == [
        Vote(pending.id, "U0LEAD1", Decision.APPROVE, T0),
        Vote(pending.id, "U0LEAD2", Decision.APPROVE, at(1)),
    ]
    assert_utc(*(vote.at for vote in votes))
    assert all(isinstance(vote.decision, Decision) for vote in votes)

    with store.uow() as uow:
        uow.votes.put(Vote(pending.id, "U0LEAD1", Decision.REJECT, at(7)))  # a change of mind
        assert uow.votes.list(pending.id)[-1] == Vote(pending.id, "U0LEAD1", Decision.REJECT, at(7))
        assert uow.votes.list(pending.id + 1) == []
        uow.commit()
    with store.uow() as uow:
        assert len(uow.votes.list(pending.id)) == 2


def test_a_lock_round_trips_and_a_new_one_replaces_it(store: SqlStore) -> None:
    lock = Lock(
        bot="mybot",
        env="prod",
        held_by="U0LEAD1",
        reason="investigating",
        created_at=T0_PLUS2,
        expires_at=at(120),
        kind=LockKind.ROLLBACK_HOLD,
    )
    with store.uow() as uow:
        assert uow.locks.get("mybot", "prod") is None
        uow.locks.put(lock)
        uow.locks.put(
            dataclasses.replace(lock, env="staging", expires_at=None, kind=LockKind.MANUAL)
        )
        uow.commit()
    with store.uow() as uow:
        got = uow.locks.get("mybot", "prod")
        assert got == lock
        assert got is not None
        assert_utc(got.created_at, got.expires_at)
        assert isinstance(got.kind, LockKind)
        replaced = dataclasses.replace(
            lock, held_by="U0LEAD2", reason="again", kind=LockKind.MANUAL
        )
        uow.locks.put(replaced)
        assert uow.locks.get("mybot", "prod") == replaced
        assert [(x.bot, x.env) for x in uow.locks.list()] == [
            ("mybot", "prod"),
            ("mybot", "staging"),
        ]
        assert uow.locks.delete("mybot", "staging") is True
        assert uow.locks.delete("mybot", "staging") is False
        uow.commit()
    with store.uow() as uow:
        assert uow.locks.list() == [replaced]


def test_the_audit_log_lists_newest_first_with_filters(store: SqlStore) -> None:
    event = AuditEvent(
        at=T0_PLUS2,
        actor="U0DEV1",
        action="deploy",
        outcome=Outcome.REFUSED,
        source="slack",
        bot="mybot",
        env="prod",
        deployment_id=999,  # refusals may name a deployment that does not exist
        detail="locked by U0LEAD1",
    )
    with store.uow() as uow:
        uow.audit.add(event)
        uow.audit.add(AuditEvent(at=at(1), actor="U0DEV2", action="status", outcome=Outcome.OK))
        uow.audit.add(dataclasses.replace(event, at=at(2), deployment_id=7, outcome=Outcome.OK))
        uow.commit()
    with store.uow() as uow:
        everything = uow.audit.list()
        assert [e.at for e in everything] == [at(2), at(1), T0]
        first = everything[-1]
        assert first.id is not None
        assert first == dataclasses.replace(event, id=first.id)
        assert_utc(first.at)
        assert isinstance(first.outcome, Outcome)
        assert everything[1].bot is None
        assert everything[1].source == "cli"
        assert [e.at for e in uow.audit.list(bot="mybot")] == [at(2), T0]
        assert [e.at for e in uow.audit.list(deployment_id=999)] == [T0]
        assert [e.at for e in uow.audit.list(bot="mybot", deployment_id=7)] == [at(2)]
        assert [e.at for e in uow.audit.list(limit=1)] == [at(2)]
        assert uow.audit.list(bot="otherbot") == []


def test_an_alert_round_trips_and_open_alerts_leave_out_resolved_ones(store: SqlStore) -> None:
    (live,) = add(store, deployment(state=State.LIVE))
    alert = Alert(
        bot="mybot",
        env="staging",
        source="alertmanager",
        fingerprint="abc123",
        summary="mybot is down",
        first_seen=T0_PLUS2,
        last_seen=at(1),
        state=AlertState.ACKNOWLEDGED,
        deployment_id=live.id,
        version=3,
        detail="HTTP 500",
        count=4,
        acked_by="U0LEAD1",
        acked_at=at(2),
        resolved_at=None,
        action_taken="rolled back automatically to v2",
    )
    with store.uow() as uow:
        added = uow.alerts.add(alert)
        other = uow.alerts.add(
            Alert(
                bot="otherbot",
                env="prod",
                source="chatops",
                fingerprint="health",
                summary="unhealthy",
                first_seen=at(3),
                last_seen=at(3),
            )
        )
        uow.commit()
    assert added.id is not None
    assert other.id is not None
    assert added == dataclasses.replace(alert, id=added.id)

    with store.uow() as uow:
        got = uow.alerts.get(added.id)
        assert got == added
        assert got is not None
        assert_utc(got.first_seen, got.last_seen, got.acked_at)
        assert isinstance(got.state, AlertState)
        assert uow.alerts.open_for("mybot", "staging", "abc123") == added
        assert uow.alerts.open_for("mybot", "prod", "abc123") is None
        assert [a.id for a in uow.alerts.open_alerts()] == [added.id, other.id]
        assert [a.id for a in uow.alerts.open_alerts("otherbot")] == [other.id]

        resolved = uow.alerts.save(added.resolve(at=at(10)).repeat(at=at(11), detail="gone"))
        assert resolved.state is AlertState.RESOLVED
        assert resolved.count == 5
        uow.commit()
    with store.uow() as uow:
        assert uow.alerts.get(added.id) == resolved
        assert uow.alerts.open_for("mybot", "staging", "abc123") is None
        assert [a.id for a in uow.alerts.open_alerts()] == [other.id]
        assert uow.alerts.get(other.id + 100) is None


def test_chat_messages_are_found_both_ways(store: SqlStore) -> None:
    first = MessageRef(channel="C0DEPLOYS", ts="1700000000.000100")
    with store.uow() as uow:
        assert uow.messages.get("deployment:1") is None
        uow.messages.put("deployment:1", first)
        uow.messages.put("alert:1", MessageRef(channel="C0DEPLOYS", ts="1700000000.000200"))
        uow.commit()
    with store.uow() as uow:
        assert uow.messages.get("deployment:1") == first
        assert uow.messages.subject_of(first) == "deployment:1"
        assert uow.messages.subject_of(MessageRef(channel="C0OTHER", ts=first.ts)) is None
        moved = MessageRef(channel="C0PRODOPS", ts="1700000001.000100")
        uow.messages.put("deployment:1", moved)
        assert uow.messages.get("deployment:1") == moved
        uow.commit()
    with store.uow() as uow:
        assert uow.messages.get("deployment:1") == moved
        assert uow.messages.subject_of(first) is None
        assert uow.messages.subject_of(moved) == "deployment:1"


# ── one deployment at a time ─────────────────────────────────────────────────


def test_a_second_in_progress_deployment_of_one_bot_and_env_is_refused(store: SqlStore) -> None:
    (first,) = add(store, deployment())
    with store.uow() as uow:
        with pytest.raises(SlotTaken) as taken:
            uow.deployments.add(deployment(requested_by="U0DEV2"))
        assert taken.value.holder_id == first.id
        # The transaction is still usable after the refusal.
        assert uow.deployments.get(first.id or 0) == first
        other_env = uow.deployments.add(deployment(env="prod"))
        other_bot = uow.deployments.add(deployment(bot="otherbot"))
        uow.commit()
    with store.uow() as uow:
        assert [d.id for d in uow.deployments.history("mybot")] == [other_env.id, first.id]
        assert [d.id for d in uow.deployments.history("otherbot")] == [other_bot.id]


@pytest.mark.parametrize("state", [State.QUEUED, State.BUILDING, State.DEPLOYING, State.VERIFYING])
def test_every_in_progress_state_holds_the_slot(store: SqlStore, state: State) -> None:
    (first,) = add(store, deployment(state=state))
    with store.uow() as uow, pytest.raises(SlotTaken) as taken:
        uow.deployments.add(deployment(state=State.DEPLOYING))
    assert taken.value.holder_id == first.id


def test_a_pending_and_a_running_deployment_may_coexist(store: SqlStore) -> None:
    pending, running = add(
        store, deployment(state=State.PENDING_APPROVAL, kind=Kind.PROMOTE), deployment()
    )
    with store.uow() as uow:
        assert uow.deployments.holder("mybot", "staging") == running
        with pytest.raises(SlotTaken) as taken:
            uow.deployments.add(deployment(state=State.PENDING_APPROVAL))
        assert taken.value.holder_id == pending.id
        # Approving the pending one while the other runs is refused too.
        approved = dataclasses.replace(pending, state=State.QUEUED, updated_at=at(1))
        with pytest.raises(SlotTaken) as taken:
            uow.deployments.save(approved)
        assert taken.value.holder_id == running.id
        assert uow.deployments.get(pending.id or 0) == pending
        uow.deployments.save(dataclasses.replace(running, state=State.LIVE, updated_at=at(2)))
        assert uow.deployments.holder("mybot", "staging") == pending
        assert uow.deployments.save(approved) == approved
        uow.commit()
    with store.uow() as uow:
        assert uow.deployments.holder("mybot", "staging") == approved
        assert uow.deployments.holder("mybot", "prod") is None


@pytest.mark.parametrize("end", [State.LIVE, State.FAILED, State.SUPERSEDED])
def test_a_settled_deployment_frees_the_slot(store: SqlStore, end: State) -> None:
    (first,) = add(store, deployment())
    with store.uow() as uow:
        uow.deployments.save(dataclasses.replace(first, state=end, updated_at=at(1)))
        uow.commit()
    (second,) = add(store, deployment(requested_by="U0DEV2"))
    with store.uow() as uow:
        assert uow.deployments.holder("mybot", "staging") == second


def test_two_builds_of_one_bot_conflict_across_environments(store: SqlStore) -> None:
    staging, prod = add(store, deployment(state=State.BUILDING), deployment(env="prod"))
    with store.uow() as uow:
        with pytest.raises(SlotTaken) as taken:
            uow.deployments.save(dataclasses.replace(prod, state=State.BUILDING, updated_at=at(1)))
        assert taken.value.holder_id == staging.id
        assert uow.deployments.get(prod.id or 0) == prod
        # Deploying an existing image needs no build slot.
        prod = uow.deployments.save(
            dataclasses.replace(prod, state=State.DEPLOYING, updated_at=at(1))
        )
        uow.deployments.add(deployment(bot="otherbot", state=State.BUILDING))
        uow.deployments.save(dataclasses.replace(staging, state=State.DEPLOYING, updated_at=at(2)))
        uow.deployments.save(dataclasses.replace(prod, state=State.BUILDING, updated_at=at(3)))
        uow.commit()


def test_nothing_is_kept_without_commit(store: SqlStore) -> None:
    with store.uow() as uow:
        uow.deployments.add(deployment())
        uow.audit.add(AuditEvent(at=T0, actor="U0DEV1", action="deploy", outcome=Outcome.OK))
        uow.leases.acquire("scheduler", owner="me", now=T0, ttl_seconds=30)

    def fail_midway() -> None:
        with store.uow() as uow:
            uow.deployments.add(deployment())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_midway()
    with store.uow() as uow:
        assert uow.deployments.history("mybot") == []
        assert uow.audit.list() == []
        assert uow.leases.holder("scheduler") is None
        # ...and the slot was freed with the rollback.
        uow.deployments.add(deployment())
        uow.commit()
    with store.uow() as uow:
        assert len(uow.deployments.history("mybot")) == 1


def test_deployment_queries(store: SqlStore) -> None:
    old_live, new_live, failed, running, prod_live, other_live = add(
        store,
        deployment(state=State.LIVE, version=1, live_at=T0),
        deployment(state=State.LIVE, version=2, live_at=T0),  # by accident: two live ones
        deployment(state=State.FAILED, version=3),
        deployment(state=State.DEPLOYING, version=4, owner="me"),
        deployment(env="prod", state=State.LIVE, version=1),
        deployment(bot="otherbot", state=State.BUILDING, owner="me"),
    )
    with store.uow() as uow:
        deployments = uow.deployments
        assert deployments.live("mybot", "staging") == new_live
        assert deployments.live("mybot", "prod") == prod_live
        assert deployments.live("otherbot", "staging") is None
        assert deployments.history("mybot", "staging") == [running, failed, new_live, old_live]
        assert deployments.history("mybot", limit=2) == [prod_live, running]
        assert deployments.history("nobot") == []
        # several bots' histories in one query, each cut at `limit`, newest first per bot
        both = deployments.histories("staging", ["otherbot", "mybot", "nobot"], limit=3)
        assert both == [running, failed, new_live, other_live]
        assert deployments.histories("staging", []) == []
        went_live = deployments.histories("staging", ["mybot"], limit=3, reached_live=True)
        assert went_live == [new_live]  # of the newest three
        assert deployments.histories("staging", ["mybot"], reached_live=True) == [
            new_live,
            old_live,
        ]
        assert deployments.in_state([State.LIVE]) == [old_live, new_live, prod_live]
        assert deployments.in_state([State.BUILDING, State.DEPLOYING]) == [running, other_live]
        assert deployments.in_state([]) == []
        assert deployments.all_live() == [old_live, new_live, prod_live]
        assert deployments.holder("mybot", "staging") == running

        ids = {d.id or 0 for d in (old_live, running, other_live)}
        assert deployments.heartbeat("me", at(5), ids) == 2
        assert deployments.heartbeat("me", at(5), {running.id or 0}) == 1
        assert deployments.heartbeat("me", at(5), set()) == 0
        assert deployments.heartbeat("someone else", at(5), ids) == 0
        uow.commit()
    with store.uow() as uow:
        beat = uow.deployments.get(running.id or 0)
        assert beat is not None
        assert beat.heartbeat_at == at(5)
        assert_utc(beat.heartbeat_at)
        # a beat is no change of the deployment: a save from the earlier read still goes
        assert beat.revision == running.revision
        assert uow.deployments.get(old_live.id or 0) == old_live


# ── compare-and-set ──────────────────────────────────────────────────────────


def test_a_save_from_a_stale_read_is_refused_not_an_overwrite(store: SqlStore) -> None:
    """Guards the lost update of the approval-expiry race: the later writer read too early."""
    (pending,) = add(store, deployment(state=State.PENDING_APPROVAL, kind=Kind.PROMOTE))
    with store.uow() as uow:
        approved = uow.deployments.save(
            dataclasses.replace(pending, state=State.QUEUED, updated_at=at(1), owner="me")
        )
        uow.commit()
    assert approved.revision == pending.revision + 1

    with store.uow() as uow, pytest.raises(Conflict) as conflict:
        uow.deployments.save(dataclasses.replace(pending, state=State.EXPIRED, updated_at=at(2)))
    assert conflict.value.current == approved
    assert conflict.value.current.revision == approved.revision

    with store.uow() as uow:
        assert uow.deployments.get(pending.id or 0) == approved
        # a save from the current read goes, and moves the revision on
        failed = uow.deployments.save(
            dataclasses.replace(approved, state=State.FAILED, updated_at=at(3))
        )
        assert failed.revision == approved.revision + 1
        uow.commit()
    with store.uow() as uow:
        got = uow.deployments.get(pending.id or 0)
        assert got == failed
        assert got is not None and got.revision == failed.revision


def test_a_cancel_request_round_trips_and_a_save_that_missed_it_is_refused(
    store: SqlStore,
) -> None:
    (building,) = add(store, deployment(state=State.BUILDING, owner="me"))
    with store.uow() as uow:
        asked = uow.deployments.save(
            dataclasses.replace(building, cancel_requested_by="U0LEAD1", cancel_requested_at=at(1))
        )
        uow.commit()
    with store.uow() as uow:
        got = uow.deployments.get(building.id or 0)
        assert got == asked
        assert got is not None
        assert (got.cancel_requested_by, got.cancel_requested_at) == ("U0LEAD1", at(1))
        assert_utc(got.cancel_requested_at)
        # the owner, going on from what it read before the request, cannot overwrite it
        with pytest.raises(Conflict):
            uow.deployments.save(
                dataclasses.replace(building, state=State.DEPLOYING, updated_at=at(2))
            )
        assert uow.deployments.get(building.id or 0) == asked


def test_a_lost_compare_and_set_is_not_a_slot_error_and_an_unknown_id_is_a_store_error(
    store: SqlStore,
) -> None:
    (first,) = add(store, deployment())
    with store.uow() as uow:
        with pytest.raises(StoreError, match="no deployment #999"):
            uow.deployments.save(dataclasses.replace(first, id=999))
        # a refused save leaves the transaction usable
        saved = uow.deployments.save(
            dataclasses.replace(first, state=State.BUILDING, updated_at=at(1))
        )
        uow.commit()
    assert saved.state is State.BUILDING


# ── leases ───────────────────────────────────────────────────────────────────


def test_a_lease_is_held_renewed_expires_and_is_taken_over(store: SqlStore) -> None:
    with store.uow() as uow:
        assert uow.leases.holder("scheduler") is None
        assert uow.leases.acquire("scheduler", owner="a", now=T0, ttl_seconds=30) is True
        uow.commit()
    with store.uow() as uow:
        assert uow.leases.holder("scheduler") == ("a", at(0.5))
        assert uow.leases.acquire("scheduler", owner="b", now=at(0.25), ttl_seconds=30) is False
        assert uow.leases.acquire("scheduler", owner="a", now=at(0.25), ttl_seconds=30) is True
        assert uow.leases.holder("scheduler") == ("a", at(0.75))
        assert uow.leases.acquire("other", owner="b", now=at(0.25), ttl_seconds=30) is True
        uow.commit()
    with store.uow() as uow:
        assert uow.leases.acquire("scheduler", owner="b", now=at(0.7), ttl_seconds=30) is False
        assert uow.leases.acquire("scheduler", owner="b", now=at(0.75), ttl_seconds=60) is True
        holder = uow.leases.holder("scheduler")
        assert holder == ("b", at(1.75))
        assert_utc(holder[1] if holder else None)
        uow.leases.release("scheduler", owner="a")  # not a's any more: nothing happens
        assert uow.leases.holder("scheduler") == ("b", at(1.75))
        uow.leases.release("scheduler", owner="b")
        assert uow.leases.holder("scheduler") is None
        assert uow.leases.acquire("scheduler", owner="a", now=at(0.8), ttl_seconds=30) is True
        uow.commit()
    with store.uow() as uow:
        assert uow.leases.holder("scheduler") == ("a", at(1.3))
        assert uow.leases.holder("other") == ("b", at(0.75))


# ── two processes ────────────────────────────────────────────────────────────


def _race(url: str, name: str, barrier: Any, results: Any) -> None:
    """In a separate process: add an in-progress deployment of mybot/staging at the barrier.

    The loser learns of the winner from its read (SQLite: the writers are serialised)
    or from SlotTaken (PostgreSQL: both read nothing, the unique slot decides).
    """
    store = SqlStore(url)
    try:
        with store.uow() as uow:
            barrier.wait(timeout=60)
            # Read, then write, as the services do (on SQLite this needs BEGIN IMMEDIATE).
            seen = uow.deployments.holder("mybot", "staging")
            if seen is not None:
                results.put((name, "refused", seen.id))
                return
            try:
                added = uow.deployments.add(deployment(requested_by=name))
                time.sleep(0.5)  # keep the uncommitted row while the other process tries
                uow.commit()
                results.put((name, "won", added.id))
            except SlotTaken as taken:
                results.put((name, "refused", taken.holder_id))
    except Exception as exc:
        results.put((name, "error", repr(exc)))
    finally:
        store.dispose()


def test_two_processes_racing_for_one_slot_one_wins(store: SqlStore, db_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    racers = [
        context.Process(target=_race, args=(db_url, name, barrier, results)) for name in ("A", "B")
    ]
    for racer in racers:
        racer.start()
    outcomes = sorted((results.get(timeout=120) for _ in racers), key=lambda r: r[1])
    for racer in racers:
        racer.join(timeout=60)
        assert racer.exitcode == 0

    (_, refused, holder), (winner, won, winner_id) = outcomes
    assert (refused, won) == ("refused", "won"), outcomes
    assert holder == winner_id
    with store.uow() as uow:
        (only,) = uow.deployments.history("mybot")
    assert (only.id, only.requested_by) == (winner_id, winner)


# ── engine and errors ────────────────────────────────────────────────────────


def test_sqlite_engine_settings(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "chatops.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() == 30_000
        assert path.is_file()
    finally:
        engine.dispose()


def test_a_sqlite_writer_waits_for_another_instead_of_failing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chatops.db'}"
    schema.upgrade(url)
    store = SqlStore(url)
    other = sqlite3.connect(tmp_path / "chatops.db", isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process is writing
        with store.uow() as uow:
            started = time.monotonic()
            # A write lock held for 1 s: the unit of work waits for it (busy_timeout).
            timer = _release_later(other, seconds=1.0)
            uow.deployments.add(deployment())
            uow.commit()
            timer.join()
        assert time.monotonic() - started >= 0.9
    finally:
        other.close()
        store.dispose()


def _release_later(connection: sqlite3.Connection, *, seconds: float) -> threading.Thread:
    def release() -> None:
        time.sleep(seconds)
        connection.execute("COMMIT")

    thread = threading.Thread(target=release)
    thread.start()
    return thread


def test_postgres_urls_use_psycopg(postgres_url: str) -> None:
    plain = postgres_url.replace("postgresql+psycopg://", "postgres://", 1)
    assert plain.startswith("postgres://")
    for url in (plain, plain.replace("postgres://", "postgresql://", 1)):
        engine = make_engine(url)
        try:
            assert engine.url.drivername == "postgresql+psycopg"
            with engine.connect() as connection:
                assert connection.exec_driver_sql("SELECT 1").scalar() == 1
        finally:
            engine.dispose()


def test_an_unreachable_database_is_a_store_error_without_the_password() -> None:
    store = SqlStore("postgresql://chatops:s3cr3t-pw@127.0.0.1:1/chatops")
    try:
        with pytest.raises(StoreError) as error, store.uow() as uow:
            uow.ping()
    finally:
        store.dispose()
    assert "127.0.0.1" in str(error.value)
    assert "s3cr3t-pw" not in str(error.value)


def test_other_databases_are_refused() -> None:
    with pytest.raises(StoreError, match="mysql"):
        SqlStore("mysql://user:pw@localhost/chatops")


def test_ping_answers_on_a_reachable_database(store: SqlStore) -> None:
    with store.uow() as uow:
        uow.ping()


def test_measurements_round_trip_oldest_first(store: SqlStore) -> None:
    first, second = add(store, deployment(state=State.LIVE), deployment(env="prod"))
    assert first.id is not None and second.id is not None
    late = Measurement("error rate", Verdict.FAIL, at(2), 0.5, "x" * 900, first.id)
    early = Measurement("error rate", Verdict.PASS, T0_PLUS2, 0.0, "", first.id)
    unsure = Measurement("latency", Verdict.INCONCLUSIVE, at(1), None, "no data", second.id)
    with store.uow() as uow:
        for m in (late, early, unsure):
            uow.measurements.add(m)
        uow.commit()
    with store.uow() as uow:
        mine = uow.measurements.for_deployments([first.id])
        both = uow.measurements.for_deployments([first.id, second.id])
        assert uow.measurements.for_deployments([]) == []
    assert [m.verdict for m in mine] == [Verdict.PASS, Verdict.FAIL]
    assert mine[0].at == T0 and mine[1].value == 0.5
    assert len(mine[1].detail) == 500  # kept short
    assert_utc(*(m.at for m in both))
    assert [m.check for m in both] == ["error rate", "latency", "error rate"]
    # summed up in SQL exactly as the domain sums them up (the verifier reads only these)
    fail_again = Measurement("error rate", Verdict.FAIL, at(3), 0.7, "0.7 is too much", first.id)
    with store.uow() as uow:
        uow.measurements.add(fail_again)
        uow.commit()
    with store.uow() as uow:
        in_sql = uow.measurements.tallies([first.id, second.id])
        both = uow.measurements.for_deployments([first.id, second.id])
        newest = uow.measurements.for_deployments([first.id], limit=2)
        by_id = uow.measurements.tallies_by_deployment([first.id, second.id, 999_999])
        one_by_one = {i: uow.measurements.tallies([i]) for i in (first.id, second.id)}
        assert uow.measurements.tallies_by_deployment([]) == {}
    assert sorted(in_sql, key=str) == sorted(tally(both), key=str)
    assert {i: sorted(t, key=str) for i, t in by_id.items()} == {
        i: sorted(t, key=str) for i, t in one_by_one.items()
    }  # the overview reads them at once; nothing for an id without measurements
    assert sorted(merge_tallies(by_id.values()), key=str) == sorted(in_sql, key=str)
    assert [m.value for m in newest] == [0.5, 0.7]  # the newest two, oldest first
    [failed] = [t for t in in_sql if t.verdict is Verdict.FAIL]
    assert (failed.count, failed.last_detail, failed.last_at) == (2, "0.7 is too much", at(3))
    [unsure] = [t for t in in_sql if t.verdict is Verdict.INCONCLUSIVE]
    assert unsure.first_detail == "no data"
    assert_utc(*(t.first_at for t in in_sql), *(t.last_at for t in in_sql))
    with store.uow() as uow:  # the first is live: it keeps its run; the second's go
        pruned = uow.measurements.prune(before=at(10))
        uow.commit()
    with store.uow() as uow:
        assert pruned == 1
        assert uow.measurements.for_deployments([second.id]) == []
        assert len(uow.measurements.for_deployments([first.id])) == 3


# ── migrations ───────────────────────────────────────────────────────────────


def test_an_empty_database_is_out_of_date_until_upgraded(db_url: str) -> None:
    assert schema.current(db_url) is None
    with pytest.raises(SchemaOutOfDate) as error:
        schema.ensure_current(db_url, create=False)
    assert error.value.hint == "run `chatops db upgrade`"

    schema.upgrade(db_url)
    assert schema.current(db_url) == schema.head()
    schema.ensure_current(db_url)
    schema.upgrade(db_url)  # again: nothing to do
    assert schema.current(db_url) == schema.head()


def test_the_migrations_match_the_models(store: SqlStore) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_alembic_check_from_the_repository_root(
    store: SqlStore, db_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "CHATOPS_DATABASE_URL": db_url}
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "No new upgrade operations detected" in result.stdout + result.stderr


def test_the_reason_migration_keeps_why_earlier_rollbacks_were_asked_for(db_url: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from chatops.adapters.db.uow import normalise_url

    if db_url.startswith("sqlite:///"):
        Path(db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.set_main_option("script_location", str(schema.migrations_dir()))
    config.attributes["sqlalchemy.url"] = normalise_url(db_url)
    command.upgrade(config, "0005_verify")
    engine = make_engine(normalise_url(db_url))
    rows = [
        ("rollback", "live", "login is broken"),
        ("auto_rollback", "superseded", "v2 went unhealthy"),
        ("rollback", "failed", "cannot reach the Docker Engine"),  # the request's is lost
        ("rollback", "rejected", "rejected by ULEAD1"),
        ("deploy", "failed", "health gate"),
    ]
    insert = text(
        "INSERT INTO deployments (bot, env, kind, state, requested_by, requested_at, "
        "updated_at, rolled_back, log_tail, reason) VALUES "
        "('mybot', 'staging', :kind, :state, 'UDEV', :at, :at, :no, '', :reason)"
    )
    with engine.begin() as connection:
        for kind, state, reason in rows:
            connection.execute(
                insert, {"kind": kind, "state": state, "at": T0, "no": False, "reason": reason}
            )
    engine.dispose()

    command.upgrade(config, "head")

    store = SqlStore(db_url)
    try:
        with store.uow() as uow:
            found = uow.deployments.history("mybot", "staging", limit=10)
    finally:
        store.dispose()
    assert sorted((str(d.kind), str(d.state), d.request_reason) for d in found) == [
        ("auto_rollback", "superseded", "v2 went unhealthy"),
        ("deploy", "failed", None),
        ("rollback", "failed", None),
        ("rollback", "live", "login is broken"),
        ("rollback", "rejected", None),
    ]
    command.downgrade(config, "0005_verify")  # and back
    assert schema.current(db_url) == "0005_verify"


def test_migrations_are_found_in_the_checkout() -> None:
    assert schema.migrations_dir() == ROOT / "migrations"
    assert schema.head() == "0006_reason"
    assert schema.head() == schema.HEAD, "the constant the schema check compares with"


def test_pruning_the_audit_log_deletes_only_what_is_older(store: SqlStore) -> None:
    with store.uow() as uow:
        for minutes in (0, 1, 2):
            uow.audit.add(AuditEvent(at(minutes), "U0DEV", "status", Outcome.OK))
        uow.commit()
    with store.uow() as uow:
        assert uow.audit.prune(at(1)) == 1
        uow.commit()
    with store.uow() as uow:
        assert [e.at for e in uow.audit.list()] == [at(2), at(1)]
        assert uow.audit.prune(T0) == 0
