"""Incidents: the alerts chatops itself opens about what runs, and automatic rollback.

A health incident opens (or repeats) one alert per live deployment; a new one
may roll the environment back when it comes soon enough after going live. A
passing check, or the deployment no longer being live, resolves it. The
rollbacks still running on a worker are followed, and their outcome is noted
on the alert that started them.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Protocol

from chatops.domain.alerts import Alert
from chatops.domain.catalog import Environment
from chatops.domain.deployment import Deployment, State
from chatops.domain.health import Observation
from chatops.domain.policy import format_duration
from chatops.errors import ChatOpsError, InternalError, UserError
from chatops.services.alerts import AlertService
from chatops.services.context import Actor
from chatops.services.masking import Masker
from chatops.services.ports import Clock, UnitOfWorkFactory

__all__ = [
    "MONITOR",
    "Incidents",
    "Rollbacks",
    "describe",
    "health_fingerprint",
    "reconcile_fingerprint",
    "wrong_release",
]

log = logging.getLogger(__name__)

MONITOR = Actor("chatops", "monitor")


class Rollbacks(Protocol):
    """The one use case an incident needs: rolling an environment back (`Requests`)."""

    def rollback(
        self,
        actor: Actor,
        bot: str,
        env: str,
        *,
        automatic: bool = False,
        reason: str | None = None,
    ) -> Deployment: ...


class Incidents:
    """Opens, repeats and resolves chatops' own alerts; decides on automatic rollback."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        alerts: AlertService,
        masker: Masker,
        rollbacks: Rollbacks,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._alerts = alerts
        self._masker = masker
        self._rollbacks = rollbacks
        # automatic rollbacks still running on a worker → the alert that started them
        self._rolling_back: dict[int, int] = {}

    def open(
        self,
        environment: Environment,
        deployment: Deployment,
        observation: Observation,
        problem: str,
    ) -> tuple[Alert, Deployment | None]:
        """Open (or repeat) the health alert; on a new incident, maybe roll back automatically."""
        now = self._clock.now()
        alert, opened = self.fire(
            deployment,
            fingerprint=health_fingerprint(deployment),
            problem=problem,
            detail=describe(observation),
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

    def recover(self, deployment: Deployment, alerting: Collection[str]) -> Alert | None:
        """A passing check resolves the deployment's health alert, if one is open.

        `alerting`: fingerprints of the open alerts in its environment.
        """
        if health_fingerprint(deployment) not in alerting:
            return None
        return self.resolve_open(deployment, health_fingerprint(deployment))

    def resolve_open(self, deployment: Deployment, fingerprint: str) -> Alert | None:
        """Resolve the open alert of `deployment`'s (bot, env) with `fingerprint`, if any."""
        with self._uow() as uow:
            alert = uow.alerts.open_for(deployment.bot, deployment.env, fingerprint)
        if alert is None or alert.id is None:
            return None
        return self._alerts.resolve(MONITOR, alert.id)

    def follow_rollbacks(self, env: str) -> None:
        """Say on the alert how an automatic rollback that ran on a worker ended."""
        for rollback_id, alert_id in list(self._rolling_back.items()):
            with self._uow() as uow:
                rollback = uow.deployments.get(rollback_id)
                alert = uow.alerts.get(alert_id)
            if rollback is not None and (rollback.env != env or rollback.in_progress):
                continue
            self._rolling_back.pop(rollback_id, None)
            if rollback is not None and alert is not None:
                self._alerts.record_action(alert, _rollback_action(rollback))

    def resolve_replaced(self, env: str, live_ids: set[int | None], busy: set[str]) -> None:
        """Resolve chatops' alerts of deployments no longer live (rolled back, replaced)."""
        with self._uow() as uow:
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

    def fire(
        self, deployment: Deployment, *, fingerprint: str, problem: str, detail: str
    ) -> tuple[Alert, bool]:
        """Open or repeat chatops' alert `fingerprint` about `deployment`, secrets masked."""
        bot, env = deployment.bot, deployment.env
        now = self._clock.now()
        return self._alerts.fire(
            MONITOR,
            Alert(
                bot=bot,
                env=env,
                source="chatops",
                fingerprint=fingerprint,
                summary=f"{bot} v{deployment.version} in {env} is unhealthy: "
                + self._masker.masked(bot, env, problem),
                first_seen=now,
                last_seen=now,
                deployment_id=deployment.id,
                version=deployment.version,
                detail=self._masker.masked(bot, env, detail),
            ),
        )

    def _auto_rollback(
        self, alert: Alert, deployment: Deployment, reason: str
    ) -> tuple[Alert, Deployment | None]:
        rollback: Deployment | None = None
        try:
            rollback = self._rollbacks.rollback(
                MONITOR, deployment.bot, deployment.env, automatic=True, reason=reason
            )
        except UserError as exc:
            action = f"automatic rollback refused: {exc}"
        except InternalError:
            raise  # a bug, not a failed rollback: it reaches the job's log with its traceback
        except ChatOpsError as exc:
            action = f"automatic rollback failed: {exc}"
        else:
            action = _rollback_action(rollback)
            if rollback.in_progress and rollback.id is not None and alert.id is not None:
                self._rolling_back[rollback.id] = alert.id
        log.warning("%s in %s: %s", deployment.bot, deployment.env, action)
        return self._alerts.record_action(alert, action), rollback


def health_fingerprint(deployment: Deployment) -> str:
    """The fingerprint of the health alert of one live deployment."""
    return f"chatops:{deployment.bot}:{deployment.env}:{deployment.id}"


def reconcile_fingerprint(deployment: Deployment) -> str:
    """The fingerprint of the alert saying what runs is not what chatops deployed."""
    return f"chatops:reconcile:{deployment.bot}:{deployment.env}:{deployment.id}"


def wrong_release(observation: Observation, deployment: Deployment) -> str:
    """Why what runs is not what chatops deployed, or "" when it is.

    A runtime that reports no release label is trusted, rather than alerting forever.
    """
    if observation.missing:
        return "the container is gone"
    expected = f"v{deployment.version}"
    if observation.release is not None and observation.release != expected:
        return f"runs {observation.release} but chatops deployed {expected}"
    return ""


def describe(observation: Observation) -> str:
    """An observation in one line, for an alert's detail."""
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
