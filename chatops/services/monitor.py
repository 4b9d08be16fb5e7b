"""Watching what runs: health checks, incidents and auto-rollback, soak notices, reconcile.

The scheduler calls `check_environment` at each environment's health interval.
Failures in a row are counted in memory per (bot, env); `unhealthy_threshold`
of them make an incident, which opens one alert (kept in the store) and may
roll back automatically. One passing check ends the incident.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from chatops.domain.alerts import Alert
from chatops.domain.catalog import Catalog, Environment
from chatops.domain.deployment import IN_PROGRESS_STATES, Deployment, State
from chatops.domain.health import Health, Observation, Verdict, judge
from chatops.domain.policy import format_duration
from chatops.domain.verification import RunState
from chatops.errors import ChatOpsError, UserError
from chatops.services.alerts import AlertService
from chatops.services.context import Actor, Deps
from chatops.services.ports import Conflict, UnitOfWork
from chatops.services.queries import observe_health
from chatops.services.requests import Requests
from chatops.services.runs import verification_of

__all__ = ["MONITOR", "CheckResult", "Monitor"]

log = logging.getLogger(__name__)

MONITOR = Actor("chatops", "monitor")


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


class Monitor:
    """Health checks of live deployments, and what follows from them."""

    def __init__(self, deps: Deps, requests: Requests) -> None:
        self._deps = deps
        self._requests = requests
        self._alerts = AlertService(deps)
        self._tracks: dict[tuple[str, str], _Track] = {}
        self._env_locks: dict[str, threading.Lock] = {}
        # automatic rollbacks still running on a worker → the alert that started them
        self._rolling_back: dict[int, int] = {}

    # ── health checks ───────────────────────────────────────────────────────

    def check_all(self) -> list[CheckResult]:
        """One health round in every environment.

        Raises:
            StoreError: the database cannot be reached.
        """
        results: list[CheckResult] = []
        for env in self._deps.catalog.environments:
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
        environment = self._deps.catalog.environment(env)
        with self._env_locks.setdefault(env, threading.Lock()):
            # three queries a round, whatever the number of bots: checks stay cheap
            with self._deps.uow() as uow:
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
            self._follow_rollbacks(env)
            self._resolve_replaced(env, {d.id for d in live}, busy)
        return results

    def _check(
        self, environment: Environment, deployment: Deployment, alerting: Collection[str]
    ) -> CheckResult:
        """Observe one live deployment; `alerting`: fingerprints of open alerts in its env."""
        deps = self._deps
        bot, env = deployment.bot, deployment.env
        started = deps.clock.now()
        try:
            observation = observe_health(deps, bot, env)
        except ChatOpsError as exc:
            log.warning("could not check %s in %s: %s", bot, env, exc)
            return CheckResult(bot, env, deployment.id, skipped=f"could not observe it: {exc}")
        finally:
            deps.metrics.health_check(
                bot, env, seconds=(deps.clock.now() - started).total_seconds()
            )
        track = self._track(deployment)
        wrong_release = _wrong_release(observation, deployment)
        verdict = judge(
            # a wrong release counts as failing, though it may be healthy itself
            dataclasses.replace(observation, health=Health.UNHEALTHY)
            if wrong_release
            else observation,
            failures_before=track.failures,
            restarts_before=observation.restarts if track.restarts is None else track.restarts,
            threshold=environment.unhealthy_threshold,
        )
        track.failures, track.restarts = verdict.failures_in_a_row, observation.restarts
        result = CheckResult(bot, env, deployment.id, observation, verdict)
        if verdict.failures_in_a_row == 0:
            return dataclasses.replace(result, alert=self._recover(deployment, alerting))
        problem = wrong_release or _problem(observation, verdict)
        result = dataclasses.replace(result, problem=problem)
        # soak means healthy without a break: any failing check starts it over
        self._set_healthy_since(deployment, None)
        if not verdict.incident:
            return result
        alert, rollback = self._incident(environment, deployment, observation, problem)
        return dataclasses.replace(result, alert=alert, rollback=rollback)

    def _incident(
        self,
        environment: Environment,
        deployment: Deployment,
        observation: Observation,
        problem: str,
    ) -> tuple[Alert, Deployment | None]:
        """Open (or repeat) the alert; on a new incident, maybe roll back automatically."""
        now = self._deps.clock.now()
        alert, opened = self._fire(
            deployment,
            fingerprint=_health_fingerprint(deployment),
            problem=problem,
            detail=_detail(observation),
        )
        live_at = deployment.live_at
        if (
            not opened
            or not environment.auto_rollback
            or live_at is None
            or now - live_at > environment.auto_rollback_window
        ):
            return alert, None
        after = format_duration(now - live_at)
        why = f"v{deployment.version} went unhealthy {after} after going live: {problem}"
        return self._auto_rollback(alert, deployment, why)

    def _auto_rollback(
        self, alert: Alert, deployment: Deployment, reason: str
    ) -> tuple[Alert, Deployment | None]:
        rollback: Deployment | None = None
        try:
            rollback = self._requests.rollback(
                MONITOR, deployment.bot, deployment.env, automatic=True, reason=reason
            )
        except UserError as exc:
            action = f"automatic rollback refused: {exc}"
        except ChatOpsError as exc:
            action = f"automatic rollback failed: {exc}"
        else:
            action = _rollback_action(rollback)
            if rollback.in_progress and rollback.id is not None and alert.id is not None:
                self._rolling_back[rollback.id] = alert.id
        log.warning("%s in %s: %s", deployment.bot, deployment.env, action)
        return self._alerts.record_action(alert, action), rollback

    def _follow_rollbacks(self, env: str) -> None:
        """Say on the alert how an automatic rollback that ran on a worker ended."""
        for rollback_id, alert_id in list(self._rolling_back.items()):
            with self._deps.uow() as uow:
                rollback = uow.deployments.get(rollback_id)
                alert = uow.alerts.get(alert_id)
            if rollback is not None and (rollback.env != env or rollback.in_progress):
                continue
            self._rolling_back.pop(rollback_id, None)
            if rollback is not None and alert is not None:
                self._alerts.record_action(alert, _rollback_action(rollback))

    def _recover(self, deployment: Deployment, alerting: Collection[str]) -> Alert | None:
        """A passing check: the deployment is healthy again, and its alert resolved."""
        if deployment.healthy_since is None:
            self._set_healthy_since(deployment, self._deps.clock.now(), only_if_unset=True)
        if _health_fingerprint(deployment) not in alerting:
            return None
        with self._deps.uow() as uow:
            alert = uow.alerts.open_for(
                deployment.bot, deployment.env, _health_fingerprint(deployment)
            )
        if alert is None or alert.id is None:
            return None
        return self._alerts.resolve(MONITOR, alert.id)

    def _resolve_replaced(self, env: str, live_ids: set[int | None], busy: set[str]) -> None:
        """Resolve chatops' alerts of deployments no longer live (rolled back, replaced)."""
        with self._deps.uow() as uow:
            stale = [
                a
                for a in uow.alerts.open_alerts()
                if a.env == env
                and a.source == "chatops"
                and a.deployment_id not in live_ids
                and a.bot not in busy
            ]
        for alert in stale:
            if alert.id is not None:
                self._alerts.resolve(MONITOR, alert.id, action_taken=f"no longer live in {env}")

    # ── soak ────────────────────────────────────────────────────────────────

    def notify_soaked(self) -> list[Deployment]:
        """Say once per deployment when it has soaked long enough to be promoted.

        Where its environment has `verify`, the soak is over only once verification
        passed: until then nothing is said, and the notice follows the pass.

        Returns:
            The deployments announced by this call.

        Raises:
            StoreError: the database cannot be reached.
        """
        deps = self._deps
        catalog = deps.catalog
        now = deps.clock.now()
        told: list[Deployment] = []
        with deps.uow() as uow:
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
                    noticed = uow.deployments.save(deployment.with_changes(soak_noticed_at=now))
                except Conflict:
                    continue  # superseded or changed meanwhile: looked at again next time
                told.append(noticed)
            uow.commit()
        for deployment in told:
            deps.tell_soaked(deps.view(deployment.id or 0))
        return told

    # ── reconcile ───────────────────────────────────────────────────────────

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
        deps = self._deps
        with deps.uow() as uow:
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
        fingerprint = _reconcile_fingerprint(deployment)
        try:
            observation = self._deps.runtime(env).observe(bot, env)
        except ChatOpsError as exc:
            log.warning("reconcile could not observe %s in %s: %s", bot, env, exc)
            return None
        problem = _wrong_release(observation, deployment)
        if not problem:
            if fingerprint not in open_fingerprints:
                return None
            with self._deps.uow() as uow:
                alert = uow.alerts.open_for(bot, env, fingerprint)
            if alert is None or alert.id is None:
                return None
            return self._alerts.resolve(MONITOR, alert.id)
        if (
            _health_fingerprint(deployment) in open_fingerprints
            and fingerprint not in open_fingerprints
        ):
            return None  # the health check has told the channel already
        alert, _ = self._fire(
            deployment, fingerprint=fingerprint, problem=problem, detail=_detail(observation)
        )
        return alert

    def _warn_unrecorded(self, known: set[tuple[str, str]]) -> None:
        # environments on one engine share one runtime: list each engine once
        for runtime in {id(r): r for r in self._deps.runtimes.values()}.values():
            try:
                managed = list(runtime.list_managed())
            except ChatOpsError as exc:
                log.warning("reconcile could not list containers: %s", exc)
                continue
            for bot, env, release, running in managed:
                if (bot, env) not in known:
                    log.warning(
                        "%s-%s (%s, %s) carries chatops' labels, but chatops has no live "
                        "deployment of %s in %s",
                        bot,
                        env,
                        release or "no release label",
                        "running" if running else "stopped",
                        bot,
                        env,
                    )

    # ── helpers ─────────────────────────────────────────────────────────────

    def _fire(
        self, deployment: Deployment, *, fingerprint: str, problem: str, detail: str
    ) -> tuple[Alert, bool]:
        deps = self._deps
        bot, env = deployment.bot, deployment.env
        now = deps.clock.now()
        return self._alerts.fire(
            MONITOR,
            Alert(
                bot=bot,
                env=env,
                source="chatops",
                fingerprint=fingerprint,
                summary=f"{bot} v{deployment.version} in {env} is unhealthy: "
                + deps.masked(bot, env, problem),
                first_seen=now,
                last_seen=now,
                deployment_id=deployment.id,
                version=deployment.version,
                detail=deps.masked(bot, env, detail),
            ),
        )

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
        with self._deps.uow() as uow:
            current = uow.deployments.get_for_update(deployment.id)
            if current is None or current.state is not State.LIVE:
                return
            if current.healthy_since == since or (only_if_unset and current.healthy_since):
                return
            uow.deployments.save(current.with_changes(healthy_since=since))
            uow.commit()


def _health_fingerprint(deployment: Deployment) -> str:
    return f"chatops:{deployment.bot}:{deployment.env}:{deployment.id}"


def _reconcile_fingerprint(deployment: Deployment) -> str:
    return f"chatops:reconcile:{deployment.bot}:{deployment.env}:{deployment.id}"


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


def _wrong_release(observation: Observation, deployment: Deployment) -> str:
    """Why what runs is not what chatops deployed, or "" when it is.

    A runtime that reports no release label is trusted, rather than alerting forever.
    """
    if observation.missing:
        return "the container is gone"
    expected = f"v{deployment.version}"
    if observation.release is not None and observation.release != expected:
        return f"runs {observation.release} but chatops deployed {expected}"
    return ""


def _problem(observation: Observation, verdict: Verdict) -> str:
    if observation.failing:
        return observation.explain()
    if verdict.restarted:
        return f"the runtime restarted it ({observation.restarts} restarts so far)"
    return observation.explain()


def _detail(observation: Observation) -> str:
    parts = [f"health: {observation.health}", "running" if observation.running else "not running"]
    if observation.exit_code is not None:
        parts.append(f"exit code {observation.exit_code}")
    if observation.oom_killed:
        parts.append("OOMKilled")
    parts.append(f"restarts: {observation.restarts}")
    if observation.release:
        parts.append(f"release: {observation.release}")
    if observation.detail:
        parts.append(observation.detail)
    return "; ".join(parts)


def _rollback_action(rollback: Deployment) -> str:
    if rollback.state is State.LIVE:
        return f"rolled back automatically to v{rollback.version}"
    if rollback.state is State.FAILED:
        return f"automatic rollback to v{rollback.version} failed: {rollback.reason}"
    return f"rolling back automatically to v{rollback.version} (deployment #{rollback.id})"
