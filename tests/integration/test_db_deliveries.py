"""Delivery ids and wanted heads on real SQLite and PostgreSQL, shared by every replica."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chatops.adapters.db import schema
from chatops.adapters.db.uow import SqlStore
from chatops.services.ports import WantedHead

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'chatops.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    schema.upgrade(url)
    store = SqlStore(url)
    yield store
    store.dispose()


def first_time(store: SqlStore, key: str, at: datetime = T0) -> bool:
    with store.uow() as uow:
        fresh = uow.deliveries.first_time(key, at=at)
        uow.commit()
    return fresh


def test_a_delivery_is_new_once_until_forgotten_or_pruned(store: SqlStore) -> None:
    long_key = "github:" + "x" * 1000  # stored by digest, still told apart from others

    assert first_time(store, "slack:trigger:1")
    assert not first_time(store, "slack:trigger:1")
    assert first_time(store, long_key)
    assert not first_time(store, long_key)
    assert first_time(store, long_key[:-1] + "y")
    with store.uow() as uow:
        uow.deliveries.forget("slack:trigger:1")
        uow.commit()
    assert first_time(store, "slack:trigger:1", at=T0 + timedelta(days=2))
    with store.uow() as uow:
        assert uow.deliveries.prune(before=T0 + timedelta(days=1)) == 2
        uow.commit()
    assert first_time(store, long_key)
    assert not first_time(store, "slack:trigger:1")


def test_replicas_racing_on_one_delivery_handle_it_once(store: SqlStore) -> None:
    results: list[bool] = []
    start = threading.Barrier(8)

    def deliver() -> None:
        start.wait()
        results.append(first_time(store, "github:race"))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(results) == [False] * 7 + [True]


def test_the_newest_wanted_head_wins_and_is_removed_only_if_unchanged(store: SqlStore) -> None:
    older = WantedHead("mybot", "staging", "a" * 40, "ada", T0)
    newer = WantedHead("mybot", "staging", "b" * 40, "bob", T0 + timedelta(seconds=1))
    other = WantedHead("mybot", "qa", "a" * 40, "ada", T0)
    with store.uow() as uow:
        uow.wanted_heads.put(older)
        uow.wanted_heads.put(other)
        uow.commit()
    with store.uow() as uow:
        uow.wanted_heads.put(newer)
        uow.commit()

    with store.uow() as uow:
        assert uow.wanted_heads.list() == [other, newer]
        assert not uow.wanted_heads.remove(older)  # drained after a newer push came in
        assert uow.wanted_heads.remove(newer)
        uow.commit()
    with store.uow() as uow:
        assert uow.wanted_heads.list() == [other]
