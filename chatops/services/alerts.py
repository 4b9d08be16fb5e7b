"""Alerts: opening, repeating and resolving them, whoever raises them.

One alert per incident, keyed by (bot, env, fingerprint): a repeat bumps the
open alert's count and updates its channel message in place; an acknowledged
alert still counts repeats but no longer tells the channel about them.
People acknowledge alerts through `acknowledgements`; Alertmanager's webhook
comes in through `alert_intake`.
"""

from __future__ import annotations

import dataclasses
import logging

from chatops.domain.alerts import Alert, AlertState
from chatops.domain.audit import Outcome
from chatops.errors import NotFound
from chatops.services.alert_intake import ALERTMANAGER, IncomingAlert, IngestResult
from chatops.services.alert_notices import AlertNotices
from chatops.services.auditor import Auditor
from chatops.services.context import Actor
from chatops.services.ports import Clock, Metrics, UnitOfWork, UnitOfWorkFactory

__all__ = [
    "ALERTMANAGER",
    "AlertService",
    "IncomingAlert",
    "IngestResult",
    "audit_alert",
]

log = logging.getLogger(__name__)


class AlertService:
    """The lifecycle of alerts, whoever raises them (chatops' monitor, verification or
    Alertmanager)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        auditor: Auditor,
        metrics: Metrics,
        notices: AlertNotices,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._auditor = auditor
        self._metrics = metrics
        self._notices = notices

    def fire(self, actor: Actor, alert: Alert) -> tuple[Alert, bool]:
        """Open `alert`, or repeat the open alert of the same incident; tell the channel.

        A repeat takes the new summary, detail and deployment, and is not told
        when the alert is acknowledged.

        Returns:
            The stored alert, and whether it was opened now.

        Raises:
            StoreError: the database cannot be reached.
        """
        firing = 0
        with self._uow() as uow:
            existing = uow.alerts.open_for(alert.bot, alert.env, alert.fingerprint)
            if existing is None:
                stored = uow.alerts.add(alert)
                self._audit(uow, actor, "alert", Outcome.FAILED, stored, detail=stored.summary)
                firing = _open_count(uow, alert.bot, alert.env)
            else:
                stored = uow.alerts.save(
                    dataclasses.replace(
                        existing.repeat(at=alert.last_seen, detail=alert.detail),
                        summary=alert.summary,
                        deployment_id=alert.deployment_id or existing.deployment_id,
                        version=alert.version or existing.version,
                    )
                )
            uow.commit()
        opened = existing is None
        log.warning(
            "alert #%s %s in %s %s (%s, seen %s time(s)): %s",
            stored.id,
            stored.bot,
            stored.env,
            "opened" if opened else "repeated",
            stored.source,
            stored.count,
            stored.summary,
        )
        if opened:
            self._metrics.alerts_firing(alert.bot, alert.env, firing)
        if opened or stored.state is AlertState.FIRING:
            self._notices.tell(stored)
        return stored, opened

    def resolve(self, actor: Actor, alert_id: int, *, action_taken: str | None = None) -> Alert:
        """Resolve an open alert and tell the channel (in the alert's thread).

        Raises:
            NotFound: there is no alert `alert_id`.
        """
        with self._uow() as uow:
            alert = uow.alerts.get(alert_id)
            if alert is None:
                raise NotFound(f"there is no alert #{alert_id}")
            if not alert.open:
                return alert
            alert = alert.resolve(at=self._clock.now())
            if action_taken and not alert.action_taken:
                alert = dataclasses.replace(alert, action_taken=action_taken)
            alert = uow.alerts.save(alert)
            self._audit(uow, actor, "alert_resolved", Outcome.OK, alert, detail=alert.summary)
            firing = _open_count(uow, alert.bot, alert.env)
            uow.commit()
        log.warning(
            "alert #%s %s in %s resolved by %s: %s",
            alert.id,
            alert.bot,
            alert.env,
            actor.user,
            alert.summary,
        )
        self._metrics.alerts_firing(alert.bot, alert.env, firing)
        self._notices.tell(alert)
        return alert

    def record_action(self, alert: Alert, action_taken: str) -> Alert:
        """Note what chatops did about a stored alert (an automatic rollback); tell the channel.

        Raises:
            NotFound: the alert is not in the store.
        """
        with self._uow() as uow:
            current = uow.alerts.get(alert.id) if alert.id is not None else None
            if current is None:
                raise NotFound(f"there is no alert #{alert.id}")
            alert = uow.alerts.save(dataclasses.replace(current, action_taken=action_taken))
            uow.commit()
        self._notices.tell(alert)
        return alert

    def _audit(
        self,
        uow: UnitOfWork,
        actor: Actor,
        action: str,
        outcome: Outcome,
        alert: Alert,
        *,
        detail: str = "",
    ) -> None:
        audit_alert(
            self._auditor,
            uow,
            actor=actor,
            action=action,
            outcome=outcome,
            alert=alert,
            detail=detail,
        )


def audit_alert(
    auditor: Auditor,
    uow: UnitOfWork,
    *,
    actor: Actor,
    action: str,
    outcome: Outcome,
    alert: Alert,
    detail: str = "",
) -> None:
    """Record `action` on `alert` in the audit log, inside `uow`."""
    auditor.record(
        uow,
        actor,
        action,
        outcome,
        bot=alert.bot,
        env=alert.env,
        deployment_id=alert.deployment_id,
        detail=f"alert #{alert.id}" + (f": {detail}" if detail else ""),
    )


def _open_count(uow: UnitOfWork, bot: str, env: str) -> int:
    return sum(1 for a in uow.alerts.open_alerts(bot) if a.env == env)
