"""No deployment outlives the work running it.

The process running a deployment keeps a heartbeat on it for as long as that
work runs (not as long as the process runs). On start-up (and periodically in
`serve`) every in-progress deployment whose owner is gone — its process is
dead on this host, or nobody beat its heartbeat lately — is failed with the
reason, and the environment is put back on the release that was live.
Recovery claims a deployment by failing it (compare-and-set) before it touches
the runtime, so an owner that is alive after all keeps what it runs.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta

from chatops.domain.audit import Outcome
from chatops.domain.catalog import Catalog
from chatops.domain.deployment import IN_PROGRESS_STATES, Deployment, Event, State
from chatops.domain.policy import format_duration
from chatops.domain.redact import Redactor
from chatops.errors import ChatOpsError, EngineUnreachable
from chatops.services.announcer import Announcer
from chatops.services.auditor import Auditor
from chatops.services.context import Actor, Tuning
from chatops.services.engines import Engines
from chatops.services.ports import (
    Clock,
    Conflict,
    ProcessTable,
    RunSpec,
    Secrets,
    UnitOfWorkFactory,
)
from chatops.services.runspec import previous_spec

__all__ = ["Heartbeat", "Orphans", "Recovery", "Restorer"]

log = logging.getLogger(__name__)

# how long recovery waits for an engine that does not answer before it ends a deployment
# interrupted mid-rollout all the same (what ran before then cannot be put back)
ENGINE_WAIT = timedelta(minutes=10)

RECOVERY = Actor("chatops", "recovery")


class Heartbeat:
    """Stamps `heartbeat_at` on the deployments whose work runs in this process, while it runs."""

    def __init__(
        self, *, uow: UnitOfWorkFactory, clock: Clock, processes: ProcessTable, tuning: Tuning
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._processes = processes
        self._tuning = tuning
        self._guard = threading.Lock()
        self._users = 0
        self._working: Counter[int] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def running(self, deployment_id: int) -> Iterator[None]:
        """Keep `deployment_id` beating while the block runs, and only then."""
        with self._guard:
            self._working[deployment_id] += 1
        self.start()
        try:
            yield
        finally:
            with self._guard:
                self._working[deployment_id] -= 1
                if self._working[deployment_id] <= 0:
                    del self._working[deployment_id]
            self.stop()

    def working_on(self, deployment_id: int | None) -> bool:
        """Whether work on `deployment_id` runs in this process now."""
        with self._guard:
            return deployment_id in self._working

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
        """Stamp the deployments worked on now; how many were stamped."""
        with self._guard:
            ids = set(self._working)
        if not ids:
            return 0
        with self._uow() as uow:
            count = uow.deployments.heartbeat(self._processes.me(), self._clock.now(), ids)
            uow.commit()
        return count

    def _run(self) -> None:
        while not self._stop.wait(self._tuning.heartbeat_seconds):
            try:
                self.beat()
            except Exception:
                log.exception("heartbeat failed")


class Orphans:
    """Finds the in-progress deployments whose owner is gone, or whose heartbeat went stale.

    Args:
        heartbeat: this process's heartbeat: its own deployments are left alone
            while their work runs here.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        processes: ProcessTable,
        tuning: Tuning,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._processes = processes
        self._tuning = tuning
        self._heartbeat = heartbeat

    def orphaned(self) -> list[Deployment]:
        """In-progress deployments whose owner is gone, or whose heartbeat went stale."""
        me = self._processes.me()
        now = self._clock.now()
        stale_after = timedelta(seconds=self._tuning.stale_after_seconds)
        with self._uow() as uow:
            candidates = uow.deployments.in_state(IN_PROGRESS_STATES)
        orphans = []
        for deployment in candidates:
            if deployment.owner == me and (
                self._heartbeat is None or self._heartbeat.working_on(deployment.id)
            ):
                continue
            alive = self._processes.alive(deployment.owner) if deployment.owner else False
            beat = deployment.heartbeat_at or deployment.updated_at
            if alive is False or now - beat > stale_after:
                orphans.append(deployment)
        return orphans

    def reason(self, deployment: Deployment, now: datetime) -> str:
        """Why an orphan is failed: whose work stopped, and when it was last seen."""
        beat = deployment.heartbeat_at or deployment.updated_at
        if deployment.owner == self._processes.me():
            who = f"its run in this chatops process ({deployment.owner}) ended"
        else:
            who = f"the chatops process running it ({deployment.owner or 'unknown'}) stopped"
        return (
            f"interrupted: {who} while it was {deployment.state}; "
            f"last sign of life {format_duration(now - beat)} ago"
        )


class Restorer:
    """Puts back the release that was live before an interrupted deployment."""

    def __init__(
        self, catalog: Catalog, *, uow: UnitOfWorkFactory, secrets: Secrets, engines: Engines
    ) -> None:
        self._catalog = catalog
        self._uow = uow
        self._secrets = secrets
        self._engines = engines

    def previous(self, deployment: Deployment) -> tuple[RunSpec | None, Redactor]:
        """How to run what was live before, and a redactor of its secrets.

        Raises:
            ConfigError: the secrets of the bot there cannot be read.
        """
        bot = self._catalog.bots.get(deployment.bot)
        environment = self._catalog.environments.get(deployment.env)
        target = bot.targets.get(deployment.env) if bot else None
        if bot is None or environment is None or target is None:
            return None, Redactor()
        secrets = self._secrets.resolve(bot, target)
        spec = previous_spec(
            self._uow,
            bot=bot,
            environment=environment,
            target=target,
            secrets=secrets,
            instance=self._catalog.instance,
        )
        return spec, Redactor(secrets.values())

    def engine_away(self, deployment: Deployment) -> bool:
        """Whether the engine of `deployment`'s environment does not answer now."""
        try:
            self._engines.runtime(deployment.env).list_managed()
        except EngineUnreachable:
            return True
        except ChatOpsError:
            return False  # it answers, if not well: the restore says how
        return False

    def restore(self, deployment: Deployment, previous: RunSpec | None) -> None:
        """Raises RuntimeFailure (a ChatOpsError) when the engine cannot."""
        self._engines.runtime(deployment.env).restore(deployment.bot, deployment.env, previous)


class Recovery:
    """Fails the deployments whose work stopped, restoring what ran before."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        orphans: Orphans,
        restorer: Restorer,
        auditor: Auditor,
        announcer: Announcer,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._orphans = orphans
        self._restorer = restorer
        self._auditor = auditor
        self._announcer = announcer

    def orphaned(self) -> list[Deployment]:
        """See `Orphans.orphaned`."""
        return self._orphans.orphaned()

    def recover(self) -> list[Deployment]:
        """Fail every orphaned deployment; returns them as they ended.

        Never raises: what cannot be recovered now is logged and tried again next time.
        """
        try:
            orphans = self.orphaned()
        except ChatOpsError as exc:
            log.error("could not look for interrupted deployments: %s", exc)
            return []
        ended = []
        for deployment in orphans:
            try:
                result = self._fail(deployment)
            except Exception:
                log.exception("could not recover deployment #%s; trying again later", deployment.id)
                continue
            if result is not None:
                ended.append(result)
        return ended

    def _fail(self, deployment: Deployment) -> Deployment | None:
        now = self._clock.now()
        reason = self._orphans.reason(deployment, now)
        restore = deployment.state in (State.DEPLOYING, State.VERIFYING)
        previous: RunSpec | None = None
        redact = Redactor()
        if restore:
            try:
                previous, redact = self._restorer.previous(deployment)
            except ChatOpsError as exc:  # e.g. a secret that cannot be read (named, never shown)
                restore = False
                reason += f"; the previous release was not restored: {exc.message}"
        if restore and self._restorer.engine_away(deployment):
            beat = deployment.heartbeat_at or deployment.updated_at
            if now - beat < ENGINE_WAIT:
                # ended now, it would leave nothing running once the engine is back
                log.warning(
                    "deployment #%s was interrupted while %s and the engine of %s does not "
                    "answer: it ends, and what ran before is put back, once the engine answers",
                    deployment.id,
                    deployment.state,
                    deployment.env,
                )
                return None
        ended = self._claim(deployment, reason, now)
        if ended is None:
            return None
        if restore:
            try:
                self._restorer.restore(deployment, previous)
                if previous is not None:
                    ended = self._amend(ended, f"; v{previous.version} is running again")
            except ChatOpsError as exc:
                ended = self._amend(
                    ended, f"; restoring the previous release failed: {redact(exc.message)}"
                )
        log.warning("deployment #%s: %s", deployment.id, ended.reason)
        self._announcer.announce(ended)
        return ended

    def _claim(self, deployment: Deployment, reason: str, now: datetime) -> Deployment | None:
        """Fail `deployment` unless it changed (or beat) since it was found orphaned."""
        with self._uow() as uow:
            current = uow.deployments.get_for_update(deployment.id) if deployment.id else None
            if (
                current is None
                or current.revision != deployment.revision
                or current.heartbeat_at != deployment.heartbeat_at
            ):
                return None  # its owner moved it on or beat meanwhile: it is alive
            try:
                ended = uow.deployments.save(current.advance(Event.FAIL, at=now, reason=reason))
            except Conflict:
                return None
            self._auditor.record(
                uow, RECOVERY, "recovered", Outcome.FAILED, of=deployment, detail=reason
            )
            uow.commit()
        return ended

    def _amend(self, ended: Deployment, more: str) -> Deployment:
        """Add how the restore went to the reason of a deployment recovery failed."""
        amended = replace(ended, reason=f"{ended.reason}{more}")
        try:
            with self._uow() as uow:
                amended = uow.deployments.save(amended)
                uow.commit()
        except ChatOpsError as exc:  # a Conflict too: another write came first
            log.warning("could not add %r to #%s: %s", more, ended.id, exc)
        return amended
