"""Asking for a deployment: deploy, promote, rollback, approve, reject.

One door for the entry points onto the three kinds of request: `Deploys`
(deploy, promote), `Rollbacks` and `Approvals`. Their shared steps (refusals
audited, holds, writing the row, telling, launching) are `intake.Intake`.
"""

from __future__ import annotations

from chatops.domain.deployment import Deployment
from chatops.services.approvals import Approvals
from chatops.services.context import Actor
from chatops.services.deploys import Deploys
from chatops.services.rollbacks import Rollbacks

__all__ = ["Requests"]


class Requests:
    """The use cases that start or decide deployments."""

    def __init__(self, *, deploys: Deploys, rollbacks: Rollbacks, approvals: Approvals) -> None:
        self._deploys = deploys
        self._rollbacks = rollbacks
        self._approvals = approvals

    def deploy(
        self,
        actor: Actor,
        bot: str,
        env: str,
        *,
        ref: str | None = None,
        force_reason: str | None = None,
        automatic: bool = False,
    ) -> Deployment:
        """See `Deploys.deploy`."""
        return self._deploys.deploy(
            actor, bot, env, ref=ref, force_reason=force_reason, automatic=automatic
        )

    def promote(
        self,
        actor: Actor,
        bot: str,
        env: str | None = None,
        *,
        force_reason: str | None = None,
        anyway: bool = False,
    ) -> Deployment:
        """See `Deploys.promote`."""
        return self._deploys.promote(actor, bot, env, force_reason=force_reason, anyway=anyway)

    def promote_deployment(
        self, actor: Actor, deployment_id: int, *, anyway: bool = False
    ) -> Deployment:
        """See `Deploys.promote_deployment`."""
        return self._deploys.promote_deployment(actor, deployment_id, anyway=anyway)

    def rollback(
        self,
        actor: Actor,
        bot: str,
        env: str,
        *,
        to_version: int | None = None,
        force_reason: str | None = None,
        automatic: bool = False,
        reason: str | None = None,
    ) -> Deployment:
        """See `Rollbacks.rollback`."""
        return self._rollbacks.rollback(
            actor,
            bot,
            env,
            to_version=to_version,
            force_reason=force_reason,
            automatic=automatic,
            reason=reason,
        )

    def rollback_deployment(self, actor: Actor, deployment_id: int) -> Deployment:
        """See `Rollbacks.rollback_deployment`."""
        return self._rollbacks.rollback_deployment(actor, deployment_id)

    def approve(self, actor: Actor, deployment_id: int) -> Deployment:
        """See `Approvals.approve`."""
        return self._approvals.approve(actor, deployment_id)

    def reject(self, actor: Actor, deployment_id: int, *, reason: str | None = None) -> Deployment:
        """See `Approvals.reject`."""
        return self._approvals.reject(actor, deployment_id, reason=reason)

    def expire_and_supersede(self) -> list[Deployment]:
        """See `Approvals.expire_and_supersede`."""
        return self._approvals.expire_and_supersede()
