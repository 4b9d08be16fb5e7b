"""A release that passed its health gate goes live: what ran before is superseded,
pending promotions of the old release are settled, a rollback holds automatic deploys,
and the environment's git tag moves."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from chatops.domain.audit import Outcome
from chatops.domain.catalog import Bot, Catalog, Environment
from chatops.domain.deployment import Deployment, Event, Kind, Release, State
from chatops.domain.policy import Lock, LockKind
from chatops.errors import ChatOpsError
from chatops.services.attempt import Attempt, Steps, interrupted
from chatops.services.auditor import Auditor
from chatops.services.context import Actor, required
from chatops.services.pending import settle_if_stale
from chatops.services.ports import Conflict, Metrics, SourceControl, UnitOfWork, UnitOfWorkFactory

__all__ = ["GoLive"]

log = logging.getLogger(__name__)

SYSTEM = Actor("chatops", "pipeline")


class GoLive:
    """Makes a verified release the live one of its environment."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        uow: UnitOfWorkFactory,
        auditor: Auditor,
        metrics: Metrics,
        source: SourceControl,
        steps: Steps,
    ) -> None:
        self._catalog = catalog
        self._uow = uow
        self._auditor = auditor
        self._metrics = metrics
        self._source = source
        self._steps = steps

    def go_live(
        self, attempt: Attempt, release: Release, bot: Bot, environment: Environment
    ) -> None:
        deployment = attempt.deployment  # as before going live: each try starts from it
        # the release runs already: a database restarting just now does not undo that
        attempt.deployment, superseded = self._steps.persisting(
            f"record that deployment #{deployment.id} went live",
            lambda: self._record_live(deployment, release, bot, environment),
        )
        self._metrics.live_release(bot.name, environment.name, release.version)
        try:
            self._source.move_env_tag(
                bot,
                env=environment.name,
                commit=release.commit,
                message=f"{bot.name} v{release.version} live in {environment.name} "
                f"(chatops deployment #{deployment.id})",
            )
        except ChatOpsError as exc:
            log.warning("could not move %s/%s: %s", bot.name, environment.name, exc)
            self._auditor.alone(
                SYSTEM,
                "env_tag",
                Outcome.FAILED,
                of=deployment,
                detail=attempt.redact(exc.message),
            )
        self._steps.tell(attempt.deployment)
        for pending in superseded:
            self._steps.tell(pending)

    def _record_live(
        self, deployment: Deployment, release: Release, bot: Bot, environment: Environment
    ) -> tuple[Deployment, list[Deployment]]:
        """One transaction: the deployment live, what ran before superseded, pending
        promotions of the old release settled (returned), a rollback's hold, the audit event."""
        now = self._steps.now()
        rolling_back = deployment.kind in (Kind.ROLLBACK, Kind.AUTO_ROLLBACK)
        with self._uow() as uow:
            previous = uow.deployments.live(bot.name, environment.name)
            went_live = deployment.advance(Event.HEALTHY, at=now)
            if (
                previous is not None
                and previous.id != deployment.id
                and previous.version == release.version
                and previous.healthy_since is not None
            ):
                # the same release again: its continuous time live (the soak) goes on
                went_live = replace(
                    went_live,
                    healthy_since=previous.healthy_since,
                    soak_noticed_at=previous.soak_noticed_at,
                )
            try:
                saved = uow.deployments.save(went_live)
            except Conflict as conflict:
                current = conflict.current
                if current.id == deployment.id and current.state is State.LIVE:
                    # an earlier try's commit went through though its answer was lost
                    return current, []
                raise interrupted(current) from None
            if previous is not None and previous.id != deployment.id:
                # locked: the monitor may be saving it (healthy_since) just now
                previous = required(uow.deployments.get_for_update(previous.id or 0), "live")
                uow.deployments.save(
                    replace(
                        previous.advance(Event.SUPERSEDED, at=now),
                        rolled_back=previous.rolled_back or rolling_back,
                    )
                )
            superseded = [
                settled
                for pending in uow.deployments.in_state([State.PENDING_APPROVAL])
                if pending.bot == bot.name
                and (downstream := self._catalog.environments.get(pending.env)) is not None
                and downstream.promote_from == environment.name
                and (settled := self._settle(uow, pending, downstream, now)) is not None
            ]
            held = uow.locks.get(bot.name, environment.name)
            manual_lock = held is not None and held.kind is LockKind.MANUAL and held.active(now)
            # the hold only stops automatic deploys: none without `auto_deploy`
            if rolling_back and environment.auto_deploy is not None and not manual_lock:
                uow.locks.put(
                    Lock(
                        bot=bot.name,
                        env=environment.name,
                        held_by=deployment.requested_by,
                        reason=f"{_direction(previous, release.version)} to v{release.version} "
                        f"by deployment #{deployment.id} ({deployment.kind})",
                        created_at=now,
                        kind=LockKind.ROLLBACK_HOLD,
                    )
                )
            self._auditor.record(
                uow,
                SYSTEM,
                "live",
                Outcome.OK,
                of=deployment,
                detail=f"v{release.version} live",
            )
            uow.commit()
        return saved, superseded

    def _settle(
        self, uow: UnitOfWork, pending: Deployment, environment: Environment, now: datetime
    ) -> Deployment | None:
        try:
            return settle_if_stale(self._auditor, uow, pending, environment, now)
        except Conflict:
            return None  # decided meanwhile; the approvals job settles it if still stale


def _direction(previous: Deployment | None, version: int) -> str:
    """ "rolled back" to an older release than was live, "rolled forward" to a newer one."""
    if previous is not None and previous.version is not None and version > previous.version:
        return "rolled forward"
    return "rolled back"
