"""An approval counts only while the request could go ahead (DESIGN §2).

At every approval of a promotion its release must still be live **and healthy** in the
source environment — healthy by a look at it now, by no failing health check since it
last recovered (`healthy_since`), and by no open alert there — and soaked; and no lock
or freeze may hold the target. Otherwise the click is refused with why, no vote is
stored, and the request keeps waiting until its approval time runs out; once another
release is live in the source, the request ends `superseded`.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from chatops.domain.alerts import Alert
from chatops.domain.audit import Outcome
from chatops.domain.deployment import Deployment, State
from chatops.domain.health import Health
from chatops.domain.policy import FreezeWindow
from chatops.errors import AlreadyDecided, Frozen, Locked, NotPromotable
from chatops.services.context import Actor
from tests.unit.test_policy_properties import BOT, SOAK, Services, policy_world, wire

DEV, LEAD1, LEAD2 = Actor("UDEV"), Actor("ULEAD1"), Actor("ULEAD2")


@pytest.fixture
def services() -> Services:
    """staging → prod; prod needs two approvals (ULEAD1, ULEAD2) after a 10 min soak."""
    services = wire(policy_world(approvals=2, via_group=False))
    services.world.source.add_commit(BOT, "main", "a" * 40)
    return services


def waiting(services: Services) -> Deployment:
    """v1 live and soaked in staging, and its promotion to prod waiting for approval."""
    assert services.requests.deploy(DEV, BOT, "staging").state is State.LIVE
    services.world.clock.advance(seconds=SOAK.total_seconds())
    pending = services.requests.promote(DEV, BOT, "prod")
    assert pending.state is State.PENDING_APPROVAL
    return pending


def staging(services: Services, health: Health) -> None:
    services.world.runtime.current[(BOT, "staging")].health = health


def refused_and_not_counted(services: Services, pending: Deployment, error: type) -> str:
    """Approve as ULEAD1: refused with `error`, no vote stored, still pending, audited."""
    audit_before = len(services.world.tables.audit)
    with pytest.raises(error) as caught:
        services.requests.approve(LEAD1, pending.id or 0)
    assert services.world.tables.votes == {}
    assert services.world.tables.deployments[pending.id or 0].state is State.PENDING_APPROVAL
    [event] = services.world.tables.audit[audit_before:]
    assert (event.actor, event.action, event.outcome) == ("ULEAD1", "approve", Outcome.REFUSED)
    message = caught.value.message
    assert message.startswith(f"your approval of #{pending.id} is not counted: ")
    assert "waits for approval until" in (caught.value.hint or "")
    return str(message)


def test_an_approval_while_staging_fails_its_checks_is_refused_and_not_counted(
    services: Services,
) -> None:
    pending = waiting(services)
    staging(services, Health.UNHEALTHY)
    services.health.check_all()  # a failing check: staging is not healthy any more

    why = refused_and_not_counted(services, pending, NotPromotable)
    assert "v1 in staging is not healthy" in why

    # healthy again, but the soak starts over from the passing check
    staging(services, Health.HEALTHY)
    services.health.check_all()
    assert "needs 10m of soak" in refused_and_not_counted(services, pending, NotPromotable)
    services.world.clock.advance(seconds=SOAK.total_seconds())
    services.requests.approve(LEAD1, pending.id or 0)
    assert services.requests.approve(LEAD2, pending.id or 0).state is State.LIVE


def test_a_look_now_counts_even_before_a_health_check_noticed(services: Services) -> None:
    pending = waiting(services)
    staging(services, Health.UNHEALTHY)  # no health round yet: only a look now sees it

    assert "(health: unhealthy)" in refused_and_not_counted(services, pending, NotPromotable)


def test_an_open_alert_on_staging_refuses_the_approval(services: Services) -> None:
    pending = waiting(services)
    now = services.world.clock.now()
    services.world.tables.alerts[1] = Alert(
        bot=BOT,
        env="staging",
        source="alertmanager",
        fingerprint="f1",
        summary="error rate above 5%",
        first_seen=now,
        last_seen=now,
        id=1,
    )

    why = refused_and_not_counted(services, pending, NotPromotable)
    assert "has an open alert: error rate above 5% (alert #1)" in why

    services.world.tables.alerts[1] = services.world.tables.alerts[1].resolve(at=now)
    assert services.requests.approve(LEAD1, pending.id or 0).state is State.PENDING_APPROVAL


def test_a_lock_refuses_every_approval_not_only_the_last(services: Services) -> None:
    pending = waiting(services)
    services.locks.lock(DEV, BOT, "prod", reason="incident 42")

    assert "incident 42" in refused_and_not_counted(services, pending, Locked)

    services.locks.unlock(DEV, BOT, "prod")
    assert services.requests.approve(LEAD1, pending.id or 0).state is State.PENDING_APPROVAL


def test_a_freeze_refuses_the_approval(services: Services) -> None:
    pending = waiting(services)
    now = services.world.clock.now()
    services.world.freezes.windows["prod"] = FreezeWindow(
        "0 17 * * FRI", now - timedelta(hours=1), now + timedelta(hours=1)
    )

    assert "frozen until" in refused_and_not_counted(services, pending, Frozen)


def test_a_reject_needs_no_healthy_staging(services: Services) -> None:
    pending = waiting(services)
    staging(services, Health.UNHEALTHY)
    assert services.requests.reject(LEAD1, pending.id or 0).state is State.REJECTED


def test_once_staging_runs_another_release_the_request_is_superseded(services: Services) -> None:
    pending = waiting(services)
    services.world.source.add_commit(BOT, "main", "b" * 40)
    services.requests.deploy(DEV, BOT, "staging")

    with pytest.raises(AlreadyDecided, match="it is superseded"):
        services.requests.approve(LEAD1, pending.id or 0)
    assert services.world.tables.deployments[pending.id or 0].state is State.SUPERSEDED
    assert services.world.tables.votes == {}
