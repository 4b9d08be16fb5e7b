"""Running a queued deployment: resolve, build once, run, verify, go live or restore.

Each step is a state of the deployment, saved and told to the channel as it is
entered. Every save is a compare-and-set from the revision last read, so a
`/cancel` recorded on the row (by any process) is noticed at the next step; the
build and the health gate look for one while they wait too. Whatever goes
wrong, the deployment ends `failed` with the reason and the environment runs
what it ran before; should the database refuse to record that, this run's
heartbeat for it stops, and recovery fails it later.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta

from chatops.domain.audit import Outcome
from chatops.domain.catalog import Bot, BotTarget, Environment, HealthKind
from chatops.domain.deployment import Deployment, Event, Kind, Release, State
from chatops.domain.health import GateState, HealthGate
from chatops.domain.policy import Lock, LockKind
from chatops.domain.redact import Redactor
from chatops.errors import ChatOpsError, EngineUnreachable, RuntimeFailure, Unhealthy
from chatops.services.attempt import Attempt, TakenOver, advance, check, interrupted, look
from chatops.services.building import Releases
from chatops.services.ci_gate import CiGate
from chatops.services.context import Actor, Deps, required
from chatops.services.logcontext import bound
from chatops.services.pending import settle_if_stale
from chatops.services.ports import Conflict, UnitOfWork
from chatops.services.queries import announce, observe_health
from chatops.services.recovery import Heartbeat
from chatops.services.runspec import previous_spec, run_spec

__all__ = ["Pipeline", "Unhealthy"]

log = logging.getLogger(__name__)

SYSTEM = Actor("chatops", "pipeline")


class Pipeline:
    """Executes queued deployments."""

    def __init__(self, deps: Deps, heartbeat: Heartbeat) -> None:
        self._deps = deps
        self._heartbeat = heartbeat
        self._releases = Releases(deps)
        self._ci = CiGate(deps)

    def execute(self, deployment_id: int) -> Deployment:
        """Run a queued deployment to `live` or `failed`; any other state is left alone."""
        with bound(deployment_id=deployment_id), self._heartbeat.running(deployment_id):
            return self._execute(deployment_id)

    def _execute(self, deployment_id: int) -> Deployment:
        deps = self._deps
        with deps.uow() as uow:
            deployment = uow.deployments.get(deployment_id)
        if deployment is None or deployment.state is not State.QUEUED:
            return deployment  # type: ignore[return-value]  # None only for unknown ids
        attempt = Attempt(deployment=deployment, redact=Redactor(), started=time.monotonic())
        try:
            the_bot, environment, target = deps.catalog.target(deployment.bot, deployment.env)
            # resolved once per attempt: every message, log line and spec below uses them
            attempt.secrets = deps.secrets.resolve(the_bot, target)
            attempt.redact = Redactor.for_secrets(attempt.secrets)
            release = self._releases.release(
                attempt,
                the_bot,
                vet=lambda sha: self._ci.wait(attempt, the_bot, environment, sha),
            )
            self._deploy(attempt, release, the_bot, environment, target)
        except TakenOver as taken:
            self._stand_down(attempt, taken.current)
        except ChatOpsError as exc:
            # an engine or registry out of reach: say how to get one, as `status` does
            hint = f" — {exc.hint}" if isinstance(exc, RuntimeFailure) and exc.hint else ""
            self._fail(attempt, attempt.redact(exc.message + hint))
        except Exception:
            incident = uuid.uuid4().hex[:8]
            log.exception(
                "deployment #%s failed unexpectedly (incident %s)", deployment_id, incident
            )
            self._fail(attempt, f"chatops hit an internal error (incident {incident}); see its log")
        finally:
            deps.metrics.deployment_finished(
                attempt.deployment, seconds=time.monotonic() - attempt.started
            )
        return attempt.deployment

    # ── run, verify, go live ──────────────────────────────────────────────

    def _deploy(
        self,
        attempt: Attempt,
        release: Release,
        bot: Bot,
        environment: Environment,
        target: BotTarget,
    ) -> None:
        deps = self._deps
        runtime = deps.runtime(environment.name)
        attempt.previous = previous_spec(
            deps.uow,
            bot=bot,
            environment=environment,
            target=target,
            secrets=attempt.secrets,
            instance=deps.catalog.instance,
        )
        advance(
            deps,
            attempt,
            Event.DEPLOY,
            version=release.version,
            commit=release.commit,
            previous_version=attempt.previous.version if attempt.previous else None,
        )
        spec = run_spec(
            release,
            bot=bot,
            environment=environment,
            target=target,
            secrets=attempt.secrets,
            instance=deps.catalog.instance,
        )
        attempt.runtime_touched = True
        handle = runtime.start(spec)
        advance(deps, attempt, Event.VERIFY)
        self._gate(attempt, target, handle)
        check(deps, attempt)  # a last look before the candidate replaces what ran
        runtime.commit(bot.name, environment.name, handle)
        self._go_live(attempt, release, bot, environment)

    def _gate(self, attempt: Attempt, target: BotTarget, handle: str) -> None:
        """Wait until the new release is healthy, or raise Unhealthy with why."""
        deps = self._deps
        clock = deps.clock
        deployment = attempt.deployment
        gate = HealthGate(
            deadline=clock.now() + target.health_timeout,
            timeout=target.health_timeout,
            settle=timedelta(seconds=deps.tuning.settle_seconds),
            fails_fast=target.health.kind is HealthKind.DOCKER,
            settles=target.health.kind is HealthKind.NONE,
        )
        while True:
            observation = observe_health(deps, deployment.bot, deployment.env, handle)
            gate, step = gate.judge(observation, clock.now())
            if step.state is GateState.PASSED:
                return
            if step.state is GateState.FAILED:
                raise Unhealthy(self._explain(attempt, step.why))
            look(deps, attempt)
            clock.sleep(deps.tuning.health_poll_seconds)

    def _explain(self, attempt: Attempt, what: str) -> str:
        deployment = attempt.deployment
        try:
            output = self._deps.runtime(deployment.env).logs(deployment.bot, deployment.env, 5)
        except ChatOpsError:
            output = ""
        last = " | ".join(line.strip() for line in output.strip().splitlines()[-5:] if line.strip())
        text = f"v{deployment.version} {what}"
        if last:
            text += f"; last output: {last}"
        return attempt.redact(text)

    def _go_live(
        self, attempt: Attempt, release: Release, bot: Bot, environment: Environment
    ) -> None:
        deps = self._deps
        now = deps.clock.now()
        deployment = attempt.deployment
        rolling_back = deployment.kind in (Kind.ROLLBACK, Kind.AUTO_ROLLBACK)
        with deps.uow() as uow:
            previous = uow.deployments.live(bot.name, environment.name)
            went_live = deployment.advance(Event.HEALTHY, at=now)
            if (
                previous is not None
                and previous.id != deployment.id
                and previous.version == release.version
                and previous.healthy_since is not None
            ):
                # the same release again: its continuous time live (the soak) goes on
                went_live = went_live.with_changes(
                    healthy_since=previous.healthy_since, soak_noticed_at=previous.soak_noticed_at
                )
            try:
                attempt.deployment = uow.deployments.save(went_live)
            except Conflict as conflict:
                raise interrupted(conflict.current) from None
            if previous is not None and previous.id != deployment.id:
                # locked: the monitor may be saving it (healthy_since) just now
                previous = required(uow.deployments.get_for_update(previous.id or 0), "live")
                uow.deployments.save(
                    previous.advance(Event.SUPERSEDED, at=now).with_changes(
                        rolled_back=previous.rolled_back or rolling_back
                    )
                )
            superseded = [
                settled
                for pending in uow.deployments.in_state([State.PENDING_APPROVAL])
                if pending.bot == bot.name
                and (downstream := deps.catalog.environments.get(pending.env)) is not None
                and downstream.promote_from == environment.name
                and (settled := self._settle(uow, pending, downstream, now)) is not None
            ]
            held = uow.locks.get(bot.name, environment.name)
            manual_lock = held is not None and held.kind is LockKind.MANUAL and held.active(now)
            # the hold only stops automatic deploys: none without `auto_deploy`
            if rolling_back and environment.auto_deploy is not None and not manual_lock:
                uow.locks.put(
                    Lock(
                        bot=bot.name,
                        env=environment.name,
                        held_by=deployment.requested_by,
                        reason=f"{_direction(previous, release.version)} to v{release.version} "
                        f"by deployment #{deployment.id} ({deployment.kind})",
                        created_at=now,
                        kind=LockKind.ROLLBACK_HOLD,
                    )
                )
            deps.audit(
                uow,
                SYSTEM,
                "live",
                Outcome.OK,
                of=deployment,
                detail=f"v{release.version} live",
            )
            uow.commit()
        deps.metrics.live_release(bot.name, environment.name, release.version)
        try:
            deps.source.move_env_tag(
                bot,
                env=environment.name,
                commit=release.commit,
                message=f"{bot.name} v{release.version} live in {environment.name} "
                f"(chatops deployment #{deployment.id})",
            )
        except ChatOpsError as exc:
            log.warning("could not move %s/%s: %s", bot.name, environment.name, exc)
            deps.audit_alone(
                SYSTEM,
                "env_tag",
                Outcome.FAILED,
                of=deployment,
                detail=attempt.redact(exc.message),
            )
        self._tell(attempt.deployment)
        for pending in superseded:
            self._tell(pending)

    # ── failure ───────────────────────────────────────────────────────────

    def _fail(self, attempt: Attempt, reason: str) -> None:
        if attempt.runtime_touched:
            reason += self._restore(attempt)
        if self._record_failure(attempt, reason):
            self._tell(attempt.deployment)

    def _restore(self, attempt: Attempt) -> str:
        """Put back what ran before, waiting for an engine that does not answer (a restarting
        one would otherwise bring the failed release back by its restart policy); what to
        add to the reason."""
        deps = self._deps
        deployment = attempt.deployment
        wait = deps.tuning.restore_retry_seconds
        for tries in range(1, deps.tuning.restore_retries + 1):
            try:
                deps.runtime(deployment.env).restore(
                    deployment.bot, deployment.env, attempt.previous
                )
            except EngineUnreachable as exc:
                if tries == deps.tuning.restore_retries:
                    return f"; restoring the previous release failed too: {exc.message}"
                log.warning("%s; trying again in %.1fs", exc.message, wait)
                deps.clock.sleep(wait)
                wait *= 2
            except ChatOpsError as exc:
                return f"; restoring the previous release failed too: {attempt.redact(exc.message)}"
            else:
                previous = attempt.previous
                return f"; v{previous.version} is running again" if previous is not None else ""
        return ""

    def _record_failure(self, attempt: Attempt, reason: str) -> bool:
        """Save the deployment `failed`, retrying while the database refuses.

        Returns:
            False when it ended elsewhere meanwhile, or the database kept refusing
            (then this run's heartbeat for it stops with the run, and recovery fails it).
        """
        deps = self._deps
        wait = deps.tuning.store_retry_seconds
        for tries in range(1, deps.tuning.store_retries + 1):
            try:
                with deps.uow() as uow:
                    current = uow.deployments.get_for_update(attempt.deployment_id)
                    if current is None or not current.in_progress:
                        return False
                    failed = current.advance(Event.FAIL, at=deps.clock.now(), reason=reason)
                    if attempt.log_tail is not None:
                        failed = failed.with_changes(log_tail=attempt.log_tail)
                    attempt.deployment = uow.deployments.save(failed)
                    deps.audit(uow, SYSTEM, "failed", Outcome.FAILED, of=current, detail=reason)
                    uow.commit()
                return True
            except Conflict:
                continue  # saved by someone else between the read and the write: read again
            except Exception as exc:  # the database refused or is out of reach
                if tries == deps.tuning.store_retries:
                    log.error(
                        "could not record that deployment #%s failed (%s): %s; recovery will "
                        "fail it once its heartbeat is stale",
                        attempt.deployment_id,
                        reason,
                        exc,
                    )
                    return False
                log.warning(
                    "could not record that deployment #%s failed: %s; trying again in %.1fs",
                    attempt.deployment_id,
                    exc,
                    wait,
                )
                deps.clock.sleep(wait)
                wait *= 2
        return False

    def _stand_down(self, attempt: Attempt, current: Deployment) -> None:
        """Someone else ended the deployment: leave the environment as it is recorded."""
        deps = self._deps
        log.warning(
            "deployment #%s was ended elsewhere (%s: %s); this run stops",
            attempt.deployment_id,
            current.state,
            current.reason,
        )
        if attempt.runtime_touched:
            try:
                deps.runtime(current.env).restore(current.bot, current.env, attempt.previous)
            except ChatOpsError as exc:
                log.error("could not restore %s in %s: %s", current.bot, current.env, exc)
        attempt.deployment = current

    # ── helpers ───────────────────────────────────────────────────────────

    def _settle(
        self, uow: UnitOfWork, pending: Deployment, environment: Environment, now: datetime
    ) -> Deployment | None:
        try:
            return settle_if_stale(self._deps, uow, pending, environment, now)
        except Conflict:
            return None  # decided meanwhile; the approvals job settles it if still stale

    def _tell(self, deployment: Deployment) -> None:
        announce(self._deps, deployment)


def _direction(previous: Deployment | None, version: int) -> str:
    """ "rolled back" to an older release than was live, "rolled forward" to a newer one."""
    if previous is not None and previous.version is not None and version > previous.version:
        return "rolled forward"
    return "rolled back"
