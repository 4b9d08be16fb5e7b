"""Which releases `retention` lets go: never one that is live, was live just before, or is
on its way somewhere (DESIGN §5). Git tags are never among what goes (DESIGN §3)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chatops.domain.deployment import Deployment, State

__all__ = ["RetentionPolicy", "releases_to_prune"]

_ENDED = frozenset({State.SUPERSEDED, State.FAILED, State.REJECTED, State.EXPIRED})


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """`retention:` in chatops.yaml; None keeps everything of that kind."""

    releases: int | None = None  # per bot: the newest N releases' images and build logs
    audit_days: int | None = None  # audit events younger than this many days

    @property
    def configured(self) -> bool:
        return self.releases is not None or self.audit_days is not None


def releases_to_prune(
    versions: Iterable[int], *, keep: int, histories: Iterable[Sequence[Deployment]]
) -> list[int]:
    """The versions of one bot whose images and build logs may go, oldest first.

    Args:
        versions: every version of the bot that was built.
        keep: how many of the newest to keep whatever they are.
        histories: the bot's deployments per environment, newest first: what is live
            there, what was live before it (the rollback target), and anything still
            pending or in progress are kept too.
    """
    ordered = sorted(set(versions), reverse=True)
    kept = set(ordered[: max(0, keep)])
    for history in histories:
        kept |= _needed(history)
    return sorted(v for v in ordered if v not in kept)


def _needed(history: Sequence[Deployment]) -> set[int]:
    needed: set[int] = set()
    live: int | None = None
    previous: int | None = None
    for deployment in history:
        version = deployment.version
        if version is None:
            continue
        if deployment.state is State.LIVE:
            live = version
            needed.add(version)
            if deployment.previous_version is not None:
                needed.add(deployment.previous_version)
        elif deployment.state not in _ENDED:
            needed.add(version)  # pending or in progress
        elif deployment.state is State.SUPERSEDED and previous is None and version != live:
            previous = version  # newest first: the last one live before what is live now
    return needed if previous is None else needed | {previous}
