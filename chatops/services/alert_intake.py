"""Alertmanager's webhook: each incoming alert opens, repeats or resolves one of ours."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from chatops.domain.alerts import Alert
from chatops.domain.catalog import Catalog
from chatops.errors import NotFound
from chatops.services.context import Actor
from chatops.services.masking import Masker
from chatops.services.ports import Clock, UnitOfWorkFactory

if TYPE_CHECKING:  # alerts re-exports this module's values: no import back at run time
    from chatops.services.alerts import AlertService

__all__ = ["ALERTMANAGER", "INSTANCE_LABEL", "AlertIntake", "IncomingAlert", "IngestResult"]

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


class AlertIntake:
    """Applies Alertmanager's alerts to the live deployments they name."""

    def __init__(
        self,
        catalog: Catalog,
        uow: UnitOfWorkFactory,
        *,
        clock: Clock,
        masker: Masker,
        alerts: AlertService,
    ) -> None:
        self._catalog = catalog
        self._uow = uow
        self._clock = clock
        self._masker = masker
        self._alerts = alerts

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
        if instance is not None and instance != self._catalog.instance:
            raise _IgnoredAlertError(
                f"it is labelled {INSTANCE_LABEL}={instance!r}, for another chatops instance "
                f"than this one ({self._catalog.instance!r})"
            )
        if not incoming.bot or not incoming.env:
            raise _IgnoredAlertError("it has no `bot` and `env` labels")
        bot, env = incoming.bot, incoming.env
        try:
            self._catalog.target(bot, env)
        except NotFound as exc:
            raise _IgnoredAlertError(exc.message) from None
        with self._uow() as uow:
            live = uow.deployments.live(bot, env)
            open_alert = uow.alerts.open_for(bot, env, incoming.fingerprint)
        if incoming.status == "resolved":
            if open_alert is None or open_alert.id is None:
                raise _IgnoredAlertError(f"no open alert of {bot} in {env} has this fingerprint")
            self._alerts.resolve(ALERTMANAGER, open_alert.id)
            return "resolved"
        if incoming.status != "firing":
            raise _IgnoredAlertError(f"unknown status {incoming.status!r}")
        if live is None:
            raise _IgnoredAlertError(f"nothing of {bot} is live in {env}")
        now = self._clock.now()
        _, opened = self._alerts.fire(
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
                detail=self._masker.masked(bot, env, _detail(incoming)),
            ),
        )
        return "opened" if opened else "updated"


def _detail(incoming: IncomingAlert) -> str:
    lines = [incoming.description] if incoming.description != incoming.summary else []
    skip = {"bot", "env"}
    labels = ", ".join(f"{k}={v}" for k, v in sorted(incoming.labels.items()) if k not in skip)
    if labels:
        lines.append(f"labels: {labels}")
    if incoming.generator_url:
        lines.append(f"source: {incoming.generator_url}")
    return "\n".join(line for line in lines if line)
