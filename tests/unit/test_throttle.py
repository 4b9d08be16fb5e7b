"""The per-person command limit: a token bucket, refusals audited once per burst."""

from __future__ import annotations

import pytest

from chatops.domain.audit import Outcome
from chatops.domain.ratelimit import Bucket, Rate, Verdict, take
from chatops.services.auditor import Auditor
from chatops.services.context import Actor
from chatops.services.throttle import Throttle
from tests.fakes import World, catalog

RATE = Rate(burst=3, per_second=0.5)


@pytest.mark.parametrize(
    ("bucket", "now", "after", "verdict"),
    [
        (None, 0.0, Bucket(2.0, 0.0), Verdict.ADMIT),  # a new person starts with a full bucket
        (Bucket(0.0, 0.0), 1.0, Bucket(0.5, 1.0, limited=True), Verdict.REFUSE_FIRST),
        (Bucket(0.5, 1.0, limited=True), 1.5, Bucket(0.75, 1.5, True), Verdict.REFUSE),
        (Bucket(0.5, 1.0, limited=True), 2.0, Bucket(0.0, 2.0, True), Verdict.ADMIT),
        (Bucket(0.5, 0.0, limited=True), 100.0, Bucket(2.0, 100.0), Verdict.ADMIT),  # refilled
        (Bucket(0.0, 5.0), 4.0, Bucket(0.0, 4.0, True), Verdict.REFUSE_FIRST),  # clock went back
    ],
)
def test_the_bucket(bucket: Bucket | None, now: float, after: Bucket, verdict: Verdict) -> None:
    assert take(bucket, RATE, now) == (after, verdict)


def test_a_rate_needs_a_burst_and_a_refill() -> None:
    with pytest.raises(ValueError, match="burst"):
        Rate(burst=0, per_second=1)


def test_a_burst_of_refusals_is_audited_once_and_a_calm_person_starts_afresh() -> None:
    world = World(catalog())
    throttle = Throttle(clock=world.clock, auditor=Auditor(world.uow, world.clock), rate=RATE)
    flood, calm = Actor("UFLOOD", "slack"), Actor("UCALM", "slack")

    admitted = [throttle.admit(flood, "/deploy") for _ in range(10)]
    world.clock.advance(seconds=2)  # one token back: one more admitted, then refused again
    admitted += [throttle.admit(flood, "/deploy") for _ in range(3)]

    assert admitted == [True] * 3 + [False] * 7 + [True, False, False]
    assert throttle.admit(calm, "/status")
    events = [e for e in world.tables.audit if e.action == "rate_limit"]
    assert [(e.actor, e.outcome, e.source) for e in events] == [
        ("UFLOOD", Outcome.REFUSED, "slack")
    ]
    assert "/deploy" in events[0].detail
    world.clock.advance(minutes=1)  # quiet long enough to refill: the next flood is a new burst
    assert [throttle.admit(flood, "/deploy") for _ in range(4)] == [True] * 3 + [False]
    assert len([e for e in world.tables.audit if e.action == "rate_limit"]) == 2
