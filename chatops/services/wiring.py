"""Connects the services over the ports `bootstrap` chose: each service is built once,
here, and handed the collaborators it names; no service builds another.

`Deps` is only the bag of chosen ports on its way in (the monitor and the alert
service still take it whole until they name their ports too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chatops.domain.verification import Outcome
from chatops.services.alerts import AlertService
from chatops.services.announcer import Announcer
from chatops.services.approvals import Approvals
from chatops.services.attempt import Steps
from chatops.services.auditor import Auditor
from chatops.services.autodeploy import AutoDeploy
from chatops.services.board import Board
from chatops.services.building import Builds, BuildSlot, Images, Releases
from chatops.services.cancel import Cancellations
from chatops.services.channel import Channel, Links
from chatops.services.ci_gate import CiGate
from chatops.services.context import Deps
from chatops.services.deliveries import Deliveries
from chatops.services.deploys import Deploys
from chatops.services.engines import Engines
from chatops.services.failures import Failures
from chatops.services.going_live import GoLive
from chatops.services.intake import Dispatch, Holds, Intake
from chatops.services.launchers import InlineLauncher
from chatops.services.locks import LockService
from chatops.services.logs import LogReader
from chatops.services.masking import Masker
from chatops.services.measuring import Measurer
from chatops.services.observing import HealthObserver
from chatops.services.pipeline import Pipeline, Preparation
from chatops.services.ports import Launcher, MetricQuery
from chatops.services.promotability import Promotability
from chatops.services.queries import Queries, ReleaseHistory, Status, Views
from chatops.services.recovery import Heartbeat, Orphans, Recovery, Restorer
from chatops.services.requests import Requests
from chatops.services.retention import Retention
from chatops.services.rollbacks import Rollbacks
from chatops.services.rollout import HealthWait, Rollout
from chatops.services.throttle import Throttle
from chatops.services.verification import Verdicts, Verifier

__all__ = ["Services", "wire"]

LauncherFactory = Callable[[Callable[[int], object]], Launcher]


@dataclass(frozen=True)
class Services:
    """Every service, built once."""

    requests: Requests
    queries: Queries
    views: Views
    announcer: Announcer
    locks: LockService
    cancels: Cancellations
    heartbeat: Heartbeat
    recovery: Recovery
    pipeline: Pipeline
    launcher: Launcher
    verifier: Verifier
    alerts: AlertService
    autodeploy: AutoDeploy
    board: Board
    deliveries: Deliveries
    throttle: Throttle
    retention: Retention
    auditor: Auditor


def wire(
    deps: Deps,
    *,
    launcher: LauncherFactory = InlineLauncher,
    metric_query: MetricQuery | None = None,
    heartbeat: Heartbeat | None = None,
) -> Services:
    """Build every service over the ports in `deps`.

    Args:
        launcher: makes the launcher that runs queued deployments from `Pipeline.execute`.
        metric_query: what verification asks (Prometheus); none: verification is not wired
            to a metric source and any `verify` check reads as Prometheus being down.
        heartbeat: this process's heartbeat, when one exists already (else a new one).
    """
    catalog, uow, clock, tuning = deps.catalog, deps.uow, deps.clock, deps.tuning
    engines = Engines(deps.runtimes, deps.builders)
    auditor = Auditor(uow, clock)
    masker = Masker(catalog, deps.secrets)
    observer = HealthObserver(catalog, engines, deps.probe)
    views = Views(
        catalog,
        uow=uow,
        clock=clock,
        directory=deps.directory,
        source=deps.source,
        links=Links(deps.public_url),
    )
    announcer = Announcer(views, Channel(deps.notifier))
    logs = LogReader(
        catalog, uow=uow, directory=deps.directory, engines=engines, masker=masker, auditor=auditor
    )
    queries = Queries(
        history=ReleaseHistory(catalog, uow=uow, clock=clock, directory=deps.directory),
        status=Status(catalog, uow=uow, clock=clock, observer=observer),
        views=views,
        logs=logs,
    )

    heartbeat = heartbeat or Heartbeat(
        uow=uow, clock=clock, processes=deps.processes, tuning=tuning
    )
    steps = Steps(uow=uow, clock=clock, announcer=announcer, tuning=tuning)
    slot = BuildSlot(
        uow=uow, source=deps.source, notifier=deps.notifier, auditor=auditor, steps=steps
    )
    images = Images(
        catalog,
        engines=engines,
        source=deps.source,
        workdir=deps.workdir,
        notifier=deps.notifier,
        steps=steps,
    )
    builds = Builds(catalog, metrics=deps.metrics, slot=slot, images=images, steps=steps)
    go_live = GoLive(
        catalog, uow=uow, auditor=auditor, metrics=deps.metrics, source=deps.source, steps=steps
    )
    pipeline = Pipeline(
        steps=steps,
        heartbeat=heartbeat,
        metrics=deps.metrics,
        preparation=Preparation(
            catalog,
            secrets=deps.secrets,
            releases=Releases(uow=uow, source=deps.source, steps=steps, builds=builds),
            ci=CiGate(ci=deps.ci, auditor=auditor, steps=steps),
        ),
        rollout=Rollout(
            catalog,
            uow=uow,
            engines=engines,
            steps=steps,
            health=HealthWait(observer=observer, engines=engines, steps=steps),
            go_live=go_live,
        ),
        failures=Failures(uow=uow, engines=engines, auditor=auditor, steps=steps),
    )
    chosen = launcher(pipeline.execute)

    holds = Holds(catalog, freezes=deps.freezes, clock=clock)
    intake = Intake(
        uow=uow,
        clock=clock,
        processes=deps.processes,
        auditor=auditor,
        holds=holds,
        dispatch=Dispatch(announcer=announcer, launcher=chosen, uow=uow),
    )
    promotability = Promotability(catalog, observer=observer)
    requests = Requests(
        deploys=Deploys(
            catalog,
            uow=uow,
            clock=clock,
            directory=deps.directory,
            intake=intake,
            promotability=promotability,
        ),
        rollbacks=Rollbacks(catalog, uow=uow, clock=clock, directory=deps.directory, intake=intake),
        approvals=Approvals(
            catalog,
            uow=uow,
            clock=clock,
            directory=deps.directory,
            intake=intake,
            promotability=promotability,
        ),
    )
    alerts = AlertService(deps)
    verifier = Verifier(
        catalog,
        uow=uow,
        clock=clock,
        measurer=Measurer(
            query=metric_query or _NoPrometheus(),
            clock=clock,
            metrics=deps.metrics,
            masker=masker,
        ),
        announcer=announcer,
        verdicts=Verdicts(clock=clock, alerts=alerts, requests=requests),
    )
    return Services(
        requests=requests,
        queries=queries,
        views=views,
        announcer=announcer,
        locks=LockService(
            catalog,
            uow=uow,
            clock=clock,
            directory=deps.directory,
            auditor=auditor,
            notifier=deps.notifier,
        ),
        cancels=Cancellations(
            catalog,
            uow=uow,
            clock=clock,
            directory=deps.directory,
            auditor=auditor,
            announcer=announcer,
        ),
        heartbeat=heartbeat,
        recovery=Recovery(
            uow=uow,
            clock=clock,
            orphans=Orphans(
                uow=uow, clock=clock, processes=deps.processes, tuning=tuning, heartbeat=heartbeat
            ),
            restorer=Restorer(catalog, uow=uow, secrets=deps.secrets, engines=engines),
            auditor=auditor,
            announcer=announcer,
        ),
        pipeline=pipeline,
        launcher=chosen,
        verifier=verifier,
        alerts=alerts,
        autodeploy=AutoDeploy(
            catalog,
            uow=uow,
            clock=clock,
            source=deps.source,
            auditor=auditor,
            requests=requests,
        ),
        board=Board(
            catalog,
            uow=uow,
            source=deps.source,
            workdir=deps.workdir,
            queries=queries,
            logs=logs,
        ),
        deliveries=Deliveries(uow=uow, clock=clock),
        throttle=Throttle(clock=clock, auditor=auditor),
        retention=Retention(catalog, uow=uow, clock=clock, engines=engines, workdir=deps.workdir),
        auditor=auditor,
    )


class _NoPrometheus:
    """Where no metric source is wired: every query reads as Prometheus being down."""

    def query(self, prometheus: str, query: str, *, timeout: float) -> Outcome:
        return Outcome(error="no metric source is wired", down=True)
