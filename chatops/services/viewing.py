"""The view of one deployment, built once per state change from data fetched once per deployment.

A writer announces a deployment as it has just saved it, so that row is not read
again; a live one is (the monitor, verification and a newer release change a live
deployment behind whoever announces it). Releases, what the deployment replaces,
its change list and its decided approvals come from `ViewFacts` once read. Only what
can still change is read, and only where the state shows it: the votes while approval
is pending, the lock of a live rollback, the verification of a live deployment and
where rolling it back goes. Reads
share one short transaction, opened only when something must be read; people (user
groups) and git come after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

from chatops.domain.approvals import Vote, approvals_needed, tally
from chatops.domain.catalog import Catalog, Environment
from chatops.domain.deployment import Deployment, Kind, Release, State
from chatops.domain.policy import LockKind
from chatops.domain.rollbacks import HISTORY as ROLLBACK_HISTORY
from chatops.domain.rollbacks import previous_healthy
from chatops.domain.verification import Assessment
from chatops.errors import ChatOpsError, NotFound
from chatops.services.ports import Clock, Directory, SourceControl, UnitOfWork, UnitOfWorkFactory
from chatops.services.runs import downstream_soak, verification_of
from chatops.services.viewfacts import Changes, Decision, ViewFacts
from chatops.services.views import DeploymentView

__all__ = ["MAX_CHANGES", "build_view"]

log = logging.getLogger(__name__)

MAX_CHANGES = 10
_ROLLBACKS = (Kind.ROLLBACK, Kind.AUTO_ROLLBACK)
_UNKNOWN = object()


class _Reads:
    """One transaction for the view's reads, begun at the first read (if any)."""

    def __init__(self, uow: UnitOfWorkFactory, stack: ExitStack) -> None:
        self._factory = uow
        self._stack = stack
        self._uow: UnitOfWork | None = None

    def __call__(self) -> UnitOfWork:
        if self._uow is None:
            self._uow = self._stack.enter_context(self._factory())
        return self._uow


@dataclass(frozen=True, slots=True)
class _Read:
    """What the view needed from the database."""

    deployment: Deployment
    release: Release | None
    previous: Release | None
    votes: list[Vote] | None  # None: not read (decided already, or none needed)
    hold_note: str | None
    verified: Assessment | None
    rollback_to: int | None  # of a live deployment


def build_view(
    deployment_id: int,
    *,
    saved: Deployment | None,
    catalog: Catalog,
    uow: UnitOfWorkFactory,
    clock: Clock,
    directory: Directory,
    source: SourceControl,
    page_url: Callable[[int | None], str | None],
    facts: ViewFacts,
) -> DeploymentView:
    """Everything a message about one deployment shows.

    Args:
        saved: the deployment as its writer has just saved it (not read again unless live).

    Raises:
        NotFound: there is no deployment `deployment_id`.
    """
    read = _read(deployment_id, saved, catalog=catalog, uow=uow, clock=clock, facts=facts)
    deployment = read.deployment
    environment = catalog.environments.get(deployment.env)
    decision = _decision(deployment, environment, read.votes, directory, facts)
    the_bot = catalog.bots.get(deployment.bot)
    promote_to = None
    if deployment.state is State.LIVE and the_bot is not None:
        downstream = [e for e in catalog.downstream_of(deployment.env) if e.name in the_bot.targets]
        promote_to = downstream[0].name if downstream else None
    head = read.release.commit if read.release else deployment.commit
    base = read.previous.commit if read.previous else None
    changes = _changes(deployment, catalog, source, facts, head=head, base=base)
    return DeploymentView(
        deployment=deployment,
        channel=catalog.channel_for(deployment.env),
        release=read.release,
        previous=read.previous,
        tally=decision.tally,
        decided_by=decision.decided_by,
        changes=changes.commits,
        more_changes=changes.more,
        verification=read.verified,
        compare_url=changes.compare_url,
        promote_to=promote_to,
        rollback_to=read.rollback_to,
        hold_note=read.hold_note,
        now=clock.now(),
        page_url=page_url(deployment.id),
    )


def _read(
    deployment_id: int,
    saved: Deployment | None,
    *,
    catalog: Catalog,
    uow: UnitOfWorkFactory,
    clock: Clock,
    facts: ViewFacts,
) -> _Read:
    with ExitStack() as stack:
        reads = _Reads(uow, stack)
        if saved is not None and saved.id == deployment_id and saved.state is not State.LIVE:
            deployment: Deployment | None = saved
        else:
            deployment = reads().deployments.get(deployment_id)
        if deployment is None:
            raise NotFound(f"there is no deployment #{deployment_id}")
        bot, env, state = deployment.bot, deployment.env, deployment.state
        building = state is State.BUILDING  # its release is not there yet
        release = None if building else _release(reads, facts, bot, deployment.version)
        previous = _release(reads, facts, bot, _replaces(reads, facts, deployment))
        environment = catalog.environments.get(env)
        votes = None
        if environment is not None and _votes_count(deployment, environment, facts):
            votes = reads().votes.list(deployment_id)
        hold_note = None
        if deployment.kind in _ROLLBACKS and state is State.LIVE:
            lock = reads().locks.get(bot, env)
            if lock is not None and lock.kind is LockKind.ROLLBACK_HOLD:
                hold_note = (
                    f"automatic deploys to {env} are held until someone deploys or "
                    f"promotes on purpose, or `/unlock {bot} {env}`"
                )
        rollback_to = None
        if state is State.LIVE:  # what a Rollback button goes to, as `/rollback` decides it
            history = reads().deployments.history(bot, env, limit=ROLLBACK_HISTORY)
            rollback_to = previous_healthy(history, current=deployment)
        verified = None
        if state is State.LIVE and environment is not None and environment.verify is not None:
            verified = verification_of(
                reads(),
                environment.verify,
                deployment,
                soak=downstream_soak(catalog, env),
                now=clock.now(),
            )
    return _Read(deployment, release, previous, votes, hold_note, verified, rollback_to)


def _release(reads: _Reads, facts: ViewFacts, bot: str, version: int | None) -> Release | None:
    """Release `version` of `bot`, read once (a release row never changes)."""
    if not version:
        return None
    known = facts.releases.get((bot, version), None)
    if known is not None:
        return known
    release = reads().releases.get(bot, version)
    if release is not None:
        facts.releases.put((bot, version), release)
    return release


def _replaces(reads: _Reads, facts: ViewFacts, deployment: Deployment) -> int | None:
    """The version the deployment replaces: recorded on it, or (not deployed yet) what is
    live in its target now, kept while it runs (nothing else goes live there meanwhile)."""
    if deployment.previous_version is not None or deployment.reached_live:
        return deployment.previous_version
    running = deployment.in_progress and deployment.id is not None
    if running:
        known = facts.replaces.get(deployment.id or 0, _UNKNOWN)
        if known is not _UNKNOWN:
            return known  # type: ignore[return-value]
    live = reads().deployments.live(deployment.bot, deployment.env)
    version = live.version if live is not None else None
    if running:
        facts.replaces.put(deployment.id or 0, version)
    return version


def _votes_count(deployment: Deployment, environment: Environment, facts: ViewFacts) -> bool:
    """Whether the view reads the votes: while they may still come, or until their outcome
    is known once."""
    if deployment.state is State.PENDING_APPROVAL:
        return True
    if approvals_needed(environment, deployment.kind) == 0:
        return False
    return facts.decisions.get(deployment.id or 0, None) is None


def _decision(
    deployment: Deployment,
    environment: Environment | None,
    votes: list[Vote] | None,
    directory: Directory,
    facts: ViewFacts,
) -> Decision:
    """The tally and who decided; expanded (user groups) once the request is decided."""
    pending = deployment.state is State.PENDING_APPROVAL
    if votes is None:
        known = None if pending else facts.decisions.get(deployment.id or 0, None)
        return known if known is not None else Decision(None, None)
    decision = Decision(None, None)
    if environment is not None and (votes or pending):
        the_tally = tally(
            votes,
            requester=deployment.requested_by,
            approvers=directory.expand(environment.approvers),
            needed=approvals_needed(environment, deployment.kind),
        )
        decided_by = the_tally.rejected_by or (
            the_tally.approved_by[-1] if the_tally.complete and the_tally.approved_by else None
        )
        decision = Decision(the_tally, decided_by)
    if not pending and deployment.id is not None:
        facts.decisions.put(deployment.id, decision)
    return decision


def _changes(
    deployment: Deployment,
    catalog: Catalog,
    source: SourceControl,
    facts: ViewFacts,
    *,
    head: str | None,
    base: str | None,
) -> Changes:
    """The commits a deployment brings (at most MAX_CHANGES), read from git once per range."""
    bot = catalog.bots.get(deployment.bot)
    if bot is None or head is None or base == head:
        return Changes()
    key = (bot.name, base, head)
    known = facts.changes.get(key, None)
    if known is not None:
        return known
    try:
        commits, total = source.log(bot, since=base, until=head, limit=MAX_CHANGES)
        compare_url = source.compare_url(bot, base=base, head=head) if base else None
    except ChatOpsError as exc:
        log.info("no change list for #%s: %s", deployment.id, exc)
        return Changes()
    found = Changes(tuple(commits), max(0, total - len(commits)), compare_url)
    facts.changes.put(key, found)
    return found
