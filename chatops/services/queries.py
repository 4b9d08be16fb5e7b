"""Read-only use cases: releases, status, one deployment's view, logs."""

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
from chatops.errors import ChatOpsError, NotFound
from chatops.services.channel import Links
from chatops.services.context import Actor
from chatops.services.history import ReleaseHistory
from chatops.services.logs import LogReader
from chatops.services.observing import HealthObserver
from chatops.services.ports import (
    Clock,
    Directory,
    SourceControl,
    UnitOfWorkFactory,
)
from chatops.services.runs import downstream_soak, verifications_of
from chatops.services.status_reads import ReadsFactory
from chatops.services.viewfacts import ViewFacts
from chatops.services.viewing import MAX_CHANGES, build_view
from chatops.services.views import DeploymentView, ReleaseRow, StatusRow

__all__ = ["MAX_CHANGES", "Queries", "ReleaseHistory", "Status", "Views"]

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


class Views:
    """Reads one deployment, and builds its view: everything a message about it shows."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        directory: Directory,
        source: SourceControl,
        links: Links,
    ) -> None:
        self._catalog = catalog
        self._uow = uow
        self._clock = clock
        self._directory = directory
        self._source = source
        self._links = links
        self._facts = ViewFacts()  # what the views of one deployment reuse, once read

    def deployment(self, deployment_id: int) -> Deployment:
        """Raises NotFound for an unknown id."""
        with self._uow() as uow:
            deployment = uow.deployments.get(deployment_id)
        if deployment is None:
            raise NotFound(f"there is no deployment #{deployment_id}")
        return deployment

    def view(self, deployment_id: int, *, saved: Deployment | None = None) -> DeploymentView:
        """Everything a message about one deployment shows (see `viewing.build_view`).

        Args:
            saved: the deployment as its writer has just saved it: not read again
                (unless it is live).

        Raises:
            NotFound: there is no deployment `deployment_id`.
        """
        return build_view(
            deployment_id,
            saved=saved,
            catalog=self._catalog,
            uow=self._uow,
            clock=self._clock,
            directory=self._directory,
            source=self._source,
            page_url=self._links.page_url,
            facts=self._facts,
        )


class Queries:
    """The read side, as the entry points ask it: releases, status, a deployment and its
    view, logs."""

    def __init__(
        self, *, history: ReleaseHistory, status: Status, views: Views, logs: LogReader
    ) -> None:
        self._history = history
        self._status = status
        self._views = views
        self._logs = logs

    def releases(self, bot: str, env: str | None = None, *, limit: int = 20) -> list[ReleaseRow]:
        """See `ReleaseHistory.releases`."""
        return self._history.releases(bot, env, limit=limit)

    def status(self, bot: str | None = None, *, probe: bool = True) -> list[StatusRow]:
        """See `Status.status`."""
        return self._status.status(bot, probe=probe)

    def deployment(self, deployment_id: int) -> Deployment:
        """Raises NotFound for an unknown id."""
        return self._views.deployment(deployment_id)

    def view(self, deployment_id: int, *, saved: Deployment | None = None) -> DeploymentView:
        """See `Views.view`."""
        return self._views.view(deployment_id, saved=saved)

    def logs(self, actor: Actor, bot: str, env: str, *, lines: int = 50) -> str:
        """See `LogReader.logs`."""
        return self._logs.logs(actor, bot, env, lines=lines)

    def alert_logs(self, actor: Actor, alert_id: int, *, lines: int = 50) -> tuple[Alert, str]:
        """See `LogReader.alert_logs`."""
        return self._logs.alert_logs(actor, alert_id, lines=lines)
