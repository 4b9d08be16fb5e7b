"""Deciding requests that wait for approval: approve, reject, and ending stale ones.

An approval counts only while the request could start; once enough valid
approvals are in, the deployment is queued and launched.
"""

from __future__ import annotations

from datetime import datetime

from chatops.domain.approvals import Decision, Vote, approvals_needed, check_voter, tally
from chatops.domain.audit import Outcome
from chatops.domain.catalog import Catalog, Environment
from chatops.domain.deployment import Deployment, Event, Kind, State
from chatops.domain.health import Health
from chatops.domain.policy import INCONCLUSIVE_FINGERPRINT
from chatops.domain.verification import RunState
from chatops.errors import AlreadyDecided, Frozen, Locked, NotFound, NotPromotable
from chatops.services.context import Actor
from chatops.services.intake import Intake
from chatops.services.pending import settle_if_stale
from chatops.services.ports import Clock, Conflict, Directory, UnitOfWork, UnitOfWorkFactory
from chatops.services.promotability import Promotability

__all__ = ["Approvals"]


class Approvals:
    """The use cases that decide pending deployments."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        directory: Directory,
        intake: Intake,
        promotability: Promotability,
    ) -> None:
        self._catalog = catalog
        self._uow = uow
        self._clock = clock
        self._directory = directory
        self._intake = intake
        self._promotability = promotability

    def approve(self, actor: Actor, deployment_id: int) -> Deployment:
        """Count `actor`'s approval; when enough valid approvals are in, the deployment runs.

        Raises:
            NotFound: unknown deployment.
            AlreadyDecided: it is not waiting for approval (any more).
            NotAllowed: the requester, or someone who is not an approver.
            NotPromotable: a promotion whose release is no longer healthy or soaked in the
                source environment (the approval is not counted; the request waits on).
            Locked, Frozen: a lock or freeze holds the environment (likewise not counted).
            Busy: enough approvals, but another deployment runs in the environment.
        """
        return self._decide(actor, deployment_id, Decision.APPROVE)

    def reject(self, actor: Actor, deployment_id: int, *, reason: str | None = None) -> Deployment:
        """One reject by an approver ends the request; `reason` is recorded with it and audited.

        Raises:
            NotFound, AlreadyDecided, NotAllowed: as for `approve`.
        """
        return self._decide(actor, deployment_id, Decision.REJECT, reason=reason)

    def _decide(
        self, actor: Actor, deployment_id: int, decision: Decision, *, reason: str | None = None
    ) -> Deployment:
        action = str(decision)
        with self._intake.refusals(actor, action, deployment_id=deployment_id):
            # a look at the promotion's source now, outside the transaction (it is I/O)
            health = self._source_health(deployment_id) if decision is Decision.APPROVE else None
            now = self._clock.now()
            with self._uow() as uow:
                deployment = uow.deployments.get_for_update(deployment_id)
                if deployment is None:
                    raise NotFound(f"there is no deployment #{deployment_id}")
                environment = self._catalog.environment(deployment.env)
                if deployment.state is not State.PENDING_APPROVAL:
                    raise AlreadyDecided(
                        f"#{deployment_id} is not waiting for approval: it is {deployment.state}"
                    )
                approvers = self._directory.expand(environment.approvers)
                check_voter(
                    actor.user,
                    requester=deployment.requested_by,
                    approvers=approvers,
                    env=environment.name,
                )
                ended = settle_if_stale(self._intake.auditor, uow, deployment, environment, now)
                if ended is not None:
                    uow.commit()
                    self._intake.dispatch.tell(ended)
                    raise AlreadyDecided(f"#{deployment_id} is {ended.state}: {ended.reason}")
                if decision is Decision.APPROVE:
                    self._check_approvable(
                        uow, actor, deployment, environment, health=health, now=now
                    )
                uow.votes.put(Vote(deployment_id, actor.user, decision, now))
                needed = approvals_needed(environment, deployment.kind)
                result = tally(
                    uow.votes.list(deployment_id),
                    requester=deployment.requested_by,
                    approvers=approvers,
                    needed=needed,
                )
                if result.rejected_by is not None:
                    why = f"rejected by {result.rejected_by}" + (f": {reason}" if reason else "")
                    deployment = deployment.advance(Event.REJECTED, at=now, reason=why)
                    deployment = uow.deployments.save(deployment)
                elif result.complete:
                    approved = self._intake.claimed(deployment.advance(Event.APPROVED, at=now))
                    deployment = self._intake.write(uow, approved, new=False)
                self._intake.auditor.record(
                    uow,
                    actor,
                    action,
                    Outcome.OK,
                    bot=deployment.bot,
                    env=deployment.env,
                    deployment_id=deployment_id,
                    detail=f"{len(result.approved_by)}/{result.needed} approvals"
                    + (f"; reason: {reason}" if reason else ""),
                )
                uow.commit()
        self._intake.dispatch.tell(deployment)
        return self._intake.dispatch.launch(deployment)

    def _source_health(self, deployment_id: int) -> Health | None:
        """How what runs in a pending promotion's source environment looks now."""
        with self._uow() as uow:
            deployment = uow.deployments.get(deployment_id)
        if deployment is None or deployment.state is not State.PENDING_APPROVAL:
            return None
        environment = self._catalog.environments.get(deployment.env)
        source = environment.promote_from if environment else None
        if deployment.kind is not Kind.PROMOTE or source is None:
            return None
        return self._promotability.health(deployment.bot, source)

    def _check_approvable(
        self,
        uow: UnitOfWork,
        actor: Actor,
        deployment: Deployment,
        environment: Environment,
        *,
        health: Health | None,
        now: datetime,
    ) -> None:
        """An approval counts only while the request could start: for a promotion, its
        release is still live, healthy and soaked in the source; and no lock or freeze
        holds the environment (with the force an admin gave when asking, if any).

        Raises:
            NotPromotable, Locked, Frozen: why not, saying that the vote was not counted
                and how long the request still waits.
        """
        try:
            source = environment.promote_from
            if deployment.kind is Kind.PROMOTE and source:
                live, alerts, verified = self._promotability.source_state(
                    uow, deployment.bot, source, target=environment, now=now
                )
                inconclusive = verified is not None and verified.state is RunState.INCONCLUSIVE
                if deployment.verification_override and inconclusive:
                    # an approver decided past an inconclusive verification when asking
                    verified = None
                    alerts = [
                        a for a in alerts if not a.fingerprint.startswith(INCONCLUSIVE_FINGERPRINT)
                    ]
                self._promotability.check(
                    (live, alerts, verified),
                    bot=deployment.bot,
                    source=source,
                    target=environment,
                    health=health or Health.UNKNOWN,
                    now=now,
                )
            self._intake.holds.check(
                uow,
                Actor(deployment.requested_by, actor.source),
                environment,
                deployment.bot,
                deployment.force_reason,
                automatic=False,
            )
        except (NotPromotable, Locked, Frozen) as exc:
            until = deployment.requested_at + environment.approval_ttl
            waits = (
                f"#{deployment.id} waits for approval until {until:%Y-%m-%d %H:%M %Z}; "
                "approve it again once this is over"
            )
            raise type(exc)(
                f"your approval of #{deployment.id} is not counted: {exc.message}",
                hint=f"{exc.hint}; {waits}" if exc.hint else waits,
            ) from None

    def expire_and_supersede(self) -> list[Deployment]:
        """End pending requests whose approval time ran out or whose release moved on.

        Each is read again, locked, in the transaction that ends it: a decision (or
        another replica's expiry) that came first stands, never overwritten.
        """
        ended: list[Deployment] = []
        now = self._clock.now()
        with self._uow() as uow:
            pending = uow.deployments.in_state([State.PENDING_APPROVAL])
        for candidate in pending:
            environment = self._catalog.environments.get(candidate.env)
            if environment is None or candidate.id is None:
                continue
            with self._uow() as uow:
                deployment = uow.deployments.get_for_update(candidate.id)
                if deployment is None or deployment.state is not State.PENDING_APPROVAL:
                    continue  # decided meanwhile
                try:
                    settled = settle_if_stale(
                        self._intake.auditor, uow, deployment, environment, now
                    )
                except Conflict:
                    continue
                if settled is not None:
                    uow.commit()
                    ended.append(settled)
        for deployment in ended:
            self._intake.dispatch.tell(deployment)
        return ended
