"""Leases over fakes: one holder at a time, renewed by it, taken over once it expires."""

from __future__ import annotations

from chatops.services.leases import Leases
from tests.fakes import FakeClock, FakeProcesses, FakeUnitOfWork, Tables


def _two_replicas() -> tuple[Leases, Leases, FakeClock]:
    tables, clock = Tables(), FakeClock()

    def uow() -> FakeUnitOfWork:
        return FakeUnitOfWork(tables)

    return (
        Leases(uow, clock, FakeProcesses("host-a:boot:1:1")),
        Leases(uow, clock, FakeProcesses("host-b:boot:1:1")),
        clock,
    )


def test_one_replica_holds_the_lease_and_renews_it() -> None:
    a, b, clock = _two_replicas()
    assert not a.held_by_anyone("scheduler")
    assert a.hold("scheduler", ttl_seconds=15)
    assert not b.hold("scheduler", ttl_seconds=15)
    clock.advance(seconds=10)
    assert a.hold("scheduler", ttl_seconds=15)  # renewed: good for 15 s from now
    clock.advance(seconds=10)
    assert not b.hold("scheduler", ttl_seconds=15)
    assert b.held_by_anyone("scheduler")
    holder = a.holder("scheduler")
    assert holder is not None and holder[0] == a.owner


def test_an_expired_lease_is_taken_over() -> None:
    a, b, clock = _two_replicas()
    assert a.hold("scheduler", ttl_seconds=15)
    clock.advance(seconds=16)  # a died without giving it up
    assert not b.held_by_anyone("scheduler")
    assert b.hold("scheduler", ttl_seconds=15)
    assert not a.hold("scheduler", ttl_seconds=15)


def test_a_lease_given_up_is_taken_at_once_and_only_its_holder_gives_it_up() -> None:
    a, b, _ = _two_replicas()
    assert a.hold("scheduler", ttl_seconds=15)
    b.give_up("scheduler")  # not b's: nothing happens
    assert not b.hold("scheduler", ttl_seconds=15)
    a.give_up("scheduler")
    assert a.holder("scheduler") is None
    assert b.hold("scheduler", ttl_seconds=15)
