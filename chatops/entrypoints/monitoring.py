"""Wires the services that watch what runs: alerts, health checks, incidents, soak, reconcile.

One place builds them for `serve`, the console, the demo and the tests, so the
monitor's services share one `Incidents` (it remembers the automatic rollbacks
it started) and one `AlertService`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from chatops.services.acknowledgements import Acknowledgements
from chatops.services.alert_intake import AlertIntake
from chatops.services.alert_notices import AlertNotices
from chatops.services.alerts import AlertService
from chatops.services.channel import Links
from chatops.services.context import Deps
from chatops.services.health_checks import HealthChecks
from chatops.services.incidents import Incidents, Rollbacks
from chatops.services.queries import observe_health
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


def build_monitoring(deps: Deps, rollbacks: Rollbacks, views: DeploymentViews) -> Monitoring:
    """The monitor's services over `deps`' ports; `rollbacks` is `Requests`, `views` `Queries`."""
    uow, clock, catalog = deps.uow, deps.clock, deps.catalog
    notices = AlertNotices(uow, catalog, links=Links(deps.public_url), channel=deps.channel)
    alerts = AlertService(uow, clock, auditor=deps.auditor, metrics=deps.metrics, notices=notices)
    incidents = Incidents(uow, clock, alerts=alerts, masker=deps.masker, rollbacks=rollbacks)
    return Monitoring(
        notices=notices,
        alerts=alerts,
        acknowledgements=Acknowledgements(
            uow,
            catalog,
            directory=deps.directory,
            clock=clock,
            auditor=deps.auditor,
            notices=notices,
        ),
        intake=AlertIntake(catalog, uow, clock=clock, masker=deps.masker, alerts=alerts),
        incidents=incidents,
        health=HealthChecks(
            catalog,
            uow,
            clock=clock,
            observe=partial(observe_health, deps),
            metrics=deps.metrics,
            incidents=incidents,
        ),
        soak=SoakNotices(catalog, uow, clock=clock, views=views, channel=deps.channel),
        reconciler=Reconciler(uow, deps.engines, incidents),
    )
