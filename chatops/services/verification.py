"""Metric verification of live releases (DESIGN §10): measure, record, and act on the verdict.

The scheduler calls `Verifier.verify_environment` every `verify.interval`. Each
live deployment of the environment is measured by every check, the
measurements are recorded, and the run (the release's continuous time live
there: a same-version redeploy continues it) is assessed:

- failed: an incident: an alert with Rollback, and an automatic rollback where
  `auto_rollback` is set and the release is within its window;
- inconclusive: an alert asking a person (Prometheus down never rolls back);
- passed or running: nothing to say; `check_promotable` reads the state.

Measuring stops once the release is promoted (live downstream) or failed.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from chatops.domain.alerts import Alert
from chatops.domain.catalog import Catalog, Environment
from chatops.domain.deployment import IN_PROGRESS_STATES, Deployment, State
from chatops.domain.durations import format_duration
from chatops.domain.policy import INCONCLUSIVE_FINGERPRINT
from chatops.domain.verification import (
    Assessment,
    Measurement,
    Outcome,
    RunState,
)
from chatops.errors import ChatOpsError, InternalError, UserError
from chatops.services.alerts import AlertService
from chatops.services.announcer import Announcer
from chatops.services.context import Actor
from chatops.services.measuring import Measurer
from chatops.services.ports import Clock, UnitOfWork, UnitOfWorkFactory
from chatops.services.requests import Requests
from chatops.services.runs import downstream_soak, verification_of

__all__ = ["KEEP_MEASUREMENTS", "VERIFIER", "Verdicts", "Verifier", "VerifyResult"]

log = logging.getLogger(__name__)

VERIFIER = Actor("chatops", "verify")
KEEP_MEASUREMENTS = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """One round of one live deployment."""

    bot: str
    env: str
    deployment_id: int | None
    measurements: tuple[Measurement, ...] = ()
    assessment: Assessment | None = None
    alert: Alert | None = None
    rollback: Deployment | None = None
    skipped: str = ""


class Verifier:
    """Measures live releases against their environment's `verify` checks."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        measurer: Measurer,
        announcer: Announcer,
        verdicts: Verdicts,
    ) -> None:
        self._catalog = catalog
        self._uow = uow
        self._clock = clock
        self._measurer = measurer
        self._announcer = announcer
        self._verdicts = verdicts
        self._env_locks: dict[str, threading.Lock] = {}
        # the last state seen of each deployment's run: a change is announced once, and
        # a failed run is not measured again (after a restart, one round finds it again)
        self._states: dict[int, RunState] = {}

    def verify_all(self) -> list[VerifyResult]:
        """One round in every environment that has `verify`."""
        results: list[VerifyResult] = []
        for env in self._catalog.environments.values():
            if env.verify is not None:
                results.extend(self.verify_environment(env.name))
        return results

    def verify_environment(self, env: str) -> list[VerifyResult]:
        """Measure every live deployment in `env` once, record it, act on the verdict.

        Raises:
            NotFound: `env` is not a configured environment.
            StoreError: the database cannot be reached.
        """
        environment = self._catalog.environment(env)
        if environment.verify is None:
            return []
        with self._env_locks.setdefault(env, threading.Lock()):
            with self._uow() as uow:
                live = [d for d in uow.deployments.all_live() if d.env == env]
                busy = {d.bot for d in uow.deployments.in_state(IN_PROGRESS_STATES) if d.env == env}
                promoted = {d.id for d in live if self._promoted(uow, d)}
            skipped = {
                d.id: "promoted" if d.id in promoted else "a deployment is in progress"
                for d in live
                if d.bot in busy or d.id in promoted
            }
            skipped.update(
                {d.id: "failed" for d in live if self._states.get(d.id or 0) is RunState.FAILED}
            )
            measuring = [d for d in live if d.id not in skipped]
            spec = environment.verify
            down: list[Outcome] = []  # once Prometheus is down, the round asks it no more
            measured = {d.id: tuple(self._measurer.measure(spec, d, down)) for d in measuring}
            soak = downstream_soak(self._catalog, env)
            # one transaction a round: record everything, then assess each run
            with self._uow() as uow:
                for measurements in measured.values():
                    for measurement in measurements:
                        uow.measurements.add(measurement)
                now = self._clock.now()
                assessed = {
                    d.id: verification_of(uow, spec, d, soak=soak, now=now) for d in measuring
                }
                uow.commit()
            return [
                VerifyResult(d.bot, env, d.id, skipped=skipped[d.id])
                if d.id in skipped
                else self._follow(
                    environment,
                    d,
                    VerifyResult(d.bot, env, d.id, measured[d.id], assessed[d.id]),
                )
                for d in live
            ]

    def prune(self, *, keep: timedelta = KEEP_MEASUREMENTS) -> int:
        """Forget measurements older than `keep` of deployments that are no longer live
        (what is live keeps its whole run: its verdict rests on it). How many went.

        Raises:
            StoreError: the database cannot be reached.
        """
        with self._uow() as uow:
            pruned = uow.measurements.prune(before=self._clock.now() - keep)
            uow.commit()
        return pruned

    def _promoted(self, uow: UnitOfWork, deployment: Deployment) -> bool:
        """Live, at this version, in every environment promoted from this one."""
        bot = self._catalog.bots.get(deployment.bot)
        targets = bot.targets if bot else {}
        downstream = [e for e in self._catalog.downstream_of(deployment.env) if e.name in targets]
        if not downstream:
            return False
        for env in downstream:
            there = uow.deployments.live(deployment.bot, env.name)
            if there is None or there.version != deployment.version:
                return False
        return True

    def _follow(
        self, environment: Environment, deployment: Deployment, result: VerifyResult
    ) -> VerifyResult:
        """Announce a change of state; act on a failed or inconclusive run."""
        assessment = result.assessment
        key = deployment.id or 0
        before = self._states.get(key)
        if assessment is None or assessment.state is before:
            return result
        self._states[key] = assessment.state
        if before is None and assessment.state is RunState.RUNNING:
            return result  # the message said "running" when it went live
        self._announcer.announce(deployment)  # the deployment's message shows where it stands now
        if assessment.state in (RunState.RUNNING, RunState.PASSED):
            return result
        return self._verdicts.act(environment, deployment, assessment, result)


class Verdicts:
    """Acts on a failed or inconclusive run: an alert, and an automatic rollback where the
    environment has `auto_rollback` and the release is within its window."""

    def __init__(self, *, clock: Clock, alerts: AlertService, requests: Requests) -> None:
        self._clock = clock
        self._alerts = alerts
        self._requests = requests

    def act(
        self,
        environment: Environment,
        deployment: Deployment,
        assessment: Assessment,
        result: VerifyResult,
    ) -> VerifyResult:
        """An alert for a failed or inconclusive run; an automatic rollback for a failed one."""
        failed = assessment.state is RunState.FAILED
        now = self._clock.now()
        what = f"{deployment.bot} v{deployment.version} in {deployment.env}"
        summary = (
            f"{what} failed verification: {assessment.reason}"
            if failed
            else f"verification of {what} is inconclusive: {assessment.reason}; "
            "decide whether to roll it back"
        )
        alert, opened = self._alerts.fire(
            VERIFIER,
            Alert(
                bot=deployment.bot,
                env=deployment.env,
                source="chatops",
                fingerprint=_fingerprint(deployment, assessment.state),
                summary=summary,
                first_seen=now,
                last_seen=now,
                deployment_id=deployment.id,
                version=deployment.version,
                detail=assessment.summary(),
            ),
        )
        result = dataclasses.replace(result, alert=alert)
        live_at = deployment.live_at
        if (
            not failed
            or not opened
            or not environment.auto_rollback
            or live_at is None
            or now - live_at > environment.auto_rollback_window
        ):
            return result
        reason = (
            f"v{deployment.version} failed verification {format_duration(now - live_at)} "
            f"after going live: {assessment.reason}"
        )
        rollback: Deployment | None = None
        try:
            rollback = self._requests.rollback(
                VERIFIER, deployment.bot, deployment.env, automatic=True, reason=reason
            )
        except UserError as exc:
            action = f"automatic rollback refused: {exc}"
        except InternalError:
            raise  # a bug, not a failed rollback: it reaches the job's log with its traceback
        except ChatOpsError as exc:
            action = f"automatic rollback failed: {exc}"
        else:
            action = (
                f"rolled back automatically to v{rollback.version}"
                if rollback.state is State.LIVE
                else f"rolling back automatically to v{rollback.version} (#{rollback.id})"
            )
        log.warning("%s in %s: %s", deployment.bot, deployment.env, action)
        return dataclasses.replace(
            result, alert=self._alerts.record_action(alert, action), rollback=rollback
        )


def _fingerprint(deployment: Deployment, state: RunState) -> str:
    prefix = (
        INCONCLUSIVE_FINGERPRINT if state is RunState.INCONCLUSIVE else "chatops:verify:failed:"
    )
    return f"{prefix}{deployment.bot}:{deployment.env}:{deployment.id}"
