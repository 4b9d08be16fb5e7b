"""Every service an entry point may use, one lazy property each (a single constructor
call naming the collaborators it uses); the pipeline's parts are in running.py."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from chatops.bootstrap.running import Running

if TYPE_CHECKING:
    from chatops.bootstrap.monitoring import Monitoring
    from chatops.services.alert_notices import AlertNotices
    from chatops.services.alerts import AlertService
    from chatops.services.approvals import Approvals
    from chatops.services.autodeploy import AutoDeploy
    from chatops.services.board import Board
    from chatops.services.cancel import Cancellations
    from chatops.services.deliveries import Deliveries
    from chatops.services.deploys import Deploys
    from chatops.services.history import ReleaseHistory
    from chatops.services.intake import Intake
    from chatops.services.leases import Leases
    from chatops.services.locks import LockService
    from chatops.services.logs import LogReader
    from chatops.services.promotability import Promotability
    from chatops.services.queries import Queries
    from chatops.services.recovery import Recovery
    from chatops.services.requests import Requests
    from chatops.services.retention import Retention
    from chatops.services.rollbacks import Rollbacks
    from chatops.services.status import Status
    from chatops.services.throttle import Throttle
    from chatops.services.verification import Verifier

__all__ = ["Services"]


class Services(Running):
    """The read side, the requests, verification, monitoring and the housekeeping jobs."""

    # ── reading ─────────────────────────────────────────────────────────────

    @cached_property
    def logs(self) -> LogReader:
        from chatops.services.logs import LogReader

        return LogReader(
            self.catalog,
            uow=self.uow,
            directory=self.directory,
            engines=self.engines,
            masker=self.masker,
            auditor=self.auditor,
        )

    @cached_property
    def release_history(self) -> ReleaseHistory:
        from chatops.services.history import ReleaseHistory

        return ReleaseHistory(
            self.catalog, reads=self.reads, clock=self.clock, directory=self.directory
        )

    @cached_property
    def status(self) -> Status:
        from chatops.services.status import Status

        return Status(self.catalog, reads=self.reads, clock=self.clock, observer=self.observer)

    @cached_property
    def queries(self) -> Queries:
        from chatops.services.queries import Queries

        return Queries(
            history=self.release_history, status=self.status, views=self.views, logs=self.logs
        )

    # ── requests ────────────────────────────────────────────────────────────

    @cached_property
    def intake(self) -> Intake:
        from chatops.services.intake import Dispatch, Holds, Intake

        return Intake(
            uow=self.uow,
            clock=self.clock,
            processes=self.processes,
            auditor=self.auditor,
            holds=Holds(self.catalog, freezes=self.freezes, clock=self.clock),
            dispatch=Dispatch(announcer=self.announcer, launcher=self.launcher, uow=self.uow),
        )

    @cached_property
    def promotability(self) -> Promotability:
        from chatops.services.promotability import Promotability

        return Promotability(self.catalog, observer=self.observer)

    @cached_property
    def deploys(self) -> Deploys:
        from chatops.services.deploys import Deploys

        return Deploys(
            self.catalog,
            uow=self.uow,
            clock=self.clock,
            directory=self.directory,
            intake=self.intake,
            promotability=self.promotability,
        )

    @cached_property
    def rollbacks(self) -> Rollbacks:
        from chatops.services.rollbacks import Rollbacks

        return Rollbacks(
            self.catalog,
            uow=self.uow,
            clock=self.clock,
            directory=self.directory,
            intake=self.intake,
        )

    @cached_property
    def approvals(self) -> Approvals:
        from chatops.services.approvals import Approvals

        return Approvals(
            self.catalog,
            uow=self.uow,
            clock=self.clock,
            directory=self.directory,
            intake=self.intake,
            promotability=self.promotability,
        )

    @cached_property
    def requests(self) -> Requests:
        from chatops.services.requests import Requests

        return Requests(deploys=self.deploys, rollbacks=self.rollbacks, approvals=self.approvals)

    @cached_property
    def locks(self) -> LockService:
        from chatops.services.locks import LockService

        return LockService(
            self.catalog,
            uow=self.uow,
            clock=self.clock,
            directory=self.directory,
            auditor=self.auditor,
            notifier=self.notifier,
        )

    @cached_property
    def cancels(self) -> Cancellations:
        from chatops.services.cancel import Cancellations

        return Cancellations(
            self.catalog,
            uow=self.uow,
            clock=self.clock,
            directory=self.directory,
            auditor=self.auditor,
            announcer=self.announcer,
        )

    @cached_property
    def recovery(self) -> Recovery:
        from chatops.services.recovery import Orphans, Recovery, Restorer

        uow, clock = self.uow, self.clock
        return Recovery(
            uow=uow,
            clock=clock,
            orphans=Orphans(
                uow=uow,
                clock=clock,
                processes=self.processes,
                tuning=self.tuning,
                heartbeat=self.heartbeat,
            ),
            restorer=Restorer(self.catalog, uow=uow, secrets=self.secrets, engines=self.engines),
            auditor=self.auditor,
            announcer=self.announcer,
        )

    # ── verification and monitoring ─────────────────────────────────────────

    @cached_property
    def alert_notices(self) -> AlertNotices:
        from chatops.services.alert_notices import AlertNotices

        return AlertNotices(self.uow, self.catalog, links=self.links, channel=self.chat_channel)

    @cached_property
    def alerts(self) -> AlertService:
        """The process's one alert service (the monitor's and the verifier's)."""
        from chatops.services.alerts import AlertService

        return AlertService(
            self.uow,
            self.clock,
            auditor=self.auditor,
            metrics=self.metrics,
            notices=self.alert_notices,
        )

    @cached_property
    def verifier(self) -> Verifier:
        from chatops.services.measuring import Measurer
        from chatops.services.verification import Verdicts, Verifier

        clock = self.clock
        return Verifier(
            self.catalog,
            uow=self.uow,
            clock=clock,
            measurer=Measurer(
                query=self.metric_query(), clock=clock, metrics=self.metrics, masker=self.masker
            ),
            announcer=self.announcer,
            verdicts=Verdicts(clock=clock, alerts=self.alerts, requests=self.requests),
        )

    @cached_property
    def monitoring(self) -> Monitoring:
        """Alerts, health checks, incidents, soak notices and reconcile, sharing one state."""
        from chatops.bootstrap.monitoring import build_monitoring

        return build_monitoring(
            self.catalog,
            uow=self.uow,
            clock=self.clock,
            directory=self.directory,
            metrics=self.metrics,
            engines=self.engines,
            auditor=self.auditor,
            masker=self.masker,
            channel=self.chat_channel,
            notices=self.alert_notices,
            alerts=self.alerts,
            observe=self.observer.observe,
            rollbacks=self.requests,
            views=self.views,
        )

    # ── jobs ────────────────────────────────────────────────────────────────

    @cached_property
    def autodeploy(self) -> AutoDeploy:
        from chatops.services.autodeploy import AutoDeploy

        return AutoDeploy(
            self.catalog,
            uow=self.uow,
            clock=self.clock,
            source=self.source,
            auditor=self.auditor,
            requests=self.requests,
        )

    @cached_property
    def deliveries(self) -> Deliveries:
        from chatops.services.deliveries import Deliveries

        return Deliveries(uow=self.uow, clock=self.clock)

    @cached_property
    def throttle(self) -> Throttle:
        from chatops.services.throttle import Throttle

        return Throttle(clock=self.clock, auditor=self.auditor)

    @cached_property
    def retention(self) -> Retention:
        from chatops.services.retention import Retention

        return Retention(
            self.catalog, uow=self.uow, clock=self.clock, engines=self.engines, workdir=self.workdir
        )

    @cached_property
    def leases(self) -> Leases:
        from chatops.services.leases import Leases

        return Leases(self.uow, self.clock, self.processes)

    @cached_property
    def board(self) -> Board:
        from chatops.services.board import Board

        return Board(
            self.catalog,
            uow=self.uow,
            source=self.source,
            workdir=self.workdir,
            queries=self.queries,
            logs=self.logs,
        )
