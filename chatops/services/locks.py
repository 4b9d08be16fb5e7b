"""Holding an environment: /lock and /unlock."""

from __future__ import annotations

from datetime import timedelta

from chatops.domain.audit import Outcome
from chatops.domain.names import validate_name
from chatops.domain.policy import Lock, LockKind, check_deployer, check_lock_duration, is_member
from chatops.errors import BadInput, Locked, NotAllowed, NotFound
from chatops.services.context import Actor, Deps

__all__ = ["LockService"]


class LockService:
    """Locks refuse every new deployment of (bot, env) until unlocked or expired."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps

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
        with self._deps.refusals_audited(actor, "lock", bot=bot, env=env):
            validate_name("bot", bot)
            validate_name("environment", env)
            _, environment, _ = self._deps.catalog.target(bot, env)
            if not reason.strip():
                raise BadInput("a lock needs a reason", usage="/lock <bot> <env> <reason>")
            check_lock_duration(duration)
            if actor.user not in self._deps.catalog.admins:
                check_deployer(
                    environment, actor.user, self._deps.directory.expand(environment.deployers)
                )
            now = self._deps.clock.now()
            with self._deps.uow() as uow:
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
                self._deps.audit(
                    uow, actor, "lock", Outcome.OK, bot=bot, env=env, detail=lock.describe()
                )
                uow.commit()
        self._deps.notifier.say(
            self._deps.catalog.channel_for(env), f":lock: {bot} in {env} is {lock.describe()}"
        )
        return lock

    def unlock(self, actor: Actor, bot: str, env: str) -> Lock:
        """Lift the lock (or the hold a rollback left) on (bot, env).

        Raises:
            NotFound: unknown bot or environment, or nothing holds it.
            NotAllowed: neither the holder, a deployer of the environment, nor an admin.
        """
        with self._deps.refusals_audited(actor, "unlock", bot=bot, env=env):
            validate_name("bot", bot)
            validate_name("environment", env)
            _, environment, _ = self._deps.catalog.target(bot, env)
            with self._deps.uow() as uow:
                lock = uow.locks.get(bot, env)
                if lock is None or not lock.active(self._deps.clock.now()):
                    raise NotFound(f"{bot} in {env} is not locked")
                allowed = (
                    actor.user == lock.held_by
                    or actor.user in self._deps.catalog.admins
                    or is_member(actor.user, self._deps.directory.expand(environment.deployers))
                )
                if not allowed:
                    raise NotAllowed(
                        f"{actor.user} may not unlock {bot} in {env}",
                        hint=f"ask {lock.held_by}, a deployer of {env}, or an admin",
                    )
                uow.locks.delete(bot, env)
                self._deps.audit(
                    uow,
                    actor,
                    "unlock",
                    Outcome.OK,
                    bot=bot,
                    env=env,
                    detail=f"was {lock.describe()}",
                )
                uow.commit()
        self._deps.notifier.say(
            self._deps.catalog.channel_for(env), f":unlock: {bot} in {env} unlocked by {actor.user}"
        )
        return lock
