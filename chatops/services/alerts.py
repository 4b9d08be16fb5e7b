"""Alerts: opening, repeating, acknowledging and resolving them, and Alertmanager's webhook.

One alert per incident, keyed by (bot, env, fingerprint): a repeat bumps the
open alert's count and updates its channel message in place; an acknowledged
alert still counts repeats but no longer tells the channel about them.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from chatops.domain.alerts import Alert, AlertState
from chatops.domain.audit import Outcome
from chatops.domain.policy import check_acknowledger, rollback_target
from chatops.errors import AlreadyDecided, NotFound, NothingToRollBack
from chatops.services.context import Actor, Deps
from chatops.services.ports import UnitOfWork
from chatops.services.views import AlertView

__all__ = ["ALERTMANAGER", "AlertService", "IncomingAlert", "IngestResult"]

log = logging.getLogger(__name__)

ALERTMANAGER = Actor("alertmanager", "webhook")
INSTANCE_LABEL = "chatops_instance"
"""An Alertmanager label naming the chatops instance an alert is for (DESIGN §6)."""


@dataclass(frozen=True, slots=True)
class IncomingAlert:
    """One alert of an Alertmanager webhook (v4) payload, converted at the edge."""

    status: str  # "firing" or "resolved"
    bot: str | None
    env: str | None
    fingerprint: str
    summary: str  # annotations summary, else description, else alertname
    labels: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    starts_at: datetime | None = None  # when Alertmanager saw it begin
    generator_url: str = ""


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one webhook call did; `reasons` says why each ignored alert was ignored."""

    opened: int = 0
    updated: int = 0
    resolved: int = 0
    ignored: int = 0
    reasons: tuple[str, ...] = ()


class _IgnoredAlertError(Exception):
    """An incoming alert that matches nothing chatops runs; the message says why."""


class AlertService:
    """The lifecycle of alerts, whoever raises them (chatops' monitor or Alertmanager)."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    # ── people ──────────────────────────────────────────────────────────────

    def acknowledge(self, actor: Actor, alert_id: int) -> Alert:
        """Record that `actor` is on it: repeats stop notifying, the count goes on.

        Acknowledging an acknowledged alert changes nothing and returns it.

        Raises:
            NotFound: there is no alert `alert_id`.
            NotAllowed: `actor` is neither a deployer nor an approver of the alert's
                environment, nor an admin.
            AlreadyDecided: the alert is resolved already.
        """
        deps = self._deps
        with deps.refusals_audited(actor, "ack_alert"), deps.uow() as uow:
            alert = uow.alerts.get(alert_id)
            if alert is None:
                raise NotFound(f"there is no alert #{alert_id}")
            # who may is read from the stored alert's environment, not from the click
            environment = deps.catalog.environments.get(alert.env)
            check_acknowledger(
                alert.env,
                actor.user,
                deployers=deps.directory.expand(environment.deployers if environment else ()),
                approvers=deps.directory.expand(environment.approvers if environment else ()),
                admins=deps.catalog.admins,
            )
            if alert.state is AlertState.RESOLVED:
                raise AlreadyDecided(f"alert #{alert_id} is resolved already")
            if alert.state is AlertState.ACKNOWLEDGED:
                return alert
            alert = uow.alerts.save(alert.acknowledge(by=actor.user, at=deps.clock.now()))
            self._audit(uow, actor, "ack_alert", Outcome.OK, alert)
            uow.commit()
        deps.tell_alert(self.view(alert))
        return alert

    # ── Alertmanager ────────────────────────────────────────────────────────

    def ingest_alertmanager(self, alerts: Sequence[IncomingAlert]) -> IngestResult:
        """Open, repeat or resolve an alert per incoming one; ignore what matches nothing live.

        Idempotent: the same firing alert twice is one alert with count 2.

        Raises:
            StoreError: the database cannot be reached (later alerts are not applied).
        """
        done: Counter[str] = Counter()
        reasons: list[str] = []
        for incoming in alerts:
            try:
                done[self._ingest_one(incoming)] += 1
            except _IgnoredAlertError as ignored:
                reasons.append(f"alert {incoming.fingerprint}: {ignored}")
                log.info("ignored Alertmanager alert %s: %s", incoming.fingerprint, ignored)
        return IngestResult(
            opened=done["opened"],
            updated=done["updated"],
            resolved=done["resolved"],
            ignored=len(reasons),
            reasons=tuple(reasons),
        )

    def _ingest_one(self, incoming: IncomingAlert) -> str:
        """Apply one incoming alert: "opened", "updated" or "resolved".

        Raises:
            _IgnoredAlertError: it matches no bot, environment, live deployment or open alert.
        """
        instance = incoming.labels.get(INSTANCE_LABEL)
        if instance is not None and instance != self._deps.catalog.instance:
            raise _IgnoredAlertError(
                f"it is labelled {INSTANCE_LABEL}={instance!r}, for another chatops instance "
                f"than this one ({self._deps.catalog.instance!r})"
            )
        if not incoming.bot or not incoming.env:
            raise _IgnoredAlertError("it has no `bot` and `env` labels")
        bot, env = incoming.bot, incoming.env
        try:
            self._deps.catalog.target(bot, env)
        except NotFound as exc:
            raise _IgnoredAlertError(exc.message) from None
        with self._deps.uow() as uow:
            live = uow.deployments.live(bot, env)
            open_alert = uow.alerts.open_for(bot, env, incoming.fingerprint)
        if incoming.status == "resolved":
            if open_alert is None or open_alert.id is None:
                raise _IgnoredAlertError(f"no open alert of {bot} in {env} has this fingerprint")
            self.resolve(ALERTMANAGER, open_alert.id)
            return "resolved"
        if incoming.status != "firing":
            raise _IgnoredAlertError(f"unknown status {incoming.status!r}")
        if live is None:
            raise _IgnoredAlertError(f"nothing of {bot} is live in {env}")
        now = self._deps.clock.now()
        _, opened = self.fire(
            ALERTMANAGER,
            Alert(
                bot=bot,
                env=env,
                source="alertmanager",
                fingerprint=incoming.fingerprint,
                summary=incoming.summary,
                first_seen=incoming.starts_at or now,
                last_seen=now,
                deployment_id=live.id,
                version=live.version,
                detail=self._deps.masked(bot, env, _detail(incoming)),
            ),
        )
        return "opened" if opened else "updated"

    # ── shared by every source ──────────────────────────────────────────────

    def fire(self, actor: Actor, alert: Alert) -> tuple[Alert, bool]:
        """Open `alert`, or repeat the open alert of the same incident; tell the channel.

        A repeat takes the new summary, detail and deployment, and is not told
        when the alert is acknowledged.

        Returns:
            The stored alert, and whether it was opened now.

        Raises:
            StoreError: the database cannot be reached.
        """
        deps = self._deps
        firing = 0
        with deps.uow() as uow:
            existing = uow.alerts.open_for(alert.bot, alert.env, alert.fingerprint)
            if existing is None:
                stored = uow.alerts.add(alert)
                self._audit(uow, actor, "alert", Outcome.FAILED, stored, detail=stored.summary)
                firing = _open_count(uow, alert.bot, alert.env)
            else:
                stored = uow.alerts.save(
                    existing.repeat(at=alert.last_seen, detail=alert.detail).with_changes(
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
            deps.metrics.alerts_firing(alert.bot, alert.env, firing)
        if opened or stored.state is AlertState.FIRING:
            deps.tell_alert(self.view(stored))
        return stored, opened

    def resolve(self, actor: Actor, alert_id: int, *, action_taken: str | None = None) -> Alert:
        """Resolve an open alert and tell the channel (in the alert's thread).

        Raises:
            NotFound: there is no alert `alert_id`.
        """
        deps = self._deps
        with deps.uow() as uow:
            alert = uow.alerts.get(alert_id)
            if alert is None:
                raise NotFound(f"there is no alert #{alert_id}")
            if not alert.open:
                return alert
            alert = alert.resolve(at=deps.clock.now())
            if action_taken and not alert.action_taken:
                alert = alert.with_changes(action_taken=action_taken)
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
        deps.metrics.alerts_firing(alert.bot, alert.env, firing)
        deps.tell_alert(self.view(alert))
        return alert

    def record_action(self, alert: Alert, action_taken: str) -> Alert:
        """Note what chatops did about a stored alert (an automatic rollback); tell the channel.

        Raises:
            NotFound: the alert is not in the store.
        """
        with self._deps.uow() as uow:
            current = uow.alerts.get(alert.id) if alert.id is not None else None
            if current is None:
                raise NotFound(f"there is no alert #{alert.id}")
            alert = uow.alerts.save(current.with_changes(action_taken=action_taken))
            uow.commit()
        self._deps.tell_alert(self.view(alert))
        return alert

    def view(self, alert: Alert) -> AlertView:
        """Everything a message about `alert` shows; an open one offers a rollback target."""
        deps = self._deps
        with deps.uow() as uow:
            deployment = uow.deployments.get(alert.deployment_id) if alert.deployment_id else None
            version = alert.version or (deployment.version if deployment else None)
            release = uow.releases.get(alert.bot, version) if version else None
            rollback_to = _rollback_to(uow, alert.bot, alert.env) if alert.open else None
        return AlertView(
            alert=alert,
            channel=deps.catalog.channel_for(alert.env),
            release=release,
            deployed_by=deployment.requested_by if deployment else None,
            rollback_to=rollback_to,
            page_url=deps.page_url(alert.deployment_id),
        )

    # ── helpers ─────────────────────────────────────────────────────────────

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
        self._deps.audit(
            uow,
            actor,
            action,
            outcome,
            bot=alert.bot,
            env=alert.env,
            deployment_id=alert.deployment_id,
            detail=f"alert #{alert.id}" + (f": {detail}" if detail else ""),
        )


def _rollback_to(uow: UnitOfWork, bot: str, env: str) -> int | None:
    """The version a Rollback button would go to, if there is one."""
    try:
        return rollback_target(
            uow.deployments.history(bot, env, limit=500),
            current=uow.deployments.live(bot, env),
            to_version=None,
            built_versions=(),
            bot=bot,
            env=env,
        )
    except NothingToRollBack:
        return None


def _open_count(uow: UnitOfWork, bot: str, env: str) -> int:
    return sum(1 for a in uow.alerts.open_alerts(bot) if a.env == env)


def _detail(incoming: IncomingAlert) -> str:
    lines = [incoming.description] if incoming.description != incoming.summary else []
    skip = {"bot", "env"}
    labels = ", ".join(f"{k}={v}" for k, v in sorted(incoming.labels.items()) if k not in skip)
    if labels:
        lines.append(f"labels: {labels}")
    if incoming.generator_url:
        lines.append(f"source: {incoming.generator_url}")
    return "\n".join(line for line in lines if line)
