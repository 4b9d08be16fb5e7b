"""Holding an environment: /lock and /unlock."""

from __future__ import annotations

from datetime import timedelta

from chatops.domain.audit import Outcome
from chatops.domain.catalog import Catalog
from chatops.domain.names import validate_name
from chatops.domain.policy import Lock, LockKind, check_deployer, check_lock_duration, is_member
from chatops.errors import BadInput, Locked, NotAllowed, NotFound
from chatops.services.auditor import Auditor
from chatops.services.context import Actor
from chatops.services.ports import Clock, Directory, Notifier, UnitOfWorkFactory

__all__ = ["LockService"]


class LockService:
    """Locks refuse every new deployment of (bot, env) until unlocked or expired."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        directory: Directory,
        auditor: Auditor,
        notifier: Notifier,
    ) -> None:
        self._catalog = catalog
        self._uow = uow
        self._clock = clock
        self._directory = directory
        self._auditor = auditor
        self._notifier = notifier

    def lock(
        self, actor: Actor, bot: str, env: str, *, reason: str, duration: timedelta | None = None
    ) -> Lock:
        """Hold (bot, env) with a reason, optionally for a limited time.

        Raises:
            BadInput: no reason, or a duration that is not positive or longer than a year.
            NotFound: unknown bot or environment.
            NotAllowed: not a deployer of the environment nor an admin.
            Locked: someone else holds it already.
        """
        with self._auditor.refusals(actor, "lock", bot=bot, env=env):
            validate_name("bot", bot)
            validate_name("environment", env)
            _, environment, _ = self._catalog.target(bot, env)
            if not reason.strip():
                raise BadInput("a lock needs a reason", usage="/lock <bot> <env> <reason>")
            check_lock_duration(duration)
            if actor.user not in self._catalog.admins:
                check_deployer(
                    environment, actor.user, self._directory.expand(environment.deployers)
                )
            now = self._clock.now()
            with self._uow() as uow:
                current = uow.locks.get(bot, env)
                if (
                    current is not None
                    and current.kind is LockKind.MANUAL
                    and current.active(now)
                    and current.held_by != actor.user
                ):
                    raise Locked(
                        f"{bot} in {env} is already {current.describe()}",
                        hint=f"`/unlock {bot} {env}` first",
                    )
                lock = Lock(
                    bot=bot,
                    env=env,
                    held_by=actor.user,
                    reason=reason.strip(),
                    created_at=now,
                    expires_at=now + duration if duration else None,
                )
                uow.locks.put(lock)
                self._auditor.record(
                    uow, actor, "lock", Outcome.OK, bot=bot, env=env, detail=lock.describe()
                )
                uow.commit()
        self._notifier.say(
            self._catalog.channel_for(env), f":lock: {bot} in {env} is {lock.describe()}"
        )
        return lock

    def unlock(self, actor: Actor, bot: str, env: str) -> Lock:
        """Lift the lock (or the hold a rollback left) on (bot, env).

        Raises:
            NotFound: unknown bot or environment, or nothing holds it.
            NotAllowed: neither the holder, a deployer of the environment, nor an admin.
        """
        with self._auditor.refusals(actor, "unlock", bot=bot, env=env):
            validate_name("bot", bot)
            validate_name("environment", env)
            _, environment, _ = self._catalog.target(bot, env)
            with self._uow() as uow:
                lock = uow.locks.get(bot, env)
                if lock is None or not lock.active(self._clock.now()):
                    raise NotFound(f"{bot} in {env} is not locked")
                allowed = (
                    actor.user == lock.held_by
                    or actor.user in self._catalog.admins
                    or is_member(actor.user, self._directory.expand(environment.deployers))
                )
                if not allowed:
                    raise NotAllowed(
                        f"{actor.user} may not unlock {bot} in {env}",
                        hint=f"ask {lock.held_by}, a deployer of {env}, or an admin",
                    )
                uow.locks.delete(bot, env)
                self._auditor.record(
                    uow,
                    actor,
                    "unlock",
                    Outcome.OK,
                    bot=bot,
                    env=env,
                    detail=f"was {lock.describe()}",
                )
                uow.commit()
        self._notifier.say(
            self._catalog.channel_for(env), f":unlock: {bot} in {env} unlocked by {actor.user}"
        )
        return lock
