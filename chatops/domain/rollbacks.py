"""Where a rollback goes: the rule `/rollback` applies, and what a Rollback button shows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from chatops.domain.deployment import Deployment, Kind
from chatops.errors import NothingToRollBack

__all__ = ["previous_is_rollback_target", "rollback_target"]


def previous_is_rollback_target(deployment: Deployment) -> bool:
    """Whether rolling back from live `deployment` goes to the release it replaced.

    So when it moved its environment forward (a deploy or a promotion). After a
    rollback, the release it replaced is the one rolled away from, so it is not.
    """
    return deployment.kind in (Kind.DEPLOY, Kind.PROMOTE)


def rollback_target(
    history: Sequence[Deployment],
    *,
    current: Deployment | None,
    to_version: int | None,
    built_versions: Iterable[int],
    bot: str,
    env: str,
    promoted_only: bool = False,
) -> int:
    """The version a rollback goes to.

    Args:
        history: the environment's deployments, newest first.
        current: what is live there now, if anything.
        to_version: the version the person named, if any.
        built_versions: every version of the bot that was built.
        promoted_only: the environment takes promotions only, so a named version must
            have run there before (a rollback is no way around promotion).

    Raises:
        NothingToRollBack: no earlier healthy release; or the named one was never built,
            is what runs now, or (promoted_only) never ran in `env`.
    """
    current_version = current.version if current else None
    if to_version is not None:
        if to_version not in set(built_versions):
            raise NothingToRollBack(
                f"{bot} v{to_version} was never built", hint=f"`/releases {bot}` lists the releases"
            )
        if to_version == current_version:
            raise NothingToRollBack(f"{bot} v{to_version} is already live in {env}")
        if promoted_only and not any(d.reached_live and d.version == to_version for d in history):
            raise NothingToRollBack(
                f"{bot} v{to_version} never ran in {env}, so it cannot be rolled back to",
                hint=f"`/releases {bot} {env}` lists what ran there; "
                "new releases come by promotion",
            )
        return to_version
    for deployment in history:
        if (
            deployment.reached_live
            and not deployment.rolled_back
            and deployment.version is not None
            and deployment.version != current_version
            and (current is None or deployment.id != current.id)
        ):
            return deployment.version
    raise NothingToRollBack(
        f"{bot} has no earlier healthy release in {env} to roll back to",
        hint=f"`/releases {bot} {env}` shows its history; deploy a fix instead",
    )
