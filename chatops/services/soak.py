"""Soak notices: say once when a live deployment has been healthy long enough to promote."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Protocol

from chatops.domain.catalog import Catalog
from chatops.domain.deployment import Deployment
from chatops.domain.verification import RunState
from chatops.services.channel import Channel
from chatops.services.ports import Clock, Conflict, UnitOfWork, UnitOfWorkFactory
from chatops.services.runs import verification_of
from chatops.services.views import DeploymentView

__all__ = ["DeploymentViews", "SoakNotices"]


class DeploymentViews(Protocol):
    """Builds what a message about one deployment shows (`Queries.view`)."""

    def view(self, deployment_id: int) -> DeploymentView: ...


class SoakNotices:
    """Tells the channel when a deployment may be promoted, once per deployment."""

    def __init__(
        self,
        catalog: Catalog,
        uow: UnitOfWorkFactory,
        *,
        clock: Clock,
        views: DeploymentViews,
        channel: Channel,
    ) -> None:
        self._catalog = catalog
        self._uow = uow
        self._clock = clock
        self._views = views
        self._channel = channel

    def notify_soaked(self) -> list[Deployment]:
        """Say once per deployment when it has soaked long enough to be promoted.

        Where its environment has `verify`, the soak is over only once verification
        passed: until then nothing is said, and the notice follows the pass.

        Returns:
            The deployments announced by this call.

        Raises:
            StoreError: the database cannot be reached.
        """
        catalog = self._catalog
        now = self._clock.now()
        told: list[Deployment] = []
        with self._uow() as uow:
            for deployment in uow.deployments.all_live():
                bot = catalog.bots.get(deployment.bot)
                since = deployment.healthy_since
                if bot is None or since is None or deployment.soak_noticed_at is not None:
                    continue
                ready = [
                    d
                    for d in catalog.downstream_of(deployment.env)
                    if d.name in bot.targets
                    and d.soak.total_seconds() > 0
                    and now - since >= d.soak
                    and _live_version(uow.deployments.live(bot.name, d.name)) != deployment.version
                    and _verified(uow, catalog, deployment, soak=d.soak, now=now)
                ]
                if not ready:
                    continue
                try:
                    noticed = uow.deployments.save(
                        dataclasses.replace(deployment, soak_noticed_at=now)
                    )
                except Conflict:
                    continue  # superseded or changed meanwhile: looked at again next time
                told.append(noticed)
            uow.commit()
        for deployment in told:
            self._channel.tell_soaked(self._views.view(deployment.id or 0))
        return told


def _verified(
    uow: UnitOfWork, catalog: Catalog, deployment: Deployment, *, soak: timedelta, now: datetime
) -> bool:
    """Whether verification lets `deployment` be announced as promotable after `soak`:
    passed, or nothing to verify (an environment without `verify`)."""
    environment = catalog.environments.get(deployment.env)
    spec = environment.verify if environment is not None else None
    if spec is None:
        return True
    assessment = verification_of(uow, spec, deployment, soak=soak, now=now)
    return assessment is not None and assessment.state is RunState.PASSED


def _live_version(deployment: Deployment | None) -> int | None:
    return deployment.version if deployment else None
