"""The steps every request shares: refusals audited, holds, writing the row, telling, launching.

A request that passes its rules becomes a deployment row (queued, or pending
approval) in the same transaction as its audit event; the channel is told, and
a queued one is handed to the launcher.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from chatops.domain.audit import Outcome
from chatops.domain.catalog import Catalog, Environment
from chatops.domain.deployment import Deployment, Kind, State
from chatops.domain.policy import LockKind, check_busy, check_holds
from chatops.errors import AlreadyDecided, Busy, NotFound, NotPromotable
from chatops.services.announcer import Announcer
from chatops.services.auditor import Auditor
from chatops.services.context import Actor
from chatops.services.ports import (
    Clock,
    FreezeCalendar,
    Launcher,
    ProcessTable,
    SlotTaken,
    UnitOfWork,
    UnitOfWorkFactory,
)

__all__ = ["Dispatch", "Holds", "Intake"]


class Holds:
    """Whether a lock or an open freeze window holds an environment (an admin may force)."""

    def __init__(self, catalog: Catalog, *, freezes: FreezeCalendar, clock: Clock) -> None:
        self._catalog = catalog
        self._freezes = freezes
        self._clock = clock

    def check(
        self,
        uow: UnitOfWork,
        actor: Actor,
        environment: Environment,
        bot: str,
        force_reason: str | None,
        *,
        automatic: bool,
    ) -> bool:
        """Whether an admin forced past a hold.

        Raises:
            Locked, Frozen: a lock or freeze holds the environment.
        """
        now = self._clock.now()
        return check_holds(
            lock=uow.locks.get(bot, environment.name),
            freeze=self._freezes.open_window(environment, now),
            user=actor.user,
            admins=self._catalog.admins,
            force_reason=force_reason,
            automatic=automatic,
            now=now,
        )


class Dispatch:
    """After a request is recorded: tell the channel, and launch it when it is queued."""

    def __init__(self, *, announcer: Announcer, launcher: Launcher, uow: UnitOfWorkFactory) -> None:
        self._announcer = announcer
        self._launcher = launcher
        self._uow = uow

    def tell(self, deployment: Deployment) -> None:
        self._announcer.announce(deployment)

    def launch(self, deployment: Deployment) -> Deployment:
        """Hand a queued deployment to the launcher; the deployment as it stands after."""
        if deployment.state is not State.QUEUED or deployment.id is None:
            return deployment
        self._launcher.launch(deployment.id)
        with self._uow() as uow:
            launched = uow.deployments.get(deployment.id)
        if launched is None:
            raise NotFound(f"there is no deployment #{deployment.id}")
        return launched


class Intake:
    """Records requests: a refusal as an audit event, an accepted request as a deployment
    row with its audit event, then tells the channel and launches it."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        processes: ProcessTable,
        auditor: Auditor,
        holds: Holds,
        dispatch: Dispatch,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._processes = processes
        self.auditor = auditor
        self.holds = holds
        self.dispatch = dispatch

    @contextmanager
    def refusals(
        self,
        actor: Actor,
        action: str,
        *,
        bot: str | None = None,
        env: str | None = None,
        deployment_id: int | None = None,
    ) -> Iterator[None]:
        """Every refusal of `action` is an audit event too."""
        with self.auditor.refusals(actor, action, bot=bot, env=env, deployment_id=deployment_id):
            yield

    def claimed(self, deployment: Deployment) -> Deployment:
        """A queued deployment is owned by this process from the start (recovery reads it)."""
        if deployment.state is not State.QUEUED:
            return deployment
        return replace(deployment, owner=self._processes.me(), heartbeat_at=self._clock.now())

    def open(
        self,
        actor: Actor,
        environment: Environment,
        deployment: Deployment,
        *,
        automatic: bool = False,
        expect_live_in_source: Deployment | None = None,
    ) -> Deployment:
        """Check holds and exclusivity, insert the deployment and its audit event, tell."""
        action = "deploy" if deployment.kind is Kind.DEPLOY else str(deployment.kind)
        with self._uow() as uow:
            forced = self.holds.check(
                uow,
                actor,
                environment,
                deployment.bot,
                deployment.force_reason,
                automatic=automatic,
            )
            check_busy(uow.deployments.holder(deployment.bot, environment.name))
            if expect_live_in_source is not None and environment.promote_from:
                live = uow.deployments.live(deployment.bot, environment.promote_from)
                if live is None or live.id != expect_live_in_source.id:
                    raise NotPromotable(
                        f"what is live in {environment.promote_from} changed while promoting",
                        hint="check `/status` and promote again",
                    )
            deployment = self.write(uow, self.claimed(deployment), new=True)
            if not automatic:
                _lift_rollback_hold(uow, deployment.bot, environment.name)
            detail = f"ref {deployment.ref}" if deployment.ref else f"v{deployment.version}"
            if forced:
                detail += f"; forced by admin: {deployment.force_reason}"
            if deployment.verification_override:
                detail += "; promoted past an inconclusive verification"
            self.auditor.record(
                uow,
                actor,
                action,
                Outcome.OK,
                bot=deployment.bot,
                env=environment.name,
                deployment_id=deployment.id,
                detail=detail,
            )
            uow.commit()
        self.dispatch.tell(deployment)
        return deployment

    def write(self, uow: UnitOfWork, deployment: Deployment, *, new: bool) -> Deployment:
        """Add or save `deployment`; a slot another deployment holds is refused as Busy."""
        try:
            return uow.deployments.add(deployment) if new else uow.deployments.save(deployment)
        except SlotTaken as taken:
            holder = uow.deployments.get(taken.holder_id) if taken.holder_id else None
            check_busy(holder)
            raise Busy(
                f"{deployment.bot} in {deployment.env} is busy",
                deployment_id=taken.holder_id or 0,
                hint="wait for it to finish",
            ) from None

    def live_deployment(self, actor: Actor, action: str, deployment_id: int) -> Deployment:
        """The deployment a button acts on, while it is still what runs in its environment.

        Raises:
            NotFound: unknown deployment.
            AlreadyDecided: it is no longer live (so the click is stale).
        """
        with (
            self.refusals(actor, action, deployment_id=deployment_id),
            self._uow() as uow,
        ):
            deployment = uow.deployments.get(deployment_id)
            live = uow.deployments.live(deployment.bot, deployment.env) if deployment else None
            if deployment is None:
                raise NotFound(f"there is no deployment #{deployment_id}")
            if live is None or live.id != deployment.id:
                now = f"v{live.version} (#{live.id})" if live else "nothing"
                raise AlreadyDecided(
                    f"#{deployment_id} ({deployment.bot} v{deployment.version}) is no longer live "
                    f"in {deployment.env}; it runs {now}",
                    hint=f"use `/{action} {deployment.bot} {deployment.env}` "
                    "to act on what runs now",
                )
            return deployment


def _lift_rollback_hold(uow: UnitOfWork, bot: str, env: str) -> None:
    """A deploy or promotion on purpose ends the hold a rollback left on automatic deploys."""
    lock = uow.locks.get(bot, env)
    if lock is not None and lock.kind is LockKind.ROLLBACK_HOLD:
        uow.locks.delete(bot, env)
