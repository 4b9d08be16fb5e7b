"""Running a release in its environment: start it beside what runs, wait for its health
gate, then make it the one that runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from chatops.domain.catalog import Bot, BotTarget, Catalog, Environment, HealthKind
from chatops.domain.deployment import Event, Release
from chatops.domain.health import GateState, HealthGate
from chatops.errors import ChatOpsError, Unhealthy
from chatops.services.attempt import Attempt, Steps
from chatops.services.engines import Engines
from chatops.services.going_live import GoLive
from chatops.services.observing import HealthObserver
from chatops.services.ports import UnitOfWorkFactory
from chatops.services.runspec import previous_spec, run_spec

__all__ = ["HealthWait", "Rollout"]


class HealthWait:
    """Waits for a started release to pass its health gate, looking for /cancel meanwhile."""

    def __init__(self, *, observer: HealthObserver, engines: Engines, steps: Steps) -> None:
        self._observer = observer
        self._engines = engines
        self._steps = steps

    def wait(self, attempt: Attempt, target: BotTarget, handle: str) -> None:
        """Wait until the new release is healthy, or raise Unhealthy with why."""
        steps = self._steps
        deployment = attempt.deployment
        gate = HealthGate(
            deadline=steps.now() + target.health_timeout,
            timeout=target.health_timeout,
            settle=timedelta(seconds=steps.tuning.settle_seconds),
            fails_fast=target.health.kind is HealthKind.DOCKER,
            settles=target.health.kind is HealthKind.NONE,
        )
        while True:
            observation = self._observer.observe(deployment.bot, deployment.env, handle)
            gate, step = gate.judge(observation, steps.now())
            if step.state is GateState.PASSED:
                return
            if step.state is GateState.FAILED:
                raise Unhealthy(self._explain(attempt, step.why))
            steps.look(attempt)
            steps.sleep(steps.tuning.health_poll_seconds)

    def _explain(self, attempt: Attempt, what: str) -> str:
        deployment = attempt.deployment
        try:
            output = self._engines.runtime(deployment.env).logs(deployment.bot, deployment.env, 5)
        except ChatOpsError:
            output = ""
        last = " | ".join(line.strip() for line in output.strip().splitlines()[-5:] if line.strip())
        text = f"v{deployment.version} {what}"
        if last:
            text += f"; last output: {last}"
        return attempt.redact(text)


class Rollout:
    """Runs a release, verifies it, and has it go live."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        uow: UnitOfWorkFactory,
        engines: Engines,
        steps: Steps,
        health: HealthWait,
        go_live: GoLive,
    ) -> None:
        self._catalog = catalog
        self._uow = uow
        self._engines = engines
        self._steps = steps
        self._health = health
        self._go_live = go_live

    def deploy(
        self,
        attempt: Attempt,
        release: Release,
        bot: Bot,
        environment: Environment,
        target: BotTarget,
    ) -> None:
        runtime = self._engines.runtime(environment.name)
        attempt.previous = previous_spec(
            self._uow,
            bot=bot,
            environment=environment,
            target=target,
            secrets=attempt.secrets,
            instance=self._catalog.instance,
        )
        previous_version = attempt.previous.version if attempt.previous else None
        self._steps.advance(
            attempt,
            Event.DEPLOY,
            then=lambda d: replace(
                d, version=release.version, commit=release.commit, previous_version=previous_version
            ),
        )
        spec = run_spec(
            release,
            bot=bot,
            environment=environment,
            target=target,
            secrets=attempt.secrets,
            instance=self._catalog.instance,
        )
        attempt.runtime_touched = True
        handle = runtime.start(spec)
        self._steps.advance(attempt, Event.VERIFY)
        self._health.wait(attempt, target, handle)
        self._steps.check(attempt)  # a last look before the candidate replaces what ran
        runtime.commit(bot.name, environment.name, handle)
        self._go_live.go_live(attempt, release, bot, environment)
