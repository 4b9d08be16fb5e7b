"""Reconcile: compare what the engines run with what chatops recorded."""

from __future__ import annotations

import logging

from chatops.domain.alerts import Alert
from chatops.domain.deployment import IN_PROGRESS_STATES, Deployment
from chatops.domain.names import unit_name
from chatops.errors import ChatOpsError
from chatops.services.engines import Engines
from chatops.services.incidents import (
    Incidents,
    describe,
    health_fingerprint,
    reconcile_fingerprint,
    wrong_release,
)
from chatops.services.ports import UnitOfWorkFactory

__all__ = ["Reconciler"]

log = logging.getLogger(__name__)


class Reconciler:
    """Alerts on every live deployment that does not run as recorded."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        engines: Engines,
        incidents: Incidents,
        *,
        instance: str | None = None,
    ) -> None:
        self._uow = uow
        self._engines = engines
        self._incidents = incidents
        self._instance = instance  # names the units in what is logged

    def reconcile(self) -> list[Alert]:
        """Compare what runs with what chatops recorded; alert on every difference.

        A live deployment whose container is gone or runs another release gets
        an alert (resolved once they agree again). Containers chatops labelled
        for a (bot, env) without a live deployment are only logged.

        Returns:
            The alerts this call opened, repeated or resolved.

        Raises:
            StoreError: the database cannot be reached.
        """
        with self._uow() as uow:
            live = uow.deployments.all_live()
            busy = {(d.bot, d.env) for d in uow.deployments.in_state(IN_PROGRESS_STATES)}
            open_fingerprints = {a.fingerprint for a in uow.alerts.open_alerts()}
        touched: list[Alert] = []
        for deployment in live:
            if (deployment.bot, deployment.env) in busy:
                continue
            alert = self._reconcile_one(deployment, open_fingerprints)
            if alert is not None:
                touched.append(alert)
        self._warn_unrecorded({(d.bot, d.env) for d in live} | busy)
        return touched

    def _reconcile_one(self, deployment: Deployment, open_fingerprints: set[str]) -> Alert | None:
        bot, env = deployment.bot, deployment.env
        fingerprint = reconcile_fingerprint(deployment)
        try:
            observation = self._engines.runtime(env).observe(bot, env)
        except ChatOpsError as exc:
            log.warning("reconcile could not observe %s in %s: %s", bot, env, exc)
            return None
        problem = wrong_release(observation, deployment)
        if not problem:
            if fingerprint not in open_fingerprints:
                return None
            return self._incidents.resolve_open(deployment, fingerprint)
        if (
            health_fingerprint(deployment) in open_fingerprints
            and fingerprint not in open_fingerprints
        ):
            return None  # the health check has told the channel already
        alert, _ = self._incidents.fire(
            deployment, fingerprint=fingerprint, problem=problem, detail=describe(observation)
        )
        return alert

    def _warn_unrecorded(self, known: set[tuple[str, str]]) -> None:
        # environments on one engine share one runtime: list each engine once
        for runtime in {id(r): r for r in self._engines.runtimes.values()}.values():
            try:
                managed = list(runtime.list_managed())
            except ChatOpsError as exc:
                log.warning("reconcile could not list containers: %s", exc)
                continue
            for bot, env, release, running in managed:
                if (bot, env) not in known:
                    log.warning(
                        "%s (%s, %s) carries chatops' labels, but chatops has no live "
                        "deployment of %s in %s",
                        unit_name(bot, env, self._instance),
                        release or "no release label",
                        "running" if running else "stopped",
                        bot,
                        env,
                    )
