"""Health checks of live deployments: observe, judge, and record what was seen.

The scheduler calls `check_environment` at each environment's health interval.
Failures in a row are counted in memory per (bot, env); `unhealthy_threshold`
of them make an incident (`incidents`), which opens one alert and may roll back
automatically. One passing check ends the incident, and starts the soak.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from chatops.domain.alerts import Alert
from chatops.domain.catalog import Catalog, Environment
from chatops.domain.deployment import IN_PROGRESS_STATES, Deployment, State
from chatops.domain.health import Health, Observation, Verdict, judge
from chatops.errors import ChatOpsError
from chatops.services.incidents import Incidents, wrong_release
from chatops.services.ports import Clock, Metrics, UnitOfWorkFactory

__all__ = ["CheckResult", "HealthChecks", "Observe"]

log = logging.getLogger(__name__)

Observe = Callable[[str, str], Observation]
"""What runs for (bot, env) now, with the bot's own health rule applied
(`observing.HealthObserver.observe`)."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One health check of one live deployment."""

    bot: str
    env: str
    deployment_id: int | None
    observation: Observation | None = None  # None when it could not be observed
    verdict: Verdict | None = None
    problem: str = ""  # why the check failed; empty when it passed
    alert: Alert | None = None  # the alert this check opened, repeated or resolved
    rollback: Deployment | None = None  # the automatic rollback this check started
    skipped: str = ""  # why nothing was checked

    @property
    def passed(self) -> bool:
        return self.verdict is not None and self.verdict.failures_in_a_row == 0


@dataclass(slots=True)
class _Track:
    """What the last checks of one live deployment saw."""

    deployment_id: int | None
    failures: int = 0
    restarts: int | None = None  # None until the first check


class HealthChecks:
    """Checks live deployments and records since when each is healthy."""

    def __init__(
        self,
        catalog: Catalog,
        uow: UnitOfWorkFactory,
        *,
        clock: Clock,
        observe: Observe,
        metrics: Metrics,
        incidents: Incidents,
    ) -> None:
        self._catalog = catalog
        self._uow = uow
        self._clock = clock
        self._observe = observe
        self._metrics = metrics
        self._incidents = incidents
        self._tracks: dict[tuple[str, str], _Track] = {}
        self._env_locks: dict[str, threading.Lock] = {}

    def check_all(self) -> list[CheckResult]:
        """One health round in every environment.

        Raises:
            StoreError: the database cannot be reached.
        """
        results: list[CheckResult] = []
        for env in self._catalog.environments:
            results.extend(self.check_environment(env))
        return results

    def check_environment(self, env: str) -> list[CheckResult]:
        """Check every live deployment in `env` once; open, repeat or resolve alerts.

        A (bot, env) that a deployment is working on is skipped: what runs
        there is changing on purpose.

        Raises:
            NotFound: `env` is not a configured environment.
            StoreError: the database cannot be reached.
        """
        environment = self._catalog.environment(env)
        with self._env_locks.setdefault(env, threading.Lock()):
            # three queries a round, whatever the number of bots: checks stay cheap
            with self._uow() as uow:
                live = [d for d in uow.deployments.all_live() if d.env == env]
                working = uow.deployments.in_state(IN_PROGRESS_STATES)
                busy = {d.bot for d in working if d.env == env}
                alerting = {a.fingerprint for a in uow.alerts.open_alerts() if a.env == env}
            self._forget_all_but(env, {d.bot for d in live})
            results = [
                self._check(environment, d, alerting)
                if d.bot not in busy
                else CheckResult(d.bot, env, d.id, skipped="a deployment is in progress")
                for d in live
            ]
            self._incidents.follow_rollbacks(env)
            self._incidents.resolve_replaced(env, {d.id for d in live}, busy)
        return results

    def _check(
        self, environment: Environment, deployment: Deployment, alerting: Collection[str]
    ) -> CheckResult:
        """Observe one live deployment; `alerting`: fingerprints of open alerts in its env."""
        bot, env = deployment.bot, deployment.env
        started = self._clock.now()
        try:
            observation = self._observe(bot, env)
        except ChatOpsError as exc:
            log.warning("could not check %s in %s: %s", bot, env, exc)
            return CheckResult(bot, env, deployment.id, skipped=f"could not observe it: {exc}")
        finally:
            seconds = (self._clock.now() - started).total_seconds()
            self._metrics.health_check(bot, env, seconds=seconds)
        track = self._track(deployment)
        wrong = wrong_release(observation, deployment)
        verdict = judge(
            # a wrong release counts as failing, though it may be healthy itself
            dataclasses.replace(observation, health=Health.UNHEALTHY) if wrong else observation,
            failures_before=track.failures,
            restarts_before=observation.restarts if track.restarts is None else track.restarts,
            threshold=environment.unhealthy_threshold,
        )
        track.failures, track.restarts = verdict.failures_in_a_row, observation.restarts
        result = CheckResult(bot, env, deployment.id, observation, verdict)
        if verdict.failures_in_a_row == 0:
            if deployment.healthy_since is None:
                self._set_healthy_since(deployment, self._clock.now(), only_if_unset=True)
            return dataclasses.replace(result, alert=self._incidents.recover(deployment, alerting))
        problem = wrong or _problem(observation, verdict)
        result = dataclasses.replace(result, problem=problem)
        # soak means healthy without a break: any failing check starts it over
        self._set_healthy_since(deployment, None)
        if not verdict.incident:
            return result
        alert, rollback = self._incidents.open(environment, deployment, observation, problem)
        return dataclasses.replace(result, alert=alert, rollback=rollback)

    def _track(self, deployment: Deployment) -> _Track:
        key = (deployment.bot, deployment.env)
        track = self._tracks.get(key)
        if track is None or track.deployment_id != deployment.id:
            track = self._tracks[key] = _Track(deployment.id)
        return track

    def _forget_all_but(self, env: str, bots: set[str]) -> None:
        for key in [k for k in self._tracks if k[1] == env and k[0] not in bots]:
            del self._tracks[key]

    def _set_healthy_since(
        self, deployment: Deployment, since: datetime | None, *, only_if_unset: bool = False
    ) -> None:
        if deployment.id is None:
            return
        with self._uow() as uow:
            current = uow.deployments.get_for_update(deployment.id)
            if current is None or current.state is not State.LIVE:
                return
            if current.healthy_since == since or (only_if_unset and current.healthy_since):
                return
            uow.deployments.save(dataclasses.replace(current, healthy_since=since))
            uow.commit()


def _problem(observation: Observation, verdict: Verdict) -> str:
    if observation.failing:
        return observation.explain()
    if verdict.restarted:
        return f"the runtime restarted it ({observation.restarts} restarts so far)"
    return observation.explain()
