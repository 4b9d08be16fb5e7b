"""The plain reads (sqlite3 alone, for the CLI's `status` and `releases`) give exactly what
the SQLAlchemy store reads from the same database, and open only a database they can read
as it is: anything else is left to the store, which creates, migrates or refuses it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from chatops.adapters.db import schema
from chatops.adapters.db.plain_reads import PlainStore, sqlite_path
from chatops.adapters.db.uow import SqlStore
from chatops.domain.alerts import Alert, AlertState
from chatops.domain.approvals import Decision, Vote
from chatops.domain.deployment import Deployment, Kind, Release, State
from chatops.domain.policy import Lock, LockKind
from chatops.domain.verification import Measurement, Tally, Verdict
from chatops.errors import StoreError

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
BOTS = ("a", "b")


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _seed(store: SqlStore) -> list[int]:
    """Two bots through staging and prod: every state, every optional time and flag set
    somewhere, locks, open and resolved alerts, votes and measurements of every verdict."""
    ids: list[int] = []
    with store.uow() as uow:
        for n, bot in enumerate(BOTS):
            for version in (1, 2, 3):
                at = _at(10 * version + n)
                uow.releases.add(
                    Release(
                        bot=bot,
                        version=version,
                        commit=f"{version:040x}",
                        tag=f"{bot}/v{version}",
                        image=f"registry.test/{bot}:v{version}",
                        image_id=f"sha256:{version:064x}",
                        digest=f"sha256:{version:064x}",
                        created_by="UDEV",
                        created_at=at,
                        subject=f"change «{version}» 'quoted' \"twice\"",
                        source="main",
                    )
                )
                state = State.LIVE if version == 3 else State.SUPERSEDED
                for env in ("staging", "prod"):
                    added = uow.deployments.add(
                        Deployment(
                            bot=bot,
                            env=env,
                            kind=Kind.DEPLOY if env == "staging" else Kind.PROMOTE,
                            state=state,
                            requested_by="UDEV",
                            requested_at=at,
                            updated_at=at + timedelta(seconds=1),
                            ref="main",
                            commit=f"{version:040x}",
                            version=version,
                            previous_version=version - 1 or None,
                            live_at=at + timedelta(seconds=30),
                            finished_at=at + timedelta(seconds=40)
                            if state is not State.LIVE
                            else None,
                            healthy_since=at + timedelta(seconds=45) if version != 2 else None,
                            soak_noticed_at=at + timedelta(minutes=5) if env == "staging" else None,
                            rolled_back=version == 2,
                            log_tail="step 1\nstep 2",
                            request_reason="because" if env == "prod" else None,
                        )
                    )
                    ids.append(added.id or 0)
                    if env == "prod":
                        uow.votes.put(Vote(added.id or 0, "ULEAD1", Decision.APPROVE, at))
                        uow.votes.put(Vote(added.id or 0, "ULEAD2", Decision.REJECT, at))
            uow.deployments.add(
                Deployment(
                    bot=bot,
                    env="prod",
                    kind=Kind.ROLLBACK,
                    state=State.PENDING_APPROVAL,
                    requested_by="UOTHER",
                    requested_at=_at(50),
                    updated_at=_at(50),
                    version=2,
                    previous_version=3,
                    owner="host:boot:1:2",
                    heartbeat_at=_at(51),
                    cancel_requested_by="UADMIN",
                    cancel_requested_at=_at(52),
                    verification_override="ULEAD1",
                )
            )
        uow.locks.put(Lock("a", "prod", "ULEAD", "hold", _at(1), kind=LockKind.ROLLBACK_HOLD))
        uow.locks.put(Lock("b", "staging", "ULEAD", "busy", _at(1), expires_at=_at(90)))
        uow.alerts.add(Alert("a", "prod", "alertmanager", "f1", "down", _at(2), _at(3)))
        uow.alerts.add(
            Alert(
                "b",
                "staging",
                "chatops",
                "f2",
                "flaps",
                _at(2),
                _at(4),
                state=AlertState.ACKNOWLEDGED,
                acked_by="UOPS",
                acked_at=_at(5),
                deployment_id=ids[-1],
                version=3,
                count=4,
            )
        )
        uow.alerts.add(
            Alert("a", "staging", "chatops", "f3", "gone", _at(2), _at(3), AlertState.RESOLVED)
        )
        for i, deployment_id in enumerate(ids):
            for k, verdict in enumerate(Verdict):
                uow.measurements.add(
                    Measurement(
                        check="errors" if k % 2 else "latency",
                        verdict=verdict,
                        at=_at(60 + i + k / 10),
                        value=None if verdict is Verdict.INCONCLUSIVE else 0.5 * k,
                        detail=f"detail {i}/{k}" if verdict is not Verdict.PASS else "",
                        deployment_id=deployment_id,
                    )
                )
        uow.commit()
    return ids


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[tuple[SqlStore, PlainStore, list[int]]]:
    url = f"sqlite:///{tmp_path / 'chatops.db'}"
    schema.upgrade(url)
    store = SqlStore(url)
    ids = _seed(store)
    plain = PlainStore.open(url)
    assert plain is not None
    yield store, plain, ids
    plain.close()
    store.dispose()


def test_every_read_gives_what_the_store_reads(
    databases: tuple[SqlStore, PlainStore, list[int]],
) -> None:
    store, plain, ids = databases
    with store.uow() as sql, plain.reads() as reads:
        for bot in (None, *BOTS, "nobody"):
            assert reads.status.facts(bot) == sql.status.facts(bot)
        facts = reads.status.facts()
        assert len(facts.live) == 4 and len(facts.active) == 2 and len(facts.locks) == 2
        assert [a.fingerprint for a in facts.open_alerts] == ["f1", "f2"]
        for env in ("staging", "prod"):
            for limit in (1, 2, 50):
                for leave_out in ([], ids[:3], ids):
                    assert reads.status.runs_before(
                        env, BOTS, limit=limit, leave_out=leave_out
                    ) == sql.status.runs_before(env, BOTS, limit=limit, leave_out=leave_out)
        assert reads.status.runs_before("prod", [], limit=5, leave_out=[]) == []
        for bot in (*BOTS, "nobody"):
            for limit in (1, 2, 20):
                assert reads.releases.list(bot, limit) == sql.releases.list(bot, limit)
            for env in (None, "staging", "prod"):
                for limit in (1, 3, 50):
                    assert reads.deployments.history(bot, env, limit) == sql.deployments.history(
                        bot, env, limit
                    )
        for deployment_id in (*ids, 9999):
            assert reads.votes.list(deployment_id) == sql.votes.list(deployment_id)
        for chosen in ([], ids[:1], ids[2:5], ids, [9999]):
            # (in no particular order: the store's is its GROUP BY's)
            assert _sorted(reads.measurements.tallies(chosen)) == _sorted(
                sql.measurements.tallies(chosen)
            )
            plainly = reads.measurements.tallies_by_deployment(chosen)
            stored = sql.measurements.tallies_by_deployment(chosen)
            assert {i: _sorted(t) for i, t in plainly.items()} == {
                i: _sorted(t) for i, t in stored.items()
            }
        assert sum(t.count for t in reads.measurements.tallies(ids)) == len(ids) * len(Verdict)


def _sorted(tallies: list[Tally]) -> list[Tally]:
    return sorted(tallies, key=lambda t: (t.check, str(t.verdict)))


def test_times_are_utc_and_flags_booleans(
    databases: tuple[SqlStore, PlainStore, list[int]],
) -> None:
    _, plain, _ = databases
    with plain.reads() as reads:
        history = reads.deployments.history("a", None, 50)
    assert {d.requested_at.tzinfo for d in history} == {UTC}
    assert history[-1].requested_at == _at(10)  # the same instant, in UTC
    assert {type(d.rolled_back) for d in history} == {bool}
    assert any(d.rolled_back for d in history) and not all(d.rolled_back for d in history)


def test_a_unit_of_work_sees_one_snapshot_and_writes_nothing(
    databases: tuple[SqlStore, PlainStore, list[int]],
) -> None:
    store, plain, _ = databases
    with plain.reads() as reads:
        before = reads.status.facts()
        with store.uow() as uow:  # another process goes live meanwhile
            pending = next(d for d in uow.deployments.in_state([State.PENDING_APPROVAL]))
            uow.deployments.save(replace(pending, state=State.REJECTED))
            uow.commit()
        assert reads.status.facts() == before
    with plain.reads() as reads:
        assert len(reads.status.facts().active) == len(before.active) - 1
        with pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only|query_only"):
            reads._connection.execute("DELETE FROM deployments")
    with store.uow() as uow:
        assert len(uow.deployments.history("a", None, 50)) == 7


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:p@127.0.0.1/db",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///chatops.db?mode=ro",
        "mysql:///x",
    ],
)
def test_only_a_plain_sqlite_file_url_is_read_plainly(url: str) -> None:
    assert sqlite_path(url) is None
    assert PlainStore.open(url) is None


def test_a_database_it_cannot_read_as_it_is_is_left_to_the_store(tmp_path: Path) -> None:
    missing = tmp_path / "new.db"
    assert PlainStore.open(f"sqlite:///{missing}") is None
    assert not missing.exists()  # the store creates and migrates it, not this

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    assert PlainStore.open(f"sqlite:///{garbage}") is None

    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert PlainStore.open(f"sqlite:///{empty}") is None

    behind = tmp_path / "behind.db"
    schema.upgrade(f"sqlite:///{behind}", "0005_verify")
    assert PlainStore.open(f"sqlite:///{behind}") is None  # the store refuses it, with the hint

    current = tmp_path / "current.db"
    schema.upgrade(f"sqlite:///{current}")
    opened = PlainStore.open(f"sqlite:///{current}")
    assert opened is not None
    opened.close()


def test_a_relative_path_is_read_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema.upgrade(f"sqlite:///{tmp_path / 'here.db'}")
    monkeypatch.chdir(tmp_path)
    opened = PlainStore.open("sqlite:///here.db")
    assert opened is not None
    with opened.reads() as reads:
        assert reads.status.facts().live == []
    opened.close()


def test_what_the_database_refuses_is_a_store_error_naming_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chatops.db'}"
    schema.upgrade(url)
    opened = PlainStore.open(url)
    assert opened is not None
    with sqlite3.connect(tmp_path / "chatops.db") as other:
        other.execute("ALTER TABLE locks RENAME TO locks_gone")  # (as a broken database would)
    refused = r"database sqlite:///.*chatops\.db: no such table: locks"
    with pytest.raises(StoreError, match=refused), opened.reads() as reads:
        reads.status.facts()
    with opened.reads() as reads:  # the connection is usable again
        assert reads.releases.list("a") == []
    opened.close()


def test_measurements_at_the_same_moment_are_told_in_the_order_recorded(tmp_path: Path) -> None:
    """The first inconclusive detail and the last failure's, among measurements of one
    moment: the same both ways (and as `domain.verification.tally` takes them)."""
    url = f"sqlite:///{tmp_path / 'chatops.db'}"
    schema.upgrade(url)
    store = SqlStore(url)
    at = _at(0)
    with store.uow() as uow:
        deployment = uow.deployments.add(
            Deployment("a", "staging", Kind.DEPLOY, State.LIVE, "UDEV", at, at, live_at=at)
        )
        for verdict, detail in [
            (Verdict.INCONCLUSIVE, "first recorded"),
            (Verdict.INCONCLUSIVE, "second recorded"),
            (Verdict.FAIL, "first failure"),
            (Verdict.FAIL, "second failure"),
        ]:
            uow.measurements.add(Measurement("errors", verdict, at, None, detail, deployment.id))
        uow.commit()
    plain = PlainStore.open(url)
    assert plain is not None
    ids = [deployment.id or 0]
    with store.uow() as sql, plain.reads() as reads:
        stored = _sorted(sql.measurements.tallies(ids))
        assert _sorted(reads.measurements.tallies(ids)) == stored
        by_deployment = sql.measurements.tallies_by_deployment(ids)
        assert _sorted(by_deployment[ids[0]]) == stored
    assert [(t.first_detail, t.last_detail) for t in stored] == [
        ("", "second failure"),
        ("first recorded", ""),
    ]
    plain.close()
    store.dispose()
