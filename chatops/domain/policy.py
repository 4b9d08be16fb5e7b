"""The rules of DESIGN §2: who may start what, where, and when.

Pure functions over values. Every refusal says why and what to do instead, so
Slack, the CLI and webhooks give the same answer.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from chatops.domain.alerts import Alert
from chatops.domain.catalog import ANYONE, Environment
from chatops.domain.deployment import Deployment, Kind, State
from chatops.domain.durations import format_duration
from chatops.domain.health import Health
from chatops.domain.rollbacks import rollback_target
from chatops.domain.verification import Assessment, RunState
from chatops.errors import (
    BadInput,
    Busy,
    Frozen,
    Locked,
    NotAllowed,
    NotPromotable,
    Refused,
)

__all__ = [
    "INCONCLUSIVE_FINGERPRINT",
    "MAX_LOCK",
    "FreezeWindow",
    "Lock",
    "LockKind",
    "check_acknowledger",
    "check_busy",
    "check_canceller",
    "check_deployer",
    "check_entry",
    "check_holds",
    "check_lock_duration",
    "check_promotable",
    "excuse_inconclusive",
    "format_duration",
    "is_member",
    "rollback_target",
]


MAX_LOCK = timedelta(days=365)


class LockKind(enum.StrEnum):
    MANUAL = "manual"  # /lock: holds every deployment
    ROLLBACK_HOLD = "rollback_hold"  # after a rollback: holds automatic deploys only


@dataclass(frozen=True, slots=True)
class Lock:
    bot: str
    env: str
    held_by: str
    reason: str
    created_at: datetime
    expires_at: datetime | None = None
    kind: LockKind = LockKind.MANUAL

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at

    def describe(self) -> str:
        if self.kind is LockKind.ROLLBACK_HOLD:
            return f"held for automatic deploys: {self.reason}"
        until = f" until {self.expires_at:%Y-%m-%d %H:%M %Z}" if self.expires_at else ""
        return f"locked by {self.held_by}{until}: {self.reason}"


@dataclass(frozen=True, slots=True)
class FreezeWindow:
    """An open freeze: the rule that opened it and when it closes."""

    cron: str
    starts_at: datetime
    ends_at: datetime


def is_member(user: str, allowed: Iterable[str]) -> bool:
    """Whether `user` is in `allowed` (already expanded from groups), or `allowed` has `*`."""
    members = set(allowed)
    return ANYONE in members or user in members


def check_entry(env: Environment, kind: Kind, *, bot: str) -> None:
    """A plain deploy may not enter an environment that takes promotions; a promotion
    only one that does.

    Raises:
        Refused: a deploy where `env` has `promote_from`; a promotion where it has none.
    """
    if kind is Kind.DEPLOY and env.promote_from:
        raise Refused(
            f"{env.name} only runs releases promoted from {env.promote_from}",
            hint=f"deploy to {env.promote_from} first, then `/promote {bot} {env.name}`",
        )
    if kind is Kind.PROMOTE and not env.promote_from:
        raise Refused(
            f"{env.name} does not take promotions (it has no `promote_from`)",
            hint=f"`/deploy {bot} {env.name}` deploys to it directly",
        )


def check_deployer(env: Environment, user: str, deployers: Iterable[str]) -> None:
    """Raises NotAllowed when `user` is not among the environment's deployers."""
    if not is_member(user, deployers):
        raise NotAllowed(
            f"{user} may not deploy to {env.name}",
            hint=f"ask one of {env.name}'s deployers, or an admin to add you to `deployers`",
        )


def check_acknowledger(
    env: str,
    user: str,
    *,
    deployers: Iterable[str],
    approvers: Iterable[str],
    admins: Iterable[str],
) -> None:
    """Acknowledging an alert of `env` is for its deployers and approvers, and admins.

    Raises:
        NotAllowed: `user` is none of them.
    """
    if user in set(admins) or is_member(user, deployers) or is_member(user, approvers):
        return
    raise NotAllowed(
        f"{user} may not acknowledge alerts of {env}",
        hint=f"ask one of {env}'s deployers or approvers, or an admin",
    )


def check_lock_duration(duration: timedelta | None) -> None:
    """A lock lasts until unlocked, or for a positive time of at most `MAX_LOCK`.

    Raises:
        BadInput: the duration is not positive, or longer than `MAX_LOCK`.
    """
    if duration is None:
        return
    if duration <= timedelta(0):
        raise BadInput("the lock duration must be positive", hint="e.g. --for 2h")
    if duration > MAX_LOCK:
        raise BadInput(
            f"a lock may last at most {MAX_LOCK.days}d; {format_duration(duration)} is longer",
            hint="leave out --for to hold it until `/unlock`, or give e.g. --for 30d",
        )


def check_canceller(
    deployment: Deployment, user: str, *, deployers: Iterable[str], admins: Iterable[str]
) -> None:
    """Its requester, the environment's deployers and admins may cancel a deployment.

    Raises:
        NotAllowed: `user` is none of them.
    """
    if user == deployment.requested_by or user in set(admins) or is_member(user, deployers):
        return
    raise NotAllowed(
        f"{user} may not cancel #{deployment.id}: only who asked for it "
        f"({deployment.requested_by}), {deployment.env}'s deployers and admins may",
        hint=f"ask {deployment.requested_by} or an admin",
    )


def check_busy(active: Deployment | None) -> None:
    """Raises Busy when another deployment holds (bot, env)."""
    if active is not None and active.id is not None:
        if active.state is State.PENDING_APPROVAL:
            hint = f"approve or reject #{active.id} first"
        else:
            hint = "wait for it to finish"
        raise Busy(
            f"{active.bot} in {active.env} is busy with {active.describe()} ({active.state})",
            deployment_id=active.id,
            hint=hint,
        )


def check_holds(
    *,
    lock: Lock | None,
    freeze: FreezeWindow | None,
    user: str,
    admins: Iterable[str],
    force_reason: str | None,
    automatic: bool,
    now: datetime,
) -> bool:
    """Refuse while a lock or freeze holds, unless an admin forces it with a reason.

    Returns:
        True when the deployment goes ahead only because an admin forced it.

    Raises:
        NotAllowed: a non-admin asked to force.
        Locked: a lock holds (bot, env).
        Frozen: a freeze window is open.
    """
    if force_reason is not None:
        if user not in set(admins):
            raise NotAllowed(f"only admins may force; {user} is not one", hint="ask an admin")
        if not force_reason.strip():
            raise NotAllowed(
                "forcing needs a reason", hint="pass --reason with why this cannot wait"
            )
    held = False
    if lock is not None and lock.active(now) and (lock.kind is LockKind.MANUAL or automatic):
        if force_reason is None or automatic:
            raise Locked(
                f"{lock.bot} in {lock.env} is {lock.describe()}",
                hint=f"`/unlock {lock.bot} {lock.env}` when the reason is gone, "
                "or an admin can force",
            )
        held = True
    if freeze is not None:
        if force_reason is None or automatic:
            raise Frozen(
                f"deployments are frozen until {freeze.ends_at:%Y-%m-%d %H:%M %Z} "
                f"(freeze `{freeze.cron}`)",
                hint="wait for the window to close, or an admin can force with a reason",
            )
        held = True
    return held


def check_promotable(
    *,
    source: str,
    target: str,
    live: Deployment | None,
    health: Health,
    soak: timedelta,
    now: datetime,
    bot: str,
    open_alerts: Sequence[Alert] = (),
    verification: Assessment | None = None,
) -> None:
    """A promotion takes only what is live, healthy and soaked in the source environment.

    Healthy means all three: a look at it now (`health`), no failing health check
    since `healthy_since`, and no open alert of the bot there (acknowledged or not).
    Where the source environment has `verify`, its `verification` must have passed.

    Raises:
        NotPromotable: nothing live, not healthy, or healthy for less than `soak`.
    """
    if live is None or live.state is not State.LIVE:
        raise NotPromotable(
            f"nothing of {bot} is live in {source}, so there is nothing to promote to {target}",
            hint=f"`/deploy {bot} {source}` first",
        )
    if health is not Health.HEALTHY or live.healthy_since is None:
        raise NotPromotable(
            f"{bot} v{live.version} in {source} is not healthy (health: {health})",
            hint=f"fix it in {source} before promoting",
        )
    alerts = [a for a in open_alerts if a.open and a.bot == bot and a.env == source]
    if alerts:
        first = alerts[0]
        more = f" and {len(alerts) - 1} more" if len(alerts) > 1 else ""
        raise NotPromotable(
            f"{bot} in {source} has an open alert: {first.summary} (alert #{first.id}){more}",
            hint=f"promote once it is resolved, or fix it in {source} first",
        )
    healthy_for = now - live.healthy_since
    if healthy_for < soak:
        raise NotPromotable(
            f"{bot} v{live.version} has been healthy in {source} "
            f"for {format_duration(healthy_for)}; "
            f"{target} needs {format_duration(soak)} of soak",
            hint=f"try again in {format_duration(soak - healthy_for)}",
        )
    if verification is not None:
        _check_verified(verification, source=source, target=target, live=live, bot=bot)


INCONCLUSIVE_FINGERPRINT = "chatops:verify:inconclusive:"


def excuse_inconclusive(
    verification: Assessment | None,
    open_alerts: Sequence[Alert],
    *,
    user: str,
    approvers: Iterable[str],
    target: str,
) -> tuple[Assessment | None, list[Alert]]:
    """`promote_anyway`: an approver of `target` takes an inconclusive verification as passed.

    Returns the verification and open alerts a promotion is then judged on: without
    the inconclusive state and its alert. Failed, running and passed stay as they are.

    Raises:
        NotAllowed: `user` is not an approver of `target`.
        NotPromotable: the verification is not inconclusive (nothing to decide).
    """
    if not is_member(user, approvers):
        raise NotAllowed(
            f"only approvers of {target} may promote past an inconclusive verification",
            hint="ask one of them",
        )
    if verification is None or verification.state is not RunState.INCONCLUSIVE:
        state = verification.state if verification else "not configured"
        raise NotPromotable(
            f"there is no inconclusive verification to decide (it is {state})",
            hint="use the Promote button or `/promote`",
        )
    kept = [a for a in open_alerts if not a.fingerprint.startswith(INCONCLUSIVE_FINGERPRINT)]
    return None, kept


def _check_verified(
    verification: Assessment, *, source: str, target: str, live: Deployment, bot: str
) -> None:
    what = f"{bot} v{live.version}"
    if verification.state is RunState.FAILED:
        raise NotPromotable(
            f"{what} failed verification in {source}: {verification.reason}",
            hint=f"roll it back or deploy a fix to {source}",
        )
    if verification.state is RunState.INCONCLUSIVE:
        raise NotPromotable(
            f"the verification of {what} in {source} is inconclusive: {verification.reason}",
            hint=f"look at its metrics; an approver of {target} may promote it anyway",
        )
    if verification.state is RunState.RUNNING:
        raise NotPromotable(
            f"{what} is still being verified in {source} "
            f"({verification.measured} measurements so far)",
            hint="try again after the next measurement",
        )
