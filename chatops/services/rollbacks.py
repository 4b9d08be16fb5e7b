"""Asking to go back: to the previous healthy release of an environment, or a named one.

A rollback builds nothing; chatops' own automatic rollback needs no deployer or
approval and is not held by locks or freezes, since it restores what was healthy.
"""

from __future__ import annotations

from chatops.domain.audit import Outcome
from chatops.domain.catalog import Catalog
from chatops.domain.deployment import Deployment, Kind, State
from chatops.domain.names import validate_name
from chatops.domain.policy import check_busy, check_deployer, rollback_target
from chatops.domain.rollbacks import HISTORY
from chatops.services.context import Actor, required
from chatops.services.intake import Intake
from chatops.services.ports import Clock, Directory, UnitOfWorkFactory

__all__ = ["Rollbacks"]


class Rollbacks:
    """The use cases that put an earlier release back."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        directory: Directory,
        intake: Intake,
    ) -> None:
        self._catalog = catalog
        self._uow = uow
        self._clock = clock
        self._directory = directory
        self._intake = intake

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
        """Go back to the previous healthy release of `env`, or `to_version`, without building.

        `automatic` is chatops' own auto-rollback: it needs no deployer, approval,
        and is not held by locks or freezes, since it restores what was healthy.

        Raises:
            NotFound: unknown bot or environment.
            NothingToRollBack: no earlier healthy release, or `to_version` was never built.
            Refused: not a deployer; locked; frozen; busy.
        """
        action = "auto_rollback" if automatic else "rollback"
        intake = self._intake
        with intake.refusals(actor, action, bot=bot, env=env):
            validate_name("bot", bot)
            validate_name("environment", env)
            _, environment, _ = self._catalog.target(bot, env)
            if not automatic:
                check_deployer(
                    environment, actor.user, self._directory.expand(environment.deployers)
                )
            now = self._clock.now()
            with self._uow() as uow:
                if not automatic:
                    intake.holds.check(uow, actor, environment, bot, force_reason, automatic=False)
                holder = uow.deployments.holder(bot, env)
                if holder is not None and holder.in_progress:
                    check_busy(holder)
                current = uow.deployments.live(bot, env)
                versions = [r.version for r in uow.releases.list(bot, limit=10_000)]
                target = rollback_target(
                    uow.deployments.history(bot, env, limit=HISTORY),
                    current=current,
                    to_version=to_version,
                    built_versions=versions,
                    bot=bot,
                    env=env,
                    promoted_only=environment.promote_from is not None,
                )
                # rollback_target only names built versions
                release = required(uow.releases.get(bot, target), f"release v{target}")
                needs_approval = not automatic and environment.rollback_approvals > 0
                deployment = Deployment(
                    bot=bot,
                    env=env,
                    kind=Kind.AUTO_ROLLBACK if automatic else Kind.ROLLBACK,
                    state=State.PENDING_APPROVAL if needs_approval else State.QUEUED,
                    requested_by=actor.user,
                    requested_at=now,
                    updated_at=now,
                    commit=release.commit,
                    version=release.version,
                    previous_version=current.version if current else None,
                    force_reason=force_reason,
                    reason=reason,
                    request_reason=reason,
                )
                deployment = intake.write(uow, intake.claimed(deployment), new=True)
                intake.auditor.record(
                    uow,
                    actor,
                    action,
                    Outcome.OK,
                    bot=bot,
                    env=env,
                    deployment_id=deployment.id,
                    detail=f"to v{release.version}" + (f": {reason}" if reason else ""),
                )
                uow.commit()
        intake.dispatch.tell(deployment)
        return intake.dispatch.launch(deployment)

    def rollback_deployment(self, actor: Actor, deployment_id: int) -> Deployment:
        """The Rollback button: roll back the environment of a deployment that is still live.

        Raises:
            NotFound: unknown deployment.
            AlreadyDecided: it is no longer what runs there (so the click is stale).
            (and everything `rollback` raises)
        """
        live = self._intake.live_deployment(actor, "rollback", deployment_id)
        return self.rollback(actor, live.bot, live.env)
