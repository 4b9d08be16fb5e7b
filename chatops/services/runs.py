"""A release's continuous time live in an environment, and where its verification stands.

Shared by promotion (which needs verification passed), the verifier and the views.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Protocol

from chatops.domain.catalog import Catalog
from chatops.domain.deployment import Deployment, State
from chatops.domain.verification import (
    Assessment,
    VerifySpec,
    assess_tallies,
    merge_tallies,
)
from chatops.services.status_reads import Reads, Spell

__all__ = ["downstream_soak", "run_in", "run_of", "verification_of", "verifications_of"]

HISTORY = 50  # the deployments of (bot, env) read back to find where a run began


def run_of(uow: Reads, live: Deployment) -> tuple[list[int], datetime]:
    """The deployments of `live`'s continuous time live in its environment, and when it began."""
    return run_in(live, uow.deployments.history(live.bot, live.env, limit=HISTORY))


class _Live(Protocol):
    """What a run needs of a deployment: a `Deployment`, or a `Spell` read for status."""

    @property
    def id(self) -> int | None: ...
    @property
    def version(self) -> int | None: ...
    @property
    def live_at(self) -> datetime | None: ...


def run_in(live: Deployment, history: Iterable[_Live]) -> tuple[list[int], datetime]:
    """`run_of` over `history`, the deployments of `live`'s bot and environment.

    A deployment of the same version that went live just before it (a redeploy)
    continues the run; anything else in between ends it.
    """
    ids = [live.id] if live.id is not None else []
    since = live.live_at or live.updated_at
    reached = [
        d
        for d in history
        if d.live_at is not None and d.id != live.id and (d.id or 0) < (live.id or 0)
    ]
    for earlier in sorted(reached, key=lambda d: d.id or 0, reverse=True):
        if earlier.version != live.version or earlier.id is None:
            break
        ids.append(earlier.id)
        since = earlier.live_at or since
    return ids, since


def downstream_soak(catalog: Catalog, env: str) -> timedelta:
    """The longest soak an environment promoted from `env` asks for."""
    soaks = [e.soak for e in catalog.downstream_of(env)]
    return max(soaks, default=timedelta(0))


def verification_of(
    uow: Reads,
    spec: VerifySpec | None,
    live: Deployment | None,
    *,
    soak: timedelta,
    now: datetime,
) -> Assessment | None:
    """Where the verification of the live deployment stands; None where nothing is verified."""
    if spec is None or live is None or live.state is not State.LIVE:
        return None
    ids, since = run_of(uow, live)
    tallies = uow.measurements.tallies(ids)
    return assess_tallies(spec, tallies, live_since=since, soak=soak, now=now)


def verifications_of(
    uow: Reads,
    env: str,
    spec: VerifySpec,
    lives: Collection[Deployment],
    *,
    soak: timedelta,
    now: datetime,
) -> dict[int, Assessment]:
    """`verification_of` for the live deployments `lives` of `env` (the newest of each
    bot), by deployment id, in three queries whatever their number (the web overview
    shows hundreds)."""
    newest = {d.bot: d for d in sorted(lives, key=lambda d: d.id or 0)}  # one run per bot
    live = {d.id: d for d in newest.values() if d.state is State.LIVE and d.id is not None}
    if not live:
        return {}
    histories: dict[str, list[Spell]] = {}
    bots = {d.bot for d in live.values()}
    # the live ones are known already: only the deployments before them are read
    earlier = uow.status.runs_before(env, bots, limit=HISTORY, leave_out=live.keys())
    for d in earlier:
        histories.setdefault(d.bot, []).append(d)
    runs = {i: run_in(d, histories.get(d.bot, [])) for i, d in live.items()}
    tallies = uow.measurements.tallies_by_deployment({i for ids, _ in runs.values() for i in ids})
    return {
        i: assess_tallies(
            spec,
            merge_tallies(tallies.get(run, []) for run in ids),
            live_since=since,
            soak=soak,
            now=now,
        )
        for i, (ids, since) in runs.items()
    }
