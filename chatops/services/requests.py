"""Asking for a deployment: deploy, promote, rollback, approve, reject.

Every rule of DESIGN §2 is checked here, before anything runs; a request that
passes becomes a deployment row (queued, or pending approval) in the same
transaction as its audit event, and a queued one is handed to the launcher.
Refusals are audited too.
"""

from __future__ import annotations

import logging
from datetime import datetime

from chatops.domain.approvals import Decision, Vote, approvals_needed, check_voter, tally
from chatops.domain.audit import Outcome
from chatops.domain.catalog import Environment
from chatops.domain.deployment import Deployment, Event, Kind, State
from chatops.domain.health import Health
from chatops.domain.names import validate_name, validate_ref
from chatops.domain.policy import (
    INCONCLUSIVE_FINGERPRINT,
    LockKind,
    check_busy,
    check_deployer,
    check_entry,
    check_holds,
    check_promotable,
    excuse_inconclusive,
    rollback_target,
)
from chatops.domain.verification import RunState
from chatops.errors import (
    AlreadyDecided,
    BadInput,
    Busy,
    ChatOpsError,
    Frozen,
    Locked,
    NotFound,
    NotPromotable,
    Refused,
)
from chatops.services.context import Actor, Deps, required
from chatops.services.pending import settle_if_stale
from chatops.services.ports import Conflict, Launcher, SlotTaken, UnitOfWork
from chatops.services.queries import Queries, announce, observe_health
from chatops.services.runs import verification_of

__all__ = ["Requests"]

log = logging.getLogger(__name__)


class Requests:
    """The use cases that start or decide deployments."""

    def __init__(self, deps: Deps, launcher: Launcher) -> None:
        self._deps = deps
        self._launcher = launcher
        self._queries = Queries(deps)

    # ── deploy ──────────────────────────────────────────────────────────────

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
        """Build (or reuse) the release of `ref` and make it live in `env`.

        Returns:
            The deployment: settled when the launcher runs it inline, else queued.

        Raises:
            BadInput: a malformed name or ref.
            NotFound: unknown bot or environment.
            Refused: `env` takes promotions only; not a deployer; locked; frozen; busy.
        """
        with self._deps.refusals_audited(actor, "deploy", bot=bot, env=env):
            validate_name("bot", bot)
            validate_name("environment", env)
            if ref is not None:
                validate_ref(ref)
            the_bot, environment, _ = self._deps.catalog.target(bot, env)
            check_entry(environment, Kind.DEPLOY, bot=bot)
            if not automatic:
                check_deployer(
                    environment, actor.user, self._deps.directory.expand(environment.deployers)
                )
            deployment = self._open(
                actor,
                environment,
                Deployment(
                    bot=bot,
                    env=env,
                    kind=Kind.DEPLOY,
                    state=State.QUEUED,
                    requested_by=actor.user,
                    requested_at=self._now(),
                    updated_at=self._now(),
                    ref=ref or the_bot.branch,
                    force_reason=force_reason,
                ),
                automatic=automatic,
            )
        return self._launch(deployment)

    # ── promote ─────────────────────────────────────────────────────────────

    def promote(
        self,
        actor: Actor,
        bot: str,
        env: str | None = None,
        *,
        force_reason: str | None = None,
        anyway: bool = False,
    ) -> Deployment:
        """Promote what is live and soaked in the source environment to `env`.

        `anyway`: an approver of `env` promotes past an inconclusive verification
        (`promote_anyway`); it is recorded on the deployment and audited.

        Returns:
            The deployment: pending approval when `env` needs approvals.

        Raises:
            NotFound: unknown bot or environment.
            NotPromotable: nothing live, not healthy, or not soaked in the source.
            Refused: `env` takes no promotions; not a deployer; locked; frozen; busy.
        """
        with self._deps.refusals_audited(actor, "promote", bot=bot, env=env):
            validate_name("bot", bot)
            catalog = self._deps.catalog
            catalog.bot(bot)
            if env is None:
                env = self._default_promotion_target(bot)
            validate_name("environment", env)
            _, environment, _ = catalog.target(bot, env)
            source = environment.promote_from
            if not source:
                raise Refused(
                    f"{env} does not take promotions (it has no `promote_from`)",
                    hint=f"`/deploy {bot} {env}` deploys to it directly",
                )
            check_deployer(
                environment, actor.user, self._deps.directory.expand(environment.deployers)
            )
            with self._deps.uow() as uow:
                live = uow.deployments.live(bot, source)
                alerts = [a for a in uow.alerts.open_alerts(bot) if a.env == source]
                verified = verification_of(
                    uow,
                    catalog.environment(source).verify,
                    live,
                    soak=environment.soak,
                    now=self._now(),
                )
            if anyway:
                verified, alerts = excuse_inconclusive(
                    verified,
                    alerts,
                    user=actor.user,
                    approvers=self._deps.directory.expand(environment.approvers),
                    target=env,
                )
            health = self._health(bot, source) if live is not None else Health.UNKNOWN
            check_promotable(
                source=source,
                target=env,
                live=live,
                health=health,
                soak=environment.soak,
                now=self._now(),
                bot=bot,
                open_alerts=alerts,
                verification=verified,
            )
            live = required(live, "the live deployment")  # check_promotable refused otherwise
            deployment = self._open(
                actor,
                environment,
                Deployment(
                    bot=bot,
                    env=env,
                    kind=Kind.PROMOTE,
                    state=State.PENDING_APPROVAL if environment.approvals > 0 else State.QUEUED,
                    requested_by=actor.user,
                    requested_at=self._now(),
                    updated_at=self._now(),
                    commit=live.commit,
                    version=live.version,
                    source_deployment_id=live.id,
                    force_reason=force_reason,
                    verification_override=actor.user if anyway else None,
                ),
                expect_live_in_source=live,
            )
        return self._launch(deployment)

    def promote_deployment(
        self, actor: Actor, deployment_id: int, *, anyway: bool = False
    ) -> Deployment:
        """The Promote button (and `promote_anyway`, with `anyway`): promote the release of
        a live deployment one step further.

        Raises:
            NotFound: unknown deployment.
            NotPromotable: it is no longer live, or nothing takes promotions from its environment.
            (and everything `promote` raises)
        """
        action = "promote_anyway" if anyway else "promote"
        source = self._live_deployment(actor, action, deployment_id)
        bot = self._deps.catalog.bot(source.bot)
        targets = [
            e.name for e in self._deps.catalog.downstream_of(source.env) if e.name in bot.targets
        ]
        if not targets:
            raise NotPromotable(f"nothing takes promotions from {source.env}")
        return self.promote(actor, source.bot, targets[0], anyway=anyway)

    def rollback_deployment(self, actor: Actor, deployment_id: int) -> Deployment:
        """The Rollback button: roll back the environment of a deployment that is still live.

        Raises:
            NotFound: unknown deployment.
            AlreadyDecided: it is no longer what runs there (so the click is stale).
            (and everything `rollback` raises)
        """
        live = self._live_deployment(actor, "rollback", deployment_id)
        return self.rollback(actor, live.bot, live.env)

    def _live_deployment(self, actor: Actor, action: str, deployment_id: int) -> Deployment:
        with (
            self._deps.refusals_audited(actor, action, deployment_id=deployment_id),
            self._deps.uow() as uow,
        ):
            deployment = uow.deployments.get(deployment_id)
            live = uow.deployments.live(deployment.bot, deployment.env) if deployment else None
            if deployment is None:
                raise NotFound(f"there is no deployment #{deployment_id}")
            if live is None or live.id != deployment.id:
                now = f"v{live.version} (#{live.id})" if live else "nothing"
                raise AlreadyDecided(
                    f"#{deployment_id} ({deployment.bot} v{deployment.version}) is no longer live "
                    f"in {deployment.env}; it runs {now}",
                    hint=f"use `/{action} {deployment.bot} {deployment.env}` "
                    "to act on what runs now",
                )
            return deployment

    def _default_promotion_target(self, bot: str) -> str:
        catalog = self._deps.catalog
        the_bot = catalog.bot(bot)
        with self._deps.uow() as uow:
            candidates = [
                environment.name
                for environment in catalog.environments.values()
                if environment.promote_from
                and environment.name in the_bot.targets
                and uow.deployments.live(bot, environment.promote_from) is not None
            ]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            entries = [
                environment.name
                for environment in catalog.environments.values()
                if not environment.promote_from and environment.name in the_bot.targets
            ]
            first = entries[0] if entries else "<env>"
            raise NotPromotable(
                f"{bot} is not live anywhere that promotes further",
                hint=f"deploy it first, e.g. `/deploy {bot} {first}`",
            )
        raise BadInput(
            f"{bot} could be promoted to {', '.join(sorted(candidates))}",
            hint=f"name the environment: `/promote {bot} <env>`",
            usage="/promote <bot> [env]",
        )

    # ── rollback ────────────────────────────────────────────────────────────

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
        with self._deps.refusals_audited(actor, action, bot=bot, env=env):
            validate_name("bot", bot)
            validate_name("environment", env)
            _, environment, _ = self._deps.catalog.target(bot, env)
            if not automatic:
                check_deployer(
                    environment, actor.user, self._deps.directory.expand(environment.deployers)
                )
            now = self._now()
            with self._deps.uow() as uow:
                if not automatic:
                    self._check_holds(uow, actor, environment, bot, force_reason, automatic=False)
                holder = uow.deployments.holder(bot, env)
                if holder is not None and holder.in_progress:
                    check_busy(holder)
                current = uow.deployments.live(bot, env)
                versions = [r.version for r in uow.releases.list(bot, limit=10_000)]
                target = rollback_target(
                    uow.deployments.history(bot, env, limit=500),
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
                if deployment.state is State.QUEUED:
                    deployment = deployment.with_changes(
                        owner=self._deps.processes.me(), heartbeat_at=now
                    )
                deployment = self._write(uow, deployment, new=True)
                self._deps.audit(
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
        self._tell(deployment)
        return self._launch(deployment)

    # ── approvals ───────────────────────────────────────────────────────────

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
        with self._deps.refusals_audited(actor, action, deployment_id=deployment_id):
            # a look at the promotion's source now, outside the transaction (it is I/O)
            health = self._source_health(deployment_id) if decision is Decision.APPROVE else None
            now = self._now()
            with self._deps.uow() as uow:
                deployment = uow.deployments.get_for_update(deployment_id)
                if deployment is None:
                    raise NotFound(f"there is no deployment #{deployment_id}")
                environment = self._deps.catalog.environment(deployment.env)
                if deployment.state is not State.PENDING_APPROVAL:
                    raise AlreadyDecided(
                        f"#{deployment_id} is not waiting for approval: it is {deployment.state}"
                    )
                approvers = self._deps.directory.expand(environment.approvers)
                check_voter(
                    actor.user,
                    requester=deployment.requested_by,
                    approvers=approvers,
                    env=environment.name,
                )
                ended = settle_if_stale(self._deps, uow, deployment, environment, now)
                if ended is not None:
                    uow.commit()
                    self._tell(ended)
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
                    deployment = deployment.advance(Event.APPROVED, at=now).with_changes(
                        owner=self._deps.processes.me(), heartbeat_at=now
                    )
                    deployment = self._write(uow, deployment, new=False)
                self._deps.audit(
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
        self._tell(deployment)
        return self._launch(deployment)

    def _source_health(self, deployment_id: int) -> Health | None:
        """How what runs in a pending promotion's source environment looks now."""
        with self._deps.uow() as uow:
            deployment = uow.deployments.get(deployment_id)
        if deployment is None or deployment.state is not State.PENDING_APPROVAL:
            return None
        environment = self._deps.catalog.environments.get(deployment.env)
        source = environment.promote_from if environment else None
        if deployment.kind is not Kind.PROMOTE or source is None:
            return None
        return self._health(deployment.bot, source)

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
                live = uow.deployments.live(deployment.bot, source)
                alerts = [a for a in uow.alerts.open_alerts(deployment.bot) if a.env == source]
                verified = verification_of(
                    uow,
                    self._deps.catalog.environment(source).verify,
                    live,
                    soak=environment.soak,
                    now=now,
                )
                inconclusive = verified is not None and verified.state is RunState.INCONCLUSIVE
                if deployment.verification_override and inconclusive:
                    # an approver decided past an inconclusive verification when asking
                    verified = None
                    alerts = [
                        a for a in alerts if not a.fingerprint.startswith(INCONCLUSIVE_FINGERPRINT)
                    ]
                check_promotable(
                    source=source,
                    target=environment.name,
                    live=live,
                    health=health or Health.UNKNOWN,
                    soak=environment.soak,
                    now=now,
                    bot=deployment.bot,
                    open_alerts=alerts,
                    verification=verified,
                )
            self._check_holds(
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
        now = self._now()
        with self._deps.uow() as uow:
            pending = uow.deployments.in_state([State.PENDING_APPROVAL])
        for candidate in pending:
            environment = self._deps.catalog.environments.get(candidate.env)
            if environment is None or candidate.id is None:
                continue
            with self._deps.uow() as uow:
                deployment = uow.deployments.get_for_update(candidate.id)
                if deployment is None or deployment.state is not State.PENDING_APPROVAL:
                    continue  # decided meanwhile
                try:
                    settled = settle_if_stale(self._deps, uow, deployment, environment, now)
                except Conflict:
                    continue
                if settled is not None:
                    uow.commit()
                    ended.append(settled)
        for deployment in ended:
            self._tell(deployment)
        return ended

    # ── shared steps ────────────────────────────────────────────────────────

    def _open(
        self,
        actor: Actor,
        environment: Environment,
        deployment: Deployment,
        *,
        automatic: bool = False,
        expect_live_in_source: Deployment | None = None,
    ) -> Deployment:
        """Check holds and exclusivity, insert the deployment and its audit event."""
        action = "deploy" if deployment.kind is Kind.DEPLOY else str(deployment.kind)
        now = self._now()
        with self._deps.uow() as uow:
            forced = self._check_holds(
                uow,
                actor,
                environment,
                deployment.bot,
                deployment.force_reason,
                automatic=automatic,
            )
            check_busy(uow.deployments.holder(deployment.bot, environment.name))
            if expect_live_in_source is not None and environment.promote_from:
                live = uow.deployments.live(deployment.bot, environment.promote_from)
                if live is None or live.id != expect_live_in_source.id:
                    raise NotPromotable(
                        f"what is live in {environment.promote_from} changed while promoting",
                        hint="check `/status` and promote again",
                    )
            if deployment.state is State.QUEUED:
                deployment = deployment.with_changes(
                    owner=self._deps.processes.me(), heartbeat_at=now
                )
            deployment = self._write(uow, deployment, new=True)
            if not automatic:
                self._lift_rollback_hold(uow, deployment.bot, environment.name)
            detail = f"ref {deployment.ref}" if deployment.ref else f"v{deployment.version}"
            if forced:
                detail += f"; forced by admin: {deployment.force_reason}"
            if deployment.verification_override:
                detail += "; promoted past an inconclusive verification"
            self._deps.audit(
                uow,
                actor,
                action,
                Outcome.OK,
                bot=deployment.bot,
                env=environment.name,
                deployment_id=deployment.id,
                detail=detail,
            )
            uow.commit()
        self._tell(deployment)
        return deployment

    def _check_holds(
        self,
        uow: UnitOfWork,
        actor: Actor,
        environment: Environment,
        bot: str,
        force_reason: str | None,
        *,
        automatic: bool,
    ) -> bool:
        now = self._now()
        return check_holds(
            lock=uow.locks.get(bot, environment.name),
            freeze=self._deps.freezes.open_window(environment, now),
            user=actor.user,
            admins=self._deps.catalog.admins,
            force_reason=force_reason,
            automatic=automatic,
            now=now,
        )

    def _lift_rollback_hold(self, uow: UnitOfWork, bot: str, env: str) -> None:
        lock = uow.locks.get(bot, env)
        if lock is not None and lock.kind is LockKind.ROLLBACK_HOLD:
            uow.locks.delete(bot, env)

    def _write(self, uow: UnitOfWork, deployment: Deployment, *, new: bool) -> Deployment:
        """Add or save `deployment`; a slot another deployment holds is refused as Busy."""
        try:
            return uow.deployments.add(deployment) if new else uow.deployments.save(deployment)
        except SlotTaken as taken:
            holder = uow.deployments.get(taken.holder_id) if taken.holder_id else None
            check_busy(holder)
            raise Busy(
                f"{deployment.bot} in {deployment.env} is busy",
                deployment_id=taken.holder_id or 0,
                hint="wait for it to finish",
            ) from None

    def _health(self, bot: str, env: str) -> Health:
        try:
            observation = observe_health(self._deps, bot, env)
        except ChatOpsError as exc:
            log.warning("cannot observe %s in %s: %s", bot, env, exc)
            return Health.UNKNOWN
        return observation.overall

    def _launch(self, deployment: Deployment) -> Deployment:
        if deployment.state is not State.QUEUED or deployment.id is None:
            return deployment
        self._launcher.launch(deployment.id)
        return self._queries.deployment(deployment.id)

    def _tell(self, deployment: Deployment) -> None:
        announce(self._deps, deployment)

    def _now(self) -> datetime:
        return self._deps.clock.now()
