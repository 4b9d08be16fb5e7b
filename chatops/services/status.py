"""Answers `status`: what runs where, its health, alerts, locks and pending approvals."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from chatops.domain.alerts import Alert
from chatops.domain.catalog import Catalog
from chatops.domain.deployment import Deployment, State
from chatops.domain.health import Health
from chatops.domain.names import validate_name
from chatops.domain.verification import Assessment
from chatops.errors import ChatOpsError
from chatops.services.observing import HealthObserver
from chatops.services.ports import Clock
from chatops.services.runs import downstream_soak, verifications_of
from chatops.services.status_reads import ReadsFactory
from chatops.services.views import StatusRow

__all__ = ["Status"]

log = logging.getLogger(__name__)


def _recorded_health(deployment: Deployment | None, open_alerts: Sequence[Alert]) -> Health:
    """Health as the last checks left it, without asking an engine."""
    if deployment is None:
        return Health.UNKNOWN
    if open_alerts:
        return Health.UNHEALTHY
    return Health.HEALTHY if deployment.healthy_since is not None else Health.UNKNOWN


class Status:
    """Answers `status`: what runs where, its health, alerts, locks and pending approvals."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        reads: ReadsFactory,
        clock: Clock,
        observer: HealthObserver,
    ) -> None:
        self._catalog = catalog
        self._reads = reads
        self._clock = clock
        self._observer = observer

    def status(self, bot: str | None = None, *, probe: bool = True) -> list[StatusRow]:
        """What runs where, its health, open alerts, locks and pending approvals.

        `probe` asks the engines for health now; otherwise health is what the checks
        recorded (an open alert: unhealthy; healthy since a time: healthy).

        Raises:
            NotFound: unknown bot.
        """
        catalog = self._catalog
        bots = [catalog.bot(validate_name("bot", bot)).name] if bot else sorted(catalog.bots)
        rows: list[StatusRow] = []
        now = self._clock.now()
        # three queries, and three per environment with `verify`, whatever the number of
        # bots: the web overview renders this for hundreds
        with self._reads() as reads:
            facts = reads.status.facts(bots[0] if bot else None)
            live = {(d.bot, d.env): d for d in facts.live}
            in_progress: dict[tuple[str, str], Deployment] = {}
            pending: dict[tuple[str, str], list[Deployment]] = defaultdict(list)
            for d in facts.active:
                if d.state is State.PENDING_APPROVAL:
                    pending[(d.bot, d.env)].insert(0, d)  # newest first, as before
                else:
                    in_progress[(d.bot, d.env)] = d
            locks = {(lock.bot, lock.env): lock for lock in facts.locks}
            open_alerts: dict[tuple[str, str], list[Alert]] = defaultdict(list)
            for alert in facts.open_alerts:
                open_alerts[(alert.bot, alert.env)].append(alert)
            verified: dict[int, Assessment] = {}
            for env, environment in catalog.environments.items():
                if environment.verify is None:
                    continue
                # three queries per verified environment, whatever the number of bots
                verified |= verifications_of(
                    reads,
                    env,
                    environment.verify,
                    [d for (_, e), d in live.items() if e == env],
                    soak=downstream_soak(catalog, env),
                    now=now,
                )
            for name in bots:
                for env in catalog.bots[name].targets:
                    key = (name, env)
                    lock = locks.get(key)
                    lock = lock if lock is not None and lock.active(now) else None
                    if (
                        key not in live
                        and key not in in_progress
                        and not pending[key]
                        and lock is None
                    ):
                        continue
                    deployment = live.get(key)
                    alerts = tuple(open_alerts[key])
                    rows.append(
                        StatusRow(
                            bot=name,
                            env=env,
                            deployment=deployment,
                            # what the checks recorded; a probe below replaces it
                            health=_recorded_health(deployment, alerts),
                            verification=verified.get(deployment.id or 0) if deployment else None,
                            lock=lock,
                            pending=tuple(pending[key]),
                            in_progress=in_progress.get(key),
                            open_alerts=alerts,
                        )
                    )
        if probe:
            return [self._with_health(row) for row in rows]
        return rows

    def _with_health(self, row: StatusRow) -> StatusRow:
        if row.deployment is None:
            return row
        try:
            observation = self._observer.observe(row.bot, row.env)
        except ChatOpsError as exc:
            log.warning("could not observe %s in %s: %s", row.bot, row.env, exc)
            return replace(row, health=Health.UNKNOWN)  # not seen now: not what was recorded
        health = observation.overall
        return replace(row, health=Health.UNKNOWN if health is Health.STARTING else health)
