"""How a run ends when something went wrong: the environment runs what it ran before,
and the deployment is recorded `failed` with the reason (retried while the database
refuses); or, when someone else ended it, the run stands down."""

from __future__ import annotations

import logging
from dataclasses import replace

from chatops.domain.audit import Outcome
from chatops.domain.deployment import Deployment, Event
from chatops.errors import ChatOpsError, EngineUnreachable, StoreError
from chatops.services.attempt import Attempt, Steps
from chatops.services.auditor import Auditor
from chatops.services.context import Actor
from chatops.services.engines import Engines
from chatops.services.ports import Conflict, UnitOfWorkFactory

__all__ = ["Failures"]

log = logging.getLogger(__name__)

SYSTEM = Actor("chatops", "pipeline")
_CONFLICT_TRIES = 5  # reads again when another write came between its read and its write


class Failures:
    """Restores what ran, and records the failure."""

    def __init__(
        self, *, uow: UnitOfWorkFactory, engines: Engines, auditor: Auditor, steps: Steps
    ) -> None:
        self._uow = uow
        self._engines = engines
        self._auditor = auditor
        self._steps = steps

    def fail(self, attempt: Attempt, reason: str) -> None:
        if attempt.runtime_touched:
            reason += self._restore(attempt)
        if self._record_failure(attempt, reason):
            self._steps.tell(attempt.deployment)

    def _restore(self, attempt: Attempt) -> str:
        """Put back what ran before, waiting for an engine that does not answer (a restarting
        one would otherwise bring the failed release back by its restart policy); what to
        add to the reason."""
        deployment = attempt.deployment
        wait = self._steps.tuning.restore_retry_seconds
        for tries in range(1, self._steps.tuning.restore_retries + 1):
            try:
                self._engines.runtime(deployment.env).restore(
                    deployment.bot, deployment.env, attempt.previous
                )
            except EngineUnreachable as exc:
                if tries == self._steps.tuning.restore_retries:
                    return f"; restoring the previous release failed too: {exc.message}"
                log.warning("%s; trying again in %.1fs", exc.message, wait)
                self._steps.sleep(wait)
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
        try:
            return self._steps.persisting(
                f"record that deployment #{attempt.deployment_id} failed",
                lambda: self._save_failed(attempt, reason),
            )
        except StoreError as exc:
            log.error(
                "could not record that deployment #%s failed (%s): %s; recovery will "
                "fail it once its heartbeat is stale",
                attempt.deployment_id,
                reason,
                exc,
            )
            return False

    def _save_failed(self, attempt: Attempt, reason: str) -> bool:
        """One transaction recording the failure; False when it ended elsewhere meanwhile.
        Saved by someone else between the read and the write: read again."""
        for _ in range(_CONFLICT_TRIES):
            try:
                with self._uow() as uow:
                    current = uow.deployments.get_for_update(attempt.deployment_id)
                    if current is None or not current.in_progress:
                        return False
                    failed = current.advance(Event.FAIL, at=self._steps.now(), reason=reason)
                    if attempt.log_tail is not None:
                        failed = replace(failed, log_tail=attempt.log_tail)
                    saved = uow.deployments.save(failed)
                    self._auditor.record(
                        uow, SYSTEM, "failed", Outcome.FAILED, of=current, detail=reason
                    )
                    uow.commit()
            except Conflict:
                continue
            attempt.deployment = saved
            return True
        return False

    def stand_down(self, attempt: Attempt, current: Deployment) -> None:
        """Someone else ended the deployment: leave the environment as it is recorded."""
        log.warning(
            "deployment #%s was ended elsewhere (%s: %s); this run stops",
            attempt.deployment_id,
            current.state,
            current.reason,
        )
        if attempt.runtime_touched:
            try:
                self._engines.runtime(current.env).restore(
                    current.bot, current.env, attempt.previous
                )
            except ChatOpsError as exc:
                log.error("could not restore %s in %s: %s", current.bot, current.env, exc)
        attempt.deployment = current
