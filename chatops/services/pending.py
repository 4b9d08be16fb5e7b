"""Pending requests that can no longer be approved: past their approval time, or superseded."""

from __future__ import annotations

from datetime import datetime

from chatops.domain.audit import Outcome
from chatops.domain.catalog import Environment
from chatops.domain.deployment import Deployment, Event, Kind
from chatops.services.auditor import Auditor
from chatops.services.context import Actor
from chatops.services.ports import UnitOfWork

__all__ = ["settle_if_stale"]

SCHEDULER = Actor("chatops", "scheduler")


def settle_if_stale(
    auditor: Auditor,
    uow: UnitOfWork,
    deployment: Deployment,
    environment: Environment,
    now: datetime,
) -> Deployment | None:
    """Expire or supersede `deployment` (pending in `environment`) when it went stale.

    A promotion is bound to the release that was live in its source environment:
    once that changes, the request and its approvals are void.

    Returns:
        The settled deployment (saved and audited in `uow`), or None when it still stands.
    """
    if now >= deployment.requested_at + environment.approval_ttl:
        event, why = Event.EXPIRED, "no decision within the approval time"
    elif deployment.kind is Kind.PROMOTE and environment.promote_from:
        live = uow.deployments.live(deployment.bot, environment.promote_from)
        if live is not None and live.version == deployment.version:
            return None
        now_live = f"v{live.version}" if live else "nothing"
        event = Event.SUPERSEDED
        why = f"{environment.promote_from} now runs {now_live}; promote again"
    else:
        return None
    settled = uow.deployments.save(deployment.advance(event, at=now, reason=why))
    auditor.record(uow, SCHEDULER, str(event), Outcome.OK, of=deployment, detail=why)
    return settled
