"""Wires the services that watch what runs: alerts, health checks, incidents, soak, reconcile.

One place builds them for `serve`, the console, the demo and the tests, so the
monitor's services share one `Incidents` (it remembers the automatic rollbacks
it started) and one `AlertService`.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatops.domain.catalog import Catalog
from chatops.services.acknowledgements import Acknowledgements
from chatops.services.alert_intake import AlertIntake
from chatops.services.alert_notices import AlertNotices
from chatops.services.alerts import AlertService
from chatops.services.auditor import Auditor
from chatops.services.channel import Channel
from chatops.services.engines import Engines
from chatops.services.health_checks import HealthChecks, Observe
from chatops.services.incidents import Incidents, Rollbacks
from chatops.services.masking import Masker
from chatops.services.ports import Clock, Directory, Metrics, UnitOfWorkFactory
from chatops.services.reconcile import Reconciler
from chatops.services.soak import DeploymentViews, SoakNotices

__all__ = ["Monitoring", "build_monitoring"]


@dataclass(frozen=True, slots=True)
class Monitoring:
    """The alert and monitor services of one process, wired together."""

    notices: AlertNotices
    alerts: AlertService
    acknowledgements: Acknowledgements
    intake: AlertIntake
    incidents: Incidents
    health: HealthChecks
    soak: SoakNotices
    reconciler: Reconciler


def build_monitoring(
    catalog: Catalog,
    *,
    uow: UnitOfWorkFactory,
    clock: Clock,
    directory: Directory,
    metrics: Metrics,
    engines: Engines,
    auditor: Auditor,
    masker: Masker,
    channel: Channel,
    notices: AlertNotices,
    alerts: AlertService,
    observe: Observe,
    rollbacks: Rollbacks,
    views: DeploymentViews,
) -> Monitoring:
    """The monitor's services over the collaborators they name.

    `notices` and `alerts` are the process's one alert notices and alert service (the
    verifier raises alerts too); `observe` is `HealthObserver.observe`; `rollbacks`
    is `Requests` and `views` `Views`.
    """
    incidents = Incidents(uow, clock, alerts=alerts, masker=masker, rollbacks=rollbacks)
    return Monitoring(
        notices=notices,
        alerts=alerts,
        acknowledgements=Acknowledgements(
            uow, catalog, directory=directory, clock=clock, auditor=auditor, notices=notices
        ),
        intake=AlertIntake(catalog, uow, clock=clock, masker=masker, alerts=alerts),
        incidents=incidents,
        health=HealthChecks(
            catalog, uow, clock=clock, observe=observe, metrics=metrics, incidents=incidents
        ),
        soak=SoakNotices(catalog, uow, clock=clock, views=views, channel=channel),
        reconciler=Reconciler(uow, engines, incidents, instance=catalog.instance),
    )
