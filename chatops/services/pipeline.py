"""Running a queued deployment: resolve, build once, run, verify, go live or restore.

Each step is a state of the deployment, saved and told to the channel as it is
entered. Whatever goes wrong, the deployment ends `failed` with the reason and
the environment runs what it ran before.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from chatops.domain.audit import Outcome
from chatops.domain.catalog import Bot, BotTarget, Environment, HealthKind
from chatops.domain.deployment import Commit, Deployment, Event, Kind, Release, State
from chatops.domain.health import GateState, HealthGate
from chatops.domain.names import release_tag
from chatops.domain.policy import Lock, LockKind
from chatops.domain.redact import Redactor, check_build_args
from chatops.errors import BuildError, ChatOpsError, InfrastructureError, NotFound
from chatops.services.context import Actor, Deps, required
from chatops.services.pending import settle_if_stale
from chatops.services.ports import BuildRequest, RunSpec, SlotTaken
from chatops.services.queries import announce, observe_health
from chatops.services.recovery import Heartbeat
from chatops.services.runspec import image_name, previous_spec, run_spec

__all__ = ["Pipeline"]

log = logging.getLogger(__name__)

SYSTEM = Actor("chatops", "pipeline")


class Unhealthy(ChatOpsError):
    """The new release did not pass its health gate."""


@dataclass(slots=True)
class _Attempt:
    """What one run of the pipeline has learnt and touched so far."""

    deployment: Deployment
    redact: Redactor
    started: float
    secrets: dict[str, str] = field(default_factory=dict)
    runtime_touched: bool = False
    previous: RunSpec | None = None

    @property
    def deployment_id(self) -> int:
        return required(self.deployment.id, "the deployment id")


class Pipeline:
    """Executes queued deployments."""

    def __init__(self, deps: Deps, heartbeat: Heartbeat) -> None:
        self._deps = deps
        self._heartbeat = heartbeat

    def execute(self, deployment_id: int) -> Deployment:
        """Run a queued deployment to `live` or `failed`; any other state is left alone."""
        with self._heartbeat.running():
            return self._execute(deployment_id)

    def _execute(self, deployment_id: int) -> Deployment:
        deps = self._deps
        with deps.uow() as uow:
            deployment = uow.deployments.get(deployment_id)
        if deployment is None or deployment.state is not State.QUEUED:
            return deployment  # type: ignore[return-value]  # None only for unknown ids
        attempt = _Attempt(deployment=deployment, redact=Redactor(), started=time.monotonic())
        try:
            the_bot, environment, target = deps.catalog.target(deployment.bot, deployment.env)
            # resolved once per attempt: every message, log line and spec below uses them
            attempt.secrets = deps.secrets.resolve(the_bot, target)
            attempt.redact = Redactor.for_secrets(attempt.secrets)
            release = self._release(attempt, the_bot)
            self._deploy(attempt, release, the_bot, environment, target)
        except ChatOpsError as exc:
            self._fail(attempt, attempt.redact(exc.message))
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

    # ── release: resolve and build once ───────────────────────────────────

    def _release(self, attempt: _Attempt, bot: Bot) -> Release:
        deps = self._deps
        deployment = attempt.deployment
        if deployment.version is not None:
            with deps.uow() as uow:
                release = uow.releases.get(bot.name, deployment.version)
            if release is None:
                raise NotFound(f"{bot.name} v{deployment.version} does not exist")
            return release
        deps.source.fetch(bot)
        commit = deps.source.resolve(bot, deployment.ref or bot.branch)
        self._save(attempt, attempt.deployment.with_changes(commit=commit.sha))
        with deps.uow() as uow:
            release = uow.releases.for_commit(bot.name, commit.sha)
        return release if release is not None else self._build(attempt, bot, commit)

    def _claim_build_slot(self, attempt: _Attempt, bot: Bot, commit: Commit) -> Release | None:
        """Enter `building` once no other build of the bot runs; a release that
        appeared meanwhile is returned instead."""
        deps = self._deps
        deadline = deps.clock.now() + timedelta(seconds=deps.tuning.build_slot_wait_seconds)
        told = False
        tagged = deps.source.highest_release(bot)  # git, so outside the transactions below
        while True:
            with deps.uow() as uow:
                release = uow.releases.for_commit(bot.name, commit.sha)
                if release is not None:
                    return release
                version = max(uow.releases.highest_version(bot.name), tagged) + 1
                building = attempt.deployment.advance(
                    Event.BUILD, at=deps.clock.now()
                ).with_changes(version=version)
                try:
                    attempt.deployment = uow.deployments.save(building)
                    uow.commit()
                    break
                except SlotTaken as taken:
                    holder = taken.holder_id
            if deps.clock.now() > deadline:
                raise InfrastructureError(
                    f"gave up waiting for deployment #{holder} to finish building {bot.name}"
                )
            if not told:
                deps.notifier.build_output(
                    attempt.deployment, f"waiting for deployment #{holder} to finish its build"
                )
                told = True
            deps.clock.sleep(1.0)
        self._tell(attempt.deployment)
        return None

    def _build(self, attempt: _Attempt, bot: Bot, commit: Commit) -> Release:
        deps = self._deps
        build_args = {**bot.build_args, **self._target_build_args(bot, attempt.deployment.env)}
        check_build_args(build_args, attempt.secrets)
        existing = self._claim_build_slot(attempt, bot, commit)
        if existing is not None:
            return existing
        deployment = attempt.deployment
        version = required(deployment.version, "the version being built")
        registry = deps.catalog.registry
        image = image_name(registry, bot.name, version)
        # built on the engine of the environment it is first deployed to (where it runs next),
        # or on its `build_docker_host`
        builder = deps.builder(deployment.env)
        source = attempt.redact(bot.repo)
        labels = {
            "org.opencontainers.image.revision": commit.sha,
            "org.opencontainers.image.version": f"v{version}",
            "org.opencontainers.image.source": source,
            "chatops.bot": bot.name,
        }
        tail: deque[str] = deque(maxlen=deps.tuning.build_log_tail_lines)
        log_path = deps.workdir / "logs" / bot.name / f"v{version}-deployment-{deployment.id}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        ok = False
        try:
            with log_path.open("w", encoding="utf-8") as log_file:
                output = self._build_output(attempt, log_file.write, tail)
                builds = deps.workdir / "builds"
                builds.mkdir(parents=True, exist_ok=True)
                with TemporaryDirectory(dir=builds) as tmp:
                    context = Path(tmp) / "context.tar"
                    deps.source.archive(bot, commit.sha, bot.context, context)
                    request = BuildRequest(
                        image=image,
                        context_tar=context,
                        dockerfile=bot.dockerfile,
                        build_args=build_args,
                        labels=labels,
                    )
                    image_id = builder.build(request, output=output)
            try:
                digest = builder.push(image) if registry else image_id
                deps.source.tag_release(
                    bot,
                    version=version,
                    commit=commit.sha,
                    message=(
                        f"{bot.name} v{version}\n\nBuilt by chatops deployment #{deployment.id}, "
                        f"requested by {deployment.requested_by}."
                    ),
                )
            except ChatOpsError:
                builder.remove(image)
                raise
            ok = True
        except BuildError as exc:
            log_tail = exc.log_tail or "\n".join(tail)
            self._save(attempt, attempt.deployment.with_changes(log_tail=attempt.redact(log_tail)))
            raise
        finally:
            deps.metrics.build_finished(bot.name, seconds=time.monotonic() - started, ok=ok)
        release = Release(
            bot=bot.name,
            version=version,
            commit=commit.sha,
            tag=release_tag(bot.name, version),
            image=image,
            image_id=image_id,
            digest=digest,
            created_by=deployment.requested_by,
            created_at=deps.clock.now(),
            deployment_id=deployment.id,
            source=source,
            subject=commit.subject,
        )
        with deps.uow() as uow:
            release = uow.releases.add(release)
            current = required(uow.deployments.get(attempt.deployment_id), "the deployment")
            attempt.deployment = uow.deployments.save(
                current.with_changes(log_tail="\n".join(tail))
            )
            deps.audit(
                uow,
                SYSTEM,
                "build",
                Outcome.OK,
                of=deployment,
                detail=f"v{version} = {commit.sha[:12]} → {image} ({digest[:19]})",
            )
            uow.commit()
        return release

    def _build_output(
        self, attempt: _Attempt, write: Callable[[str], object], tail: deque[str]
    ) -> Callable[[str], None]:
        def output(line: str) -> None:
            line = attempt.redact(line.rstrip("\n"))
            write(line + "\n")
            tail.append(line)
            self._deps.notifier.build_output(attempt.deployment, line)

        return output

    def _target_build_args(self, bot: Bot, env: str) -> dict[str, str]:
        target = bot.targets.get(env)
        return dict(target.build_args) if target else {}

    # ── run, verify, go live ──────────────────────────────────────────────

    def _deploy(
        self,
        attempt: _Attempt,
        release: Release,
        bot: Bot,
        environment: Environment,
        target: BotTarget,
    ) -> None:
        deps = self._deps
        runtime = deps.runtime(environment.name)
        attempt.previous = previous_spec(
            deps.uow, bot=bot, environment=environment, target=target, secrets=attempt.secrets
        )
        self._advance(
            attempt,
            Event.DEPLOY,
            version=release.version,
            commit=release.commit,
            previous_version=attempt.previous.version if attempt.previous else None,
        )
        spec = run_spec(
            release, bot=bot, environment=environment, target=target, secrets=attempt.secrets
        )
        attempt.runtime_touched = True
        handle = runtime.start(spec)
        self._advance(attempt, Event.VERIFY)
        self._gate(attempt, target, handle)
        runtime.commit(bot.name, environment.name, handle)
        self._go_live(attempt, release, bot, environment)

    def _gate(self, attempt: _Attempt, target: BotTarget, handle: str) -> None:
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
            clock.sleep(deps.tuning.health_poll_seconds)

    def _explain(self, attempt: _Attempt, what: str) -> str:
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
        self, attempt: _Attempt, release: Release, bot: Bot, environment: Environment
    ) -> None:
        deps = self._deps
        now = deps.clock.now()
        deployment = attempt.deployment
        rolling_back = deployment.kind in (Kind.ROLLBACK, Kind.AUTO_ROLLBACK)
        with deps.uow() as uow:
            previous = uow.deployments.live(bot.name, environment.name)
            if previous is not None and previous.id != deployment.id:
                uow.deployments.save(
                    previous.advance(Event.SUPERSEDED, at=now).with_changes(
                        rolled_back=previous.rolled_back or rolling_back
                    )
                )
            attempt.deployment = uow.deployments.save(deployment.advance(Event.HEALTHY, at=now))
            superseded = [
                settled
                for pending in uow.deployments.in_state([State.PENDING_APPROVAL])
                if pending.bot == bot.name
                and (downstream := deps.catalog.environments.get(pending.env)) is not None
                and downstream.promote_from == environment.name
                and (settled := settle_if_stale(deps, uow, pending, downstream, now)) is not None
            ]
            held = uow.locks.get(bot.name, environment.name)
            manual_lock = held is not None and held.kind is LockKind.MANUAL and held.active(now)
            if rolling_back and not manual_lock:
                uow.locks.put(
                    Lock(
                        bot=bot.name,
                        env=environment.name,
                        held_by=deployment.requested_by,
                        reason=f"rolled back to v{release.version} by deployment #{deployment.id}",
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

    def _fail(self, attempt: _Attempt, reason: str) -> None:
        deps = self._deps
        deployment = attempt.deployment
        if attempt.runtime_touched:
            try:
                deps.runtime(deployment.env).restore(
                    deployment.bot, deployment.env, attempt.previous
                )
                if attempt.previous is not None:
                    reason += f"; v{attempt.previous.version} is running again"
            except ChatOpsError as exc:
                reason += (
                    f"; restoring the previous release failed too: {attempt.redact(exc.message)}"
                )
        with deps.uow() as uow:
            current = uow.deployments.get(deployment.id) if deployment.id else None
            if current is None or not current.in_progress:
                return
            attempt.deployment = uow.deployments.save(
                current.advance(Event.FAIL, at=deps.clock.now(), reason=reason)
            )
            deps.audit(
                uow,
                SYSTEM,
                "failed",
                Outcome.FAILED,
                of=deployment,
                detail=reason,
            )
            uow.commit()
        self._tell(attempt.deployment)

    # ── helpers ───────────────────────────────────────────────────────────

    def _advance(self, attempt: _Attempt, event: Event, **changes: object) -> None:
        deployment = attempt.deployment.advance(event, at=self._deps.clock.now())
        if changes:
            deployment = deployment.with_changes(**changes)
        self._save(attempt, deployment)
        self._tell(attempt.deployment)

    def _save(self, attempt: _Attempt, deployment: Deployment) -> None:
        with self._deps.uow() as uow:
            attempt.deployment = uow.deployments.save(deployment)
            uow.commit()

    def _tell(self, deployment: Deployment) -> None:
        announce(self._deps, deployment)
