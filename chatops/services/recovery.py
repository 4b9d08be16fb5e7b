"""No deployment outlives the process running it.

The owner of an in-progress deployment keeps a heartbeat. On start-up (and
periodically in `serve`) every in-progress deployment whose owner is gone —
its process is dead on this host, or its heartbeat went stale — is failed with
the reason, and the environment is put back on the release that was live.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from chatops.domain.audit import Outcome
from chatops.domain.deployment import IN_PROGRESS_STATES, Deployment, Event, State
from chatops.domain.policy import format_duration
from chatops.errors import ChatOpsError
from chatops.services.context import Actor, Deps
from chatops.services.ports import RunSpec
from chatops.services.queries import announce
from chatops.services.runspec import previous_spec

__all__ = ["Heartbeat", "Recovery"]

log = logging.getLogger(__name__)

RECOVERY = Actor("chatops", "recovery")


class Heartbeat:
    """Stamps `heartbeat_at` on this process's in-progress deployments while any runs."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._guard = threading.Lock()
        self._users = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def running(self) -> Iterator[None]:
        self.start()
        try:
            yield
        finally:
            self.stop()

    def start(self) -> None:
        with self._guard:
            self._users += 1
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._run, name="chatops-heartbeat", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        with self._guard:
            self._users -= 1
            thread = self._thread if self._users == 0 else None
            if thread is not None:
                self._thread = None
                self._stop.set()
        if thread is not None:
            thread.join(timeout=10)

    def beat(self) -> int:
        deps = self._deps
        with deps.uow() as uow:
            count = uow.deployments.heartbeat(deps.processes.me(), deps.clock.now())
            uow.commit()
        return count

    def _run(self) -> None:
        while not self._stop.wait(self._deps.tuning.heartbeat_seconds):
            try:
                self.beat()
            except Exception:
                log.exception("heartbeat failed")


class Recovery:
    """Fails the deployments whose process died, restoring what ran before."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    def orphaned(self) -> list[Deployment]:
        """In-progress deployments whose owner is gone."""
        deps = self._deps
        me = deps.processes.me()
        now = deps.clock.now()
        stale_after = timedelta(seconds=deps.tuning.stale_after_seconds)
        with deps.uow() as uow:
            candidates = uow.deployments.in_state(IN_PROGRESS_STATES)
        orphans = []
        for deployment in candidates:
            if deployment.owner == me:
                continue
            alive = deps.processes.alive(deployment.owner) if deployment.owner else False
            beat = deployment.heartbeat_at or deployment.updated_at
            if alive is False or (alive is None and now - beat > stale_after):
                orphans.append(deployment)
        return orphans

    def recover(self) -> list[Deployment]:
        """Fail every orphaned deployment; returns them as they ended."""
        return [ended for d in self.orphaned() if (ended := self._fail(d)) is not None]

    def _fail(self, deployment: Deployment) -> Deployment | None:
        deps = self._deps
        now = deps.clock.now()
        beat = deployment.heartbeat_at or deployment.updated_at
        reason = (
            "interrupted: the chatops process running it "
            f"({deployment.owner or 'unknown'}) stopped "
            f"while it was {deployment.state}; last sign of life {format_duration(now - beat)} ago"
        )
        if deployment.state in (State.DEPLOYING, State.VERIFYING):
            previous = self._previous_spec(deployment)
            try:
                deps.runtime(deployment.env).restore(deployment.bot, deployment.env, previous)
                if previous is not None:
                    reason += f"; v{previous.version} is running again"
            except ChatOpsError as exc:
                reason += f"; restoring the previous release failed: {exc.message}"
        with deps.uow() as uow:
            current = uow.deployments.get_for_update(deployment.id) if deployment.id else None
            if (
                current is None
                or current.state not in IN_PROGRESS_STATES
                or current.owner != deployment.owner
            ):
                return None
            ended = uow.deployments.save(current.advance(Event.FAIL, at=now, reason=reason))
            deps.audit(
                uow,
                RECOVERY,
                "recovered",
                Outcome.FAILED,
                of=deployment,
                detail=reason,
            )
            uow.commit()
        log.warning("deployment #%s: %s", deployment.id, reason)
        announce(deps, ended)
        return ended

    def _previous_spec(self, deployment: Deployment) -> RunSpec | None:
        deps = self._deps
        bot = deps.catalog.bots.get(deployment.bot)
        environment = deps.catalog.environments.get(deployment.env)
        target = bot.targets.get(deployment.env) if bot else None
        if bot is None or environment is None or target is None:
            return None
        return previous_spec(
            deps.uow,
            bot=bot,
            environment=environment,
            target=target,
            secrets=deps.secrets.resolve(bot, target),
        )
