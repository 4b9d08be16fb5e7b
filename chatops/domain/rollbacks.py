"""Where a rollback goes: the rule `/rollback` applies, and what a Rollback button shows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from chatops.domain.deployment import Deployment
from chatops.errors import NothingToRollBack

__all__ = ["previous_healthy", "rollback_target"]

HISTORY = 500  # the deployments of an environment a rollback looks back through


def previous_healthy(history: Sequence[Deployment], *, current: Deployment | None) -> int | None:
    """Where `/rollback BOT ENV` goes, and what its buttons say: the newest release that
    went live in the environment, is not what runs now, and was not rolled back from
    since it ran (a release rolled back from once is not gone back to by an earlier run).

    Args:
        history: the environment's deployments, newest first.
        current: what is live there now, if anything.
    """
    current_version = current.version if current else None
    rolled_back_from: set[int] = set()
    for deployment in history:
        version = deployment.version
        if version is None or not deployment.reached_live:
            continue
        if deployment.rolled_back:
            rolled_back_from.add(version)
        elif (
            version != current_version
            and version not in rolled_back_from
            and (current is None or deployment.id != current.id)
        ):
            return version
    return None


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
    found = previous_healthy(history, current=current)
    if found is not None:
        return found
    raise NothingToRollBack(
        f"{bot} has no earlier healthy release in {env} to roll back to",
        hint=f"`/releases {bot} {env}` shows its history; deploy a fix instead",
    )
