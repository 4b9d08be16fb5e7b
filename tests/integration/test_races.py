"""State changes are compare-and-set, on real SQLite and PostgreSQL, with concurrent threads.

The services run over the real store; git, the engine and the chat are fakes.
On PostgreSQL the interleavings that lost updates are forced: the test holds
the deployment's row lock while the racers queue up behind it (seen in
pg_stat_activity), then lets them go in that order. SQLite serialises its
writers, so there the racers start together and the outcome must be
consistent whichever goes first.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from chatops.adapters.db import schema
from chatops.adapters.db.uow import SqlStore
from chatops.bootstrap.services import Services
from chatops.domain.audit import Outcome
from chatops.domain.deployment import Deployment, Event, State
from chatops.domain.health import Health
from chatops.errors import AlreadyDecided, Refused
from chatops.services.context import Actor, Tuning
from chatops.services.ports import Launcher
from tests.fakes import FakeClock, FakeProcesses, World, catalog

DEV = Actor("UDEV")
LEAD1 = Actor("ULEAD1")
WAIT = 60.0


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


class Held:
    """A launcher that keeps what it is given: an approved deployment stays queued."""

    def launch(self, deployment_id: int) -> None:
        pass


@dataclass
class Shop:
    """mybot v1 live in staging over the real store, with a way to wire more replicas."""

    world: World
    store: SqlStore

    def services(
        self,
        launcher: Launcher | None = None,
        *,
        clock: FakeClock | None = None,
        me: str | None = None,
    ) -> Services:
        """A replica's services over the real store (its own clock and process, if given)."""
        ports: dict[str, Any] = {
            "uow": self.store.uow,
            "tuning": Tuning(
                health_poll_seconds=0.25,
                settle_seconds=0.0,
                build_slot_wait_seconds=5,
                heartbeat_seconds=3600,
            ),
        }
        if clock is not None:
            ports["clock"] = clock
        if me is not None:
            ports["processes"] = FakeProcesses(me)
        return self.world.services(launcher, **ports)

    def clock_at(self, minutes: float) -> FakeClock:
        return FakeClock(self.world.clock.now() + timedelta(minutes=minutes))

    def row(self, deployment_id: int | None) -> Deployment:
        with self.store.uow() as uow:
            found = uow.deployments.get(deployment_id or 0)
        assert found is not None
        return found

    def audit(self, action: str) -> list[tuple[str, Outcome]]:
        with self.store.uow() as uow:
            return [(e.actor, e.outcome) for e in uow.audit.list(limit=1000) if e.action == action]

    def pending_promotion(self) -> Deployment:
        self.world.clock.advance(minutes=11)  # soaked
        pending = self.services(Held()).requests.promote(DEV, "mybot", "prod")
        assert pending.state is State.PENDING_APPROVAL
        return pending


@pytest.fixture
def shop(store: SqlStore) -> Shop:
    world = World(catalog())
    world.source.add_commit("mybot", "main", "a" * 40, "first")
    found = Shop(world, store)
    assert found.services().requests.deploy(DEV, "mybot", "staging").state is State.LIVE
    return found


class Racers:
    """Threads that each run one call and keep what it returned or raised."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self.results: dict[str, Any] = {}

    def start(self, name: str, call: Callable[[], object]) -> None:
        def run() -> None:
            try:
                self.results[name] = call()
            except Exception as exc:
                self.results[name] = exc

        thread = threading.Thread(target=run, name=f"racer-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def join(self) -> dict[str, Any]:
        for thread in self._threads:
            thread.join(timeout=WAIT)
            assert not thread.is_alive(), f"{thread.name} is stuck"
        return self.results


@contextlib.contextmanager
def row_locked(store: SqlStore, deployment_id: int) -> Iterator[Callable[[int], None]]:
    """PostgreSQL: hold the row's lock; yields `queued(n)`, which waits for n racers behind it."""
    with store.engine.connect() as holder:
        transaction = holder.begin()
        holder.execute(
            text("SELECT id FROM deployments WHERE id = :id FOR UPDATE"), {"id": deployment_id}
        )
        try:
            yield lambda count: _lock_waiters(store, count)
        finally:
            transaction.rollback()


def _lock_waiters(store: SqlStore, count: int) -> None:
    """Wait until `count` sessions of this PostgreSQL database wait for a lock."""
    with store.engine.connect() as watcher:
        deadline = time.monotonic() + WAIT
        waiting = 0
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            watcher.rollback()
            if waiting >= count:
                return
            time.sleep(0.05)
    raise AssertionError(f"only {waiting} of {count} racers reached the lock")


def _is_postgres(store: SqlStore) -> bool:
    return store.engine.dialect.name == "postgresql"


# ── approval expiry ──────────────────────────────────────────────────────


def test_the_last_approval_and_expiry_at_once_one_decides_and_it_stands(shop: Shop) -> None:
    """The approval comes first; the expiry that read the request before must not overwrite it."""
    pending = shop.pending_promotion()
    approver = shop.services(Held(), clock=shop.clock_at(59)).requests
    expirer = shop.services(Held(), clock=shop.clock_at(61)).requests
    racers = Racers()

    if _is_postgres(shop.store):
        with row_locked(shop.store, pending.id or 0) as queued:
            racers.start("approve", lambda: approver.approve(LEAD1, pending.id or 0))
            queued(1)
            racers.start("expire", expirer.expire_and_supersede)
            queued(2)
        results = racers.join()
        assert isinstance(results["approve"], Deployment)  # it was first in line
    else:
        racers.start("approve", lambda: approver.approve(LEAD1, pending.id or 0))
        racers.start("expire", expirer.expire_and_supersede)
        results = racers.join()

    final = shop.row(pending.id)
    if isinstance(results["approve"], Deployment):
        assert results["approve"].state is State.QUEUED
        assert final.state is State.QUEUED
        assert results["expire"] == []
        assert shop.audit("expired") == []
        assert shop.audit("approve") == [("ULEAD1", Outcome.OK)]
    else:
        assert isinstance(results["approve"], AlreadyDecided), results["approve"]
        assert final.state is State.EXPIRED
        assert [d.id for d in results["expire"]] == [pending.id]
        assert shop.audit("approve") == [("ULEAD1", Outcome.REFUSED)]


def test_two_replicas_expiring_at_once_expire_a_request_once(shop: Shop) -> None:
    pending = shop.pending_promotion()
    replicas = [shop.services(Held(), clock=shop.clock_at(61)).requests for _ in range(2)]
    racers = Racers()

    if _is_postgres(shop.store):
        with row_locked(shop.store, pending.id or 0) as queued:
            for number, replica in enumerate(replicas):
                racers.start(f"replica{number}", replica.expire_and_supersede)
                queued(number + 1)
    else:
        for number, replica in enumerate(replicas):
            racers.start(f"replica{number}", replica.expire_and_supersede)
    results = racers.join()

    ended = [d.id for found in results.values() for d in found]
    assert ended == [pending.id]
    assert shop.audit("expired") == [("chatops", Outcome.OK)]
    assert shop.row(pending.id).state is State.EXPIRED


# ── cancel vs completion, recovery vs a live owner ───────────────────────


def test_a_cancel_from_another_replica_as_the_release_goes_live_wins(shop: Shop) -> None:
    shop.world.source.add_commit("mybot", "main", "b" * 40, "second")
    owner = shop.services().requests
    other_replica = shop.services(me="otherhost:boot:7:1").cancels
    runtime = shop.world.runtime
    commit = runtime.commit
    racers = Racers()

    def commit_while_cancelled(bot: str, env: str, handle: str) -> None:
        commit(bot, env, handle)
        racers.start("cancel", lambda: other_replica.cancel(DEV, "mybot", "staging"))
        racers.join()

    runtime.commit = commit_while_cancelled  # type: ignore[method-assign]
    racers_owner = Racers()
    racers_owner.start("deploy", lambda: owner.deploy(DEV, "mybot", "staging"))
    ended = racers_owner.join()["deploy"]

    assert isinstance(racers.results["cancel"], Deployment)
    assert racers.results["cancel"].state is State.VERIFYING  # asked while it ran
    assert isinstance(ended, Deployment), ended
    assert ended.state is State.FAILED
    assert ended.reason == "cancelled by UDEV; v1 is running again"
    assert shop.row(ended.id).state is State.FAILED
    assert runtime.version("mybot", "staging") == 1
    with shop.store.uow() as uow:
        live = uow.deployments.live("mybot", "staging")
    assert live is not None and live.version == 1
    # and after it ended, there is nothing left to cancel
    with pytest.raises(Refused):
        other_replica.cancel(DEV, "mybot", "staging")


def test_recovery_by_another_replica_wins_over_an_owner_that_was_too_slow(shop: Shop) -> None:
    """The owner comes back after recovery failed its deployment: it must not go live."""
    shop.world.source.add_commit("mybot", "main", "b" * 40, "second")
    runtime = shop.world.runtime
    runtime.health_of[2] = Health.STARTING
    owner = shop.services().requests
    other_replica = shop.services(clock=shop.clock_at(5), me="otherhost:boot:7:1").recovery
    observe = runtime.observe
    recovered: list[object] = []

    def observe_after_recovery(bot: str, env: str, handle: str | None = None) -> object:
        if handle is not None and not recovered:
            racers = Racers()
            racers.start("recover", other_replica.recover)
            recovered.append(racers.join()["recover"])
            if handle in runtime.candidates:  # and now the candidate turns healthy
                runtime.candidates[handle][1].health = Health.HEALTHY
        return observe(bot, env, handle)

    runtime.observe = observe_after_recovery  # type: ignore[method-assign]
    racers = Racers()
    racers.start("deploy", lambda: owner.deploy(DEV, "mybot", "staging"))
    ended = racers.join()["deploy"]

    [found] = recovered
    assert isinstance(found, list) and len(found) == 1, found
    assert isinstance(ended, Deployment), ended
    final = shop.row(ended.id)
    assert final.state is State.FAILED
    assert final.reason is not None and final.reason.startswith("interrupted: ")
    assert shop.audit("live") == [("chatops", Outcome.OK)]  # v1's only
    assert runtime.version("mybot", "staging") == 1


def test_a_soak_notice_is_not_given_for_a_release_superseded_meanwhile(shop: Shop) -> None:
    """The notice read v1 as live; v2 went live before it saved: nothing is announced."""
    if not _is_postgres(shop.store):
        pytest.skip("SQLite serialises its writers: the notice cannot read before the change")
    # v1 has soaked for prod
    soak = shop.services(Held(), clock=shop.clock_at(11)).monitoring.soak
    racers = Racers()
    with shop.store.uow() as uow:
        live = uow.deployments.live("mybot", "staging")
        assert live is not None and live.id is not None
        live = uow.deployments.get_for_update(live.id)  # the going-live of v2 holds it
        assert live is not None
        racers.start("notice", soak.notify_soaked)
        _lock_waiters(shop.store, 1)
        uow.deployments.save(live.advance(Event.SUPERSEDED, at=shop.world.clock.now()))
        uow.commit()
    results = racers.join()

    assert results["notice"] == []
    assert shop.row(live.id).state is State.SUPERSEDED
