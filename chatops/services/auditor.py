"""Writes the audit log: one event per action, refusals included."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from chatops.domain.audit import AuditEvent, Outcome
from chatops.domain.deployment import Deployment
from chatops.errors import UserError
from chatops.services.context import Actor
from chatops.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

__all__ = ["Auditor"]


class Auditor:
    """Records audit events, inside a caller's transaction or in one of their own."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def record(
        self,
        uow: UnitOfWork,
        actor: Actor,
        action: str,
        outcome: Outcome,
        *,
        of: Deployment | None = None,
        **fields: object,
    ) -> None:
        """Record an audit event in `uow`; `of` fills in a deployment's bot, env and id."""
        if of is not None:
            fields = {"bot": of.bot, "env": of.env, "deployment_id": of.id, **fields}
        uow.audit.add(
            AuditEvent(
                at=self._clock.now(),
                actor=actor.user,
                action=action,
                outcome=outcome,
                source=actor.source,
                **fields,  # type: ignore[arg-type]
            )
        )

    def alone(
        self,
        actor: Actor,
        action: str,
        outcome: Outcome,
        *,
        of: Deployment | None = None,
        **fields: object,
    ) -> None:
        """Record an event in a transaction of its own (refusals, failures)."""
        with self._uow() as uow:
            self.record(uow, actor, action, outcome, of=of, **fields)
            uow.commit()

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
        """Every refusal of `action` is an audit event too, in a transaction of its own."""
        try:
            yield
        except UserError as exc:
            self.alone(
                actor,
                action,
                Outcome.REFUSED,
                detail=str(exc),
                bot=bot,
                env=env,
                deployment_id=deployment_id,
            )
            raise
