"""Cancelling a deployment (`/cancel <bot> <env>`), whichever process runs it.

A queued deployment is failed and a pending one rejected here and now. One
that is building, deploying or verifying runs in some process, maybe another
replica: the cancel is a request recorded on its row, which that process
notices at its next step, while it builds and while it waits for health, and
answers by failing it with the previous release running again.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from chatops.domain.audit import Outcome
from chatops.domain.catalog import Catalog
from chatops.domain.deployment import Deployment, Event, State
from chatops.domain.names import validate_name
from chatops.domain.policy import check_canceller
from chatops.errors import AlreadyDecided, Refused
from chatops.services.announcer import Announcer
from chatops.services.auditor import Auditor
from chatops.services.context import Actor
from chatops.services.ports import Clock, Conflict, Directory, UnitOfWorkFactory

__all__ = ["Cancellations"]

POLL_SECONDS = 0.5


class Cancellations:
    """The `/cancel` use case."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        directory: Directory,
        auditor: Auditor,
        announcer: Announcer,
    ) -> None:
        self._catalog = catalog
        self._uow = uow
        self._clock = clock
        self._directory = directory
        self._auditor = auditor
        self._announcer = announcer

    def cancel(self, actor: Actor, bot: str, env: str, *, wait_seconds: float = 0.0) -> Deployment:
        """Cancel the deployment that runs (or waits for approval) in (bot, env).

        Args:
            wait_seconds: how long to wait for the process running it to stop it, when
                it is building, deploying or verifying.

        Returns:
            The deployment: ended (`failed` or `rejected`, reason "cancelled by …"), or
            still in progress with `cancel_requested_by` set when its process has not
            stopped it yet.

        Raises:
            BadInput: a malformed name.
            NotFound: unknown bot or environment.
            Refused: nothing runs or waits there.
            NotAllowed: neither its requester, one of the environment's deployers, nor an admin.
            AlreadyDecided: it ended, or changed, while being cancelled.
        """
        with self._auditor.refusals(actor, "cancel", bot=bot, env=env):
            validate_name("bot", bot)
            validate_name("environment", env)
            _, environment, _ = self._catalog.target(bot, env)
            deployers = self._directory.expand(environment.deployers)
            now = self._clock.now()
            with self._uow() as uow:
                holder = uow.deployments.holder(bot, env)
                if holder is None or holder.id is None:
                    raise Refused(
                        f"nothing to cancel: no deployment of {bot} runs or waits in {env}",
                        hint=f"`/status {bot}` shows what runs where",
                    )
                current = uow.deployments.get_for_update(holder.id)
                if current is None or not current.active:
                    state = current.state if current else "gone"
                    raise AlreadyDecided(f"#{holder.id} is {state} now: there is nothing to cancel")
                check_canceller(
                    current, actor.user, deployers=deployers, admins=self._catalog.admins
                )
                changed, detail = _cancelled(current, actor.user, now)
                try:
                    saved = uow.deployments.save(changed)
                except Conflict as conflict:
                    raise AlreadyDecided(
                        f"#{current.id} changed while it was being cancelled: "
                        f"it is {conflict.current.state} now",
                        hint=f"`/cancel {bot} {env}` again if it still runs",
                    ) from None
                self._auditor.record(uow, actor, "cancel", Outcome.OK, of=saved, detail=detail)
                uow.commit()
        self._announcer.announce(saved)
        return self._wait(saved, wait_seconds)

    def _wait(self, deployment: Deployment, seconds: float) -> Deployment:
        """`deployment` once its process stopped it, or as it is after `seconds`."""
        deadline = self._clock.now() + timedelta(seconds=seconds)
        while deployment.in_progress and self._clock.now() < deadline:
            self._clock.sleep(POLL_SECONDS)
            with self._uow() as uow:
                deployment = uow.deployments.get(deployment.id or 0) or deployment
        return deployment


def _cancelled(current: Deployment, user: str, now: datetime) -> tuple[Deployment, str]:
    """The deployment after `user`'s cancel, and what the audit log says about it."""
    reason = f"cancelled by {user}"
    if current.state is State.PENDING_APPROVAL:
        return current.advance(Event.REJECTED, at=now, reason=reason), "pending approval: rejected"
    if current.state is State.QUEUED:
        # nothing runs yet: a process about to take it up finds it ended
        return current.advance(Event.FAIL, at=now, reason=reason), "queued: failed"
    asked = replace(
        current,
        cancel_requested_by=current.cancel_requested_by or user,
        cancel_requested_at=current.cancel_requested_at or now,
    )
    return asked, f"{current.state}: its process is asked to stop it"
