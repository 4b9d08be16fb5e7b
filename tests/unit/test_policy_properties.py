"""Property tests of the deployment policy (DESIGN §2) over random sequences of operations.

`PolicyMachine` is a hypothesis state machine that drives the real services —
`Requests`, `Pipeline` (through the inline launcher), `LockService` and `HealthChecks` —
over the in-memory fakes of tests/fakes.py. Each step is one operation of people or
time: deploy to staging (a new commit or an earlier one, sometimes a release that
turns out unhealthy), deploy straight to prod, promote, approve or reject, roll back
(to the previous release or a named one), lock and unlock, force as an admin,
expire stale requests, let time pass, staging going unhealthy and back, and the
scheduler's health round. The operations are values drawn with weights by one
rule, so that every run mixes all of them (hypothesis' swarm testing of separate
rules left most runs without a single promotion).

Refusals (`UserError`) are expected answers; anything else raised is a bug. After
every step the machine reads the fake store and checks the policy: what reaches
prod was live, healthy and soaked in staging when it was promoted (soaked: no
health check failed it for `soak`), or, for a rollback, ran in prod before;
promotions have enough valid approvals and pending ones have neither enough nor a
reject; only approvers other than the requester have votes; one deployment at a
time per (bot, environment) and nothing left half-done; the runtime runs what the
store says is live, built once; every refusal is audited exactly once; a lock
holds until it is lifted or expires, and only an admin's force gets past it.

The plain tests at the end pin cases worth keeping, among them the four bugs the
machine found in chatops/ (all fixed since): a health lapse did not restart the
soak, a named rollback could put into prod what never ran there, the last approval
started a promotion through a lock, and a forced rollback replaced the lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from chatops.domain.approvals import Decision, Vote
from chatops.domain.audit import AuditEvent, Outcome
from chatops.domain.deployment import IN_PROGRESS_STATES, Deployment, Kind, State
from chatops.domain.health import Health
from chatops.domain.policy import Lock
from chatops.errors import (
    Locked,
    NotAllowed,
    NothingToRollBack,
    NotPromotable,
    Refused,
    UserError,
)
from chatops.services.context import Actor
from chatops.services.health_checks import HealthChecks
from chatops.services.locks import LockService
from chatops.services.requests import Requests
from tests.fakes import World, catalog

T = TypeVar("T")

BOT = "mybot"
ENVS = ("staging", "prod")
SOAK = timedelta(minutes=10)
TTL = timedelta(hours=1)
ADMIN = "UADMIN"
FORCE_REASON = "hotfix for the outage"
# UDEV deploys; ULEAD1/ULEAD2 approve (and deploy to prod); ULEAD3 approves only
# through the SLEADS group; UOUT is nobody in particular.
USERS = ("UDEV", "ULEAD1", "ULEAD2", "ULEAD3", "UOUT", ADMIN)

SETTINGS = settings(max_examples=150, stateful_step_count=30, deadline=None)


def policy_world(*, approvals: int, via_group: bool) -> World:
    """staging → prod: 10 min soak, `approvals` of ULEAD1/ULEAD2 (or ULEAD1 and a group)."""
    approvers = {"ULEAD1", "SLEADS"} if via_group else {"ULEAD1", "ULEAD2"}
    world = World(
        catalog(
            prod={
                "approvals": approvals,
                "approvers": frozenset(approvers),
                "approval_ttl": TTL,
                "soak": SOAK,
            }
        )
    )
    world.directory.groups["SLEADS"] = {"ULEAD2", "ULEAD3"}
    return world


@dataclass
class Services:
    world: World
    requests: Requests
    locks: LockService
    health: HealthChecks


def wire(world: World) -> Services:
    """The services over `world`; deployments run inline, to the end."""
    services = world.services()
    return Services(world, services.requests, services.locks, services.monitoring.health)


# ── operations ───────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Deploy:
    """`/deploy`: a new commit on main (unhealthy, sometimes), or an earlier one by sha."""

    user: str
    env: str
    new: bool
    pick: int
    unhealthy: bool
    force: str | None


@dataclass(frozen=True)
class Promote:
    user: str
    name_env: bool  # `/promote mybot prod`, or let chatops find the target
    force: str | None


@dataclass(frozen=True)
class Decide:
    """A click on approve or reject: on a pending request, on any deployment, or on none."""

    user: str
    decision: Decision
    pick: int
    any_deployment: bool


@dataclass(frozen=True)
class Rollback:
    user: str
    env: str
    to_version: int | None
    force: str | None


@dataclass(frozen=True)
class TakeLock:
    user: str
    env: str
    minutes: int | None


@dataclass(frozen=True)
class Unlock:
    user: str
    env: str


@dataclass(frozen=True)
class ExpireAndSupersede:
    pass


@dataclass(frozen=True)
class Wait:
    seconds: int


@dataclass(frozen=True)
class WaitOutTheSoak:
    """Until the soak of what runs in staging ends, give or take `offset` seconds."""

    offset: int


@dataclass(frozen=True)
class StagingHealth:
    """The staging container turns unhealthy or healthy; only a health round notices."""

    healthy: bool


@dataclass(frozen=True)
class HealthRound:
    """The scheduler's health check of every live deployment."""


Operation = (
    Deploy
    | Promote
    | Decide
    | Rollback
    | TakeLock
    | Unlock
    | ExpireAndSupersede
    | Wait
    | WaitOutTheSoak
    | StagingHealth
    | HealthRound
)

users = st.sampled_from(USERS)
# Anyone may try anything, but those whose turn it usually is are likelier to.
deployers = st.sampled_from(["UDEV"] * 5 + ["ULEAD1", "ULEAD2"] * 2 + list(USERS))
voters = st.sampled_from(["ULEAD1", "ULEAD2"] * 4 + ["ULEAD3"] * 2 + list(USERS))
envs = st.sampled_from(ENVS)
forcing = st.sampled_from([None] * 5 + [FORCE_REASON])
seconds = st.one_of(
    st.sampled_from([1, 30, 299, 300, 301, 599, 600, 601, 1800, 3599, 3600, 3601, 7200]),
    st.integers(1, 3600),
)

deploys = st.builds(
    Deploy,
    user=users,
    env=st.sampled_from(["staging"] * 5 + ["prod"]),
    new=st.booleans(),
    pick=st.integers(0, 7),
    unhealthy=st.sampled_from([False] * 3 + [True]),
    force=forcing,
)
promotions = st.builds(Promote, user=deployers, name_env=st.booleans(), force=forcing)
approve_clicks = st.builds(
    Decide,
    user=voters,
    decision=st.just(Decision.APPROVE),
    pick=st.integers(0, 7),
    any_deployment=st.sampled_from([False] * 3 + [True]),
)
reject_clicks = st.builds(
    Decide,
    user=voters,
    decision=st.just(Decision.REJECT),
    pick=st.integers(0, 7),
    any_deployment=st.booleans(),
)
rollbacks = st.builds(
    Rollback, user=deployers, env=envs, to_version=st.none() | st.integers(1, 6), force=forcing
)
# An admin forcing through a lock; only in staging, as admins do not deploy to prod.
forced_deploys = st.builds(
    Deploy,
    user=st.just(ADMIN),
    env=st.just("staging"),
    new=st.booleans(),
    pick=st.integers(0, 7),
    unhealthy=st.just(False),
    force=st.just(FORCE_REASON),
)
forced_rollbacks = st.builds(
    Rollback,
    user=st.just(ADMIN),
    env=st.just("staging"),
    to_version=st.none(),
    force=st.just(FORCE_REASON),
)
locks = st.builds(TakeLock, user=deployers, env=envs, minutes=st.none() | st.integers(1, 180))
unlocks = st.builds(Unlock, user=users, env=envs)
waits = st.builds(Wait, seconds=seconds)
soaks = st.builds(WaitOutTheSoak, offset=st.sampled_from([-1, 0, 1, 60]))
health_changes = st.builds(StagingHealth, healthy=st.booleans())


def weighted(*choices: tuple[int, st.SearchStrategy[Operation]]) -> st.SearchStrategy[Operation]:
    """Draw from each strategy about as often as its weight says.

    `st.one_of` picks its branches about evenly and merges identical ones: hence one
    distinct copy of a strategy per unit of weight.
    """
    copies = [strategy.map(lambda op: op) for weight, strategy in choices for _ in range(weight)]
    return st.one_of(copies)


operations = weighted(
    (3, deploys),
    (5, promotions),
    (7, approve_clicks),
    (1, reject_clicks),
    (2, rollbacks),
    (1, forced_deploys),
    (1, forced_rollbacks),
    (2, locks),
    (1, unlocks),
    (1, st.just(ExpireAndSupersede())),
    (2, waits),
    (4, soaks),
    (2, health_changes),
    (3, st.just(HealthRound())),
)


# ── the model ────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class StagingRun:
    """The live staging deployment, as the model saw it between steps."""

    deployment_id: int
    version: int
    # Since when no health check failed it: from going live, or from the first passing
    # check after a failing one; None from a failing check on. (A lapse between two
    # checks is seen by nobody, so it cannot count.)
    healthy_since: datetime | None


@dataclass(frozen=True)
class PromotionRequest:
    """What staging looked like when a promotion was asked for."""

    at: datetime
    source: StagingRun | None
    healthy: bool  # what a look at the staging container said then

    def allows(self, version: int | None) -> bool:
        """The release was live in staging, healthy, and not failing a check for the soak."""
        source = self.source
        return (
            self.healthy
            and source is not None
            and source.version == version
            and source.healthy_since is not None
            and self.at - source.healthy_since >= SOAK
        )


def started(deployment: Deployment) -> bool:
    """Whether the deployment got past the point of asking (it ran, or runs)."""
    return (
        deployment.in_progress or deployment.live_at is not None or deployment.state is State.FAILED
    )


@dataclass
class Model:
    """What the machine remembers that the store does not say."""

    commits: list[str] = field(default_factory=list)
    staging: StagingRun | None = None
    promotions: dict[int, PromotionRequest] = field(default_factory=dict)
    locks: dict[str, Lock] = field(default_factory=dict)  # manual locks taken and not lifted


class PolicyMachine(RuleBasedStateMachine):
    def __init__(self, *, approvals: int = 1, via_group: bool = False) -> None:
        super().__init__()
        self.approvals = approvals
        self.services = wire(policy_world(approvals=approvals, via_group=via_group))
        self.world = self.services.world
        self.requests = self.services.requests
        self.model = Model()
        prod = self.world.catalog.environment("prod")
        self.approvers = self.world.directory.expand(prod.approvers)

    # ── reading the store ────────────────────────────────────────────────

    @property
    def now(self) -> datetime:
        return self.world.clock.now()

    def deployments(self, env: str | None = None) -> list[Deployment]:
        found = self.world.tables.deployments.values()
        return sorted((d for d in found if env is None or d.env == env), key=lambda d: d.id or 0)

    def live(self, env: str) -> Deployment | None:
        found = [d for d in self.deployments(env) if d.state is State.LIVE]
        return found[-1] if found else None

    def pending(self) -> list[Deployment]:
        return [d for d in self.deployments() if d.state is State.PENDING_APPROVAL]

    def votes_on(self, deployment: Deployment) -> list[Vote]:
        return [v for v in self.world.tables.votes.values() if v.deployment_id == deployment.id]

    def refusals(self) -> list[AuditEvent]:
        return [e for e in self.world.tables.audit if e.outcome is Outcome.REFUSED]

    def staging_healthy(self) -> bool:
        container = self.world.runtime.current.get((BOT, "staging"))
        return container is not None and container.running and container.health is Health.HEALTHY

    def version_of(self, sha: str) -> int:
        """The version a deployment of `sha` will run: its release, or the next one built."""
        releases = self.world.tables.releases.values()
        release = next((r for r in releases if r.bot == BOT and r.commit == sha), None)
        if release is not None:
            return release.version
        highest = max((r.version for r in releases if r.bot == BOT), default=0)
        return max(highest, self.world.source.highest_release(self.world.catalog.bot(BOT))) + 1

    # ── steps ────────────────────────────────────────────────────────────

    @initialize(head_start=st.sampled_from(["none", "soaked", "promoted"]))
    def start(self, head_start: str) -> None:
        """Most runs begin with v1 soaked in staging, or its promotion waiting for approval,
        so that more of them get as far as prod."""
        if head_start in ("soaked", "promoted"):
            self.deploy(Deploy("UDEV", "staging", new=True, pick=0, unhealthy=False, force=None))
            self.world.clock.advance(seconds=SOAK.total_seconds())
            self.observe()
        if head_start == "promoted":
            self.promote(Promote("UDEV", name_env=True, force=None))

    @rule(op=operations)
    def step(self, op: Operation) -> None:
        perform: dict[type, Callable[[Any], None]] = {
            Deploy: self.deploy,
            Promote: self.promote,
            Decide: self.decide,
            Rollback: self.rollback,
            TakeLock: self.take_lock,
            Unlock: self.unlock,
            ExpireAndSupersede: self.expire_and_supersede,
            Wait: self.wait,
            WaitOutTheSoak: self.wait_out_the_soak,
            StagingHealth: self.set_staging_health,
            HealthRound: self.health_round,
        }
        perform[type(op)](op)
        self.observe()

    def attempt(self, action: str, call: Callable[[], T]) -> T | UserError:
        """Run one request and check what every request must leave behind."""
        before = dict(self.world.tables.deployments)
        refused_before = len(self.refusals())
        locked = {env for env, lock in self.model.locks.items() if lock.active(self.now)}
        outcome: T | UserError
        try:
            outcome = call()
        except UserError as exc:
            outcome = exc
        new_refusals = self.refusals()[refused_before:]
        if isinstance(outcome, UserError):
            assert [e.action for e in new_refusals] == [action], (outcome, new_refusals)
        else:
            assert new_refusals == [], new_refusals
        for deployment in self.deployments():
            earlier = before.get(deployment.id or 0)
            newly_started = started(deployment) and (earlier is None or not started(earlier))
            if newly_started and deployment.env in locked:
                assert deployment.force_reason and deployment.requested_by == ADMIN, (
                    f"#{deployment.id} started while {deployment.env} is locked: {deployment}"
                )
        return outcome

    def observe(self) -> None:
        """Follow which deployment is live in staging."""
        live = self.live("staging")
        if live is None or live.id is None or live.version is None:
            self.model.staging = None
        elif self.model.staging is None or self.model.staging.deployment_id != live.id:
            # the same release again continues its soak (unless a failed check broke it)
            run = self.model.staging
            same = run is not None and run.version == live.version
            since = run.healthy_since if run is not None and same else None
            self.model.staging = StagingRun(
                live.id, live.version, healthy_since=since or live.live_at
            )

    def deploy(self, op: Deploy) -> None:
        """Prod must refuse every plain deploy."""
        commits = self.model.commits
        if op.new or not commits:
            sha = f"{len(commits) + 1:040x}"
            self.world.source.add_commit(BOT, "main", sha)
            commits.append(sha)
            if op.unhealthy:
                self.world.runtime.health_of[self.version_of(sha)] = Health.UNHEALTHY
            ref = None  # the branch head
        else:
            sha = commits[op.pick % len(commits)]
            ref = sha
        outcome = self.attempt(
            "deploy",
            lambda: self.requests.deploy(
                Actor(op.user), BOT, op.env, ref=ref, force_reason=op.force
            ),
        )
        if op.env == "prod":
            assert isinstance(outcome, Refused), outcome
            assert "only runs releases promoted from staging" in outcome.message

    def promote(self, op: Promote) -> None:
        """An accepted promotion is of what has been live and healthy in staging for the soak."""
        request = PromotionRequest(self.now, self.model.staging, self.staging_healthy())
        env = "prod" if op.name_env else None
        outcome = self.attempt(
            "promote",
            lambda: self.requests.promote(Actor(op.user), BOT, env, force_reason=op.force),
        )
        if isinstance(outcome, UserError):
            return
        assert outcome.id is not None
        self.model.promotions[outcome.id] = request
        assert request.allows(outcome.version), (
            f"promotion #{outcome.id} of v{outcome.version} accepted at {request.at} "
            f"while staging was {request.source}"
        )

    def decide(self, op: Decide) -> None:
        """The requester and non-approvers are refused and leave no vote; an approval of a
        promotion counts only while staging runs its release live, healthy and soaked."""
        every = [d.id or 0 for d in self.deployments()]
        pending = [d.id or 0 for d in self.pending()]
        pool = pending if pending and not op.any_deployment else [*every, max(every, default=0) + 1]
        deployment_id = pool[op.pick % len(pool)]
        target = self.world.tables.deployments.get(deployment_id)
        votes_before = dict(self.world.tables.votes)
        staging_now = PromotionRequest(self.now, self.model.staging, self.staging_healthy())
        decide = self.requests.approve if op.decision is Decision.APPROVE else self.requests.reject
        outcome = self.attempt(str(op.decision), lambda: decide(Actor(op.user), deployment_id))
        invalid_voter = target is not None and (
            op.user == target.requested_by or op.user not in self.approvers
        )
        if invalid_voter and target is not None and target.state is State.PENDING_APPROVAL:
            assert isinstance(outcome, NotAllowed), outcome
        if invalid_voter or isinstance(outcome, UserError):
            assert self.world.tables.votes == votes_before
        counted = self.world.tables.votes.keys() - votes_before.keys()
        if counted and op.decision is Decision.APPROVE and target is not None:
            assert target.kind is not Kind.PROMOTE or staging_now.allows(target.version), (
                f"an approval of #{deployment_id} counted while staging was {staging_now}"
            )

    def rollback(self, op: Rollback) -> None:
        self.attempt(
            "rollback",
            lambda: self.requests.rollback(
                Actor(op.user), BOT, op.env, to_version=op.to_version, force_reason=op.force
            ),
        )

    def take_lock(self, op: TakeLock) -> None:
        duration = timedelta(minutes=op.minutes) if op.minutes else None
        outcome = self.attempt(
            "lock",
            lambda: self.services.locks.lock(
                Actor(op.user), BOT, op.env, reason="investigating", duration=duration
            ),
        )
        if not isinstance(outcome, UserError):
            self.model.locks[op.env] = outcome

    def unlock(self, op: Unlock) -> None:
        outcome = self.attempt(
            "unlock", lambda: self.services.locks.unlock(Actor(op.user), BOT, op.env)
        )
        if not isinstance(outcome, UserError):
            self.model.locks.pop(op.env, None)

    def wait(self, op: Wait) -> None:
        self.world.clock.advance(seconds=op.seconds)

    def wait_out_the_soak(self, op: WaitOutTheSoak) -> None:
        run = self.model.staging
        if run is not None:
            end = (run.healthy_since or self.now) + SOAK + timedelta(seconds=op.offset)
            self.world.clock.current = max(self.now, end)

    def set_staging_health(self, op: StagingHealth) -> None:
        container = self.world.runtime.current.get((BOT, "staging"))
        if container is not None:
            container.health = Health.HEALTHY if op.healthy else Health.UNHEALTHY

    def health_round(self, op: HealthRound) -> None:
        """A failing check restarts the soak of what runs in staging; a passing one resumes it."""
        healthy = self.staging_healthy()
        self.attempt("health", self.services.health.check_all)
        run = self.model.staging
        if run is not None and not healthy:
            self.model.staging = replace(run, healthy_since=None)
        elif run is not None and run.healthy_since is None:
            self.model.staging = replace(run, healthy_since=self.now)

    def expire_and_supersede(self, op: ExpireAndSupersede) -> None:
        """Afterwards nothing pending is past its approval time."""
        self.attempt("expire", self.requests.expire_and_supersede)
        for deployment in self.pending():
            assert self.now < deployment.requested_at + TTL, deployment

    # ── what must always hold ────────────────────────────────────────────

    @invariant()
    def the_soak_clock_follows_the_health_checks(self) -> None:
        live, run = self.live("staging"), self.model.staging
        assert (live.healthy_since if live else None) == (run.healthy_since if run else None), (
            live,
            run,
        )

    @invariant()
    def nothing_is_left_half_done(self) -> None:
        for deployment in self.deployments():
            assert deployment.state not in IN_PROGRESS_STATES, deployment

    @invariant()
    def one_deployment_at_a_time(self) -> None:
        for env in ENVS:
            states = [d.state for d in self.deployments(env)]
            assert sum(s in IN_PROGRESS_STATES for s in states) <= 1, states
            assert states.count(State.PENDING_APPROVAL) <= 1, states

    @invariant()
    def the_runtime_runs_what_is_live(self) -> None:
        for env in ENVS:
            live = [d for d in self.deployments(env) if d.state is State.LIVE]
            assert len(live) <= 1, live
            expected = live[0].version if live else None
            assert self.world.runtime.version(BOT, env) == expected, (env, live)
            if live:
                release = self.world.tables.releases[(BOT, live[0].version or 0)]
                spec = self.world.runtime.current[(BOT, env)].spec
                assert (spec.image, spec.commit) == (release.pull_ref, live[0].commit), spec
        assert self.world.runtime.candidates == {}

    @invariant()
    def each_commit_is_built_once(self) -> None:
        releases = self.world.tables.releases.values()
        assert len(self.world.builder.builds) == len(releases)
        assert len({r.commit for r in releases}) == len(releases)

    @invariant()
    def prod_runs_only_soaked_promotions_and_earlier_prod_releases(self) -> None:
        prod = self.deployments("prod")
        for deployment in prod:
            assert deployment.kind is not Kind.DEPLOY, deployment
            if deployment.live_at is None:
                continue
            if deployment.kind is Kind.PROMOTE:
                request = self.model.promotions.get(deployment.id or 0)
                assert request is not None, f"#{deployment.id} was never asked for"
                assert request.allows(deployment.version), (deployment, request)
            else:
                earlier = {
                    d.version for d in prod if (d.id or 0) < (deployment.id or 0) and d.live_at
                }
                assert deployment.version in earlier, (deployment, earlier)

    @invariant()
    def promotions_go_live_only_with_enough_valid_approvals(self) -> None:
        for deployment in self.deployments("prod"):
            if deployment.kind is not Kind.PROMOTE or deployment.live_at is None:
                continue
            valid = {
                v.user
                for v in self.votes_on(deployment)
                if v.decision is Decision.APPROVE
                and v.user != deployment.requested_by
                and v.user in self.approvers
                and v.at <= deployment.live_at
                and v.at < deployment.requested_at + TTL
            }
            assert len(valid) >= self.approvals, (deployment, valid)

    @invariant()
    def pending_requests_have_neither_enough_approvals_nor_a_reject(self) -> None:
        for deployment in self.pending():
            votes = self.votes_on(deployment)
            assert all(v.decision is Decision.APPROVE for v in votes), votes
            assert len(votes) < self.approvals, votes

    @invariant()
    def only_approvers_other_than_the_requester_vote(self) -> None:
        for (deployment_id, user), vote in self.world.tables.votes.items():
            requester = self.world.tables.deployments[deployment_id].requested_by
            assert user != requester, vote
            assert user in self.approvers, vote

    @invariant()
    def pending_promotions_are_of_what_staging_runs(self) -> None:
        staging = self.live("staging")
        for deployment in self.deployments("prod"):
            if deployment.state is State.PENDING_APPROVAL:
                assert staging is not None and staging.version == deployment.version, deployment

    @invariant()
    def locks_hold_until_lifted_or_expired(self) -> None:
        for env, lock in self.model.locks.items():
            if lock.active(self.now):
                assert self.world.tables.locks.get((BOT, env)) == lock, (
                    lock,
                    self.world.tables.locks.get((BOT, env)),
                )


@pytest.mark.parametrize("via_group", [False, True], ids=["approvers", "group"])
@pytest.mark.parametrize("approvals", [1, 2])
def test_the_policy_holds_over_random_operations(approvals: int, via_group: bool) -> None:
    run_state_machine_as_test(
        lambda: PolicyMachine(approvals=approvals, via_group=via_group), settings=SETTINGS
    )


# ── pinned examples ──────────────────────────────────────────────────────


@pytest.fixture
def services() -> Services:
    services = wire(policy_world(approvals=1, via_group=False))
    services.world.source.add_commit(BOT, "main", "a" * 40)
    return services


def live_in_staging(services: Services, *, soaked: bool = True) -> Deployment:
    deployment = services.requests.deploy(Actor("UDEV"), BOT, "staging")
    assert deployment.state is State.LIVE
    if soaked:
        services.world.clock.advance(seconds=SOAK.total_seconds())
    return deployment


def staging_health(services: Services, health: Health) -> None:
    services.world.runtime.current[(BOT, "staging")].health = health


def test_the_soak_ends_exactly_soak_seconds_after_going_live(services: Services) -> None:
    live_in_staging(services, soaked=False)
    services.world.clock.advance(seconds=SOAK.total_seconds() - 1)
    with pytest.raises(NotPromotable, match="needs 10m of soak"):
        services.requests.promote(Actor("UDEV"), BOT, "prod")
    services.world.clock.advance(seconds=1)
    assert services.requests.promote(Actor("UDEV"), BOT, "prod").state is State.PENDING_APPROVAL


def test_two_approvals_need_two_approvers_besides_the_requester() -> None:
    services = wire(policy_world(approvals=2, via_group=True))
    services.world.source.add_commit(BOT, "main", "a" * 40)
    live_in_staging(services)
    pending = services.requests.promote(Actor("ULEAD1"), BOT, "prod")
    deployment_id = pending.id or 0

    with pytest.raises(NotAllowed, match="requested this deployment"):
        services.requests.approve(Actor("ULEAD1"), deployment_id)
    with pytest.raises(NotAllowed, match="not an approver"):
        services.requests.approve(Actor("UDEV"), deployment_id)
    assert services.requests.approve(Actor("ULEAD2"), deployment_id).state is State.PENDING_APPROVAL
    assert services.requests.approve(Actor("ULEAD2"), deployment_id).state is State.PENDING_APPROVAL

    live = services.requests.approve(Actor("ULEAD3"), deployment_id)  # an approver by group

    assert live.state is State.LIVE
    assert sorted(user for _, user in services.world.tables.votes) == ["ULEAD2", "ULEAD3"]
    refused = [e for e in services.world.tables.audit if e.outcome is Outcome.REFUSED]
    assert [(e.actor, e.action) for e in refused] == [("ULEAD1", "approve"), ("UDEV", "approve")]


def test_a_failing_health_check_restarts_the_soak(services: Services) -> None:
    live_in_staging(services)
    staging_health(services, Health.UNHEALTHY)
    services.health.check_all()
    staging_health(services, Health.HEALTHY)

    with pytest.raises(NotPromotable, match="is not healthy"):
        services.requests.promote(Actor("UDEV"), BOT, "prod")
    services.health.check_all()  # passing again: the soak starts over
    with pytest.raises(NotPromotable, match="healthy in staging for 0s"):
        services.requests.promote(Actor("UDEV"), BOT, "prod")
    services.world.clock.advance(seconds=SOAK.total_seconds())
    assert services.requests.promote(Actor("UDEV"), BOT, "prod").state is State.PENDING_APPROVAL


def test_a_named_rollback_in_prod_goes_only_to_a_release_prod_ran_before(
    services: Services,
) -> None:
    live_in_staging(services, soaked=False)  # v1: never soaked, promoted nor approved

    with pytest.raises(NothingToRollBack, match="v1 never ran in prod"):
        services.requests.rollback(Actor("UDEV"), BOT, "prod", to_version=1)
    assert services.world.runtime.version(BOT, "prod") is None


def test_approving_does_not_start_a_promotion_while_prod_is_locked(services: Services) -> None:
    live_in_staging(services)
    pending = services.requests.promote(Actor("UDEV"), BOT, "prod")
    services.locks.lock(Actor("UDEV"), BOT, "prod", reason="incident in progress")

    with pytest.raises(Locked, match="incident in progress"):
        services.requests.approve(Actor("ULEAD1"), pending.id or 0)
    assert services.world.runtime.version(BOT, "prod") is None
    assert services.world.tables.votes == {}  # the click did not count

    services.locks.unlock(Actor("UDEV"), BOT, "prod")
    assert services.requests.approve(Actor("ULEAD1"), pending.id or 0).state is State.LIVE


def test_a_forced_rollback_leaves_the_lock_in_place(services: Services) -> None:
    live_in_staging(services)
    services.world.source.add_commit(BOT, "main", "b" * 40)
    services.requests.deploy(Actor("UDEV"), BOT, "staging")
    lock = services.locks.lock(Actor("UDEV"), BOT, "staging", reason="investigating")

    back = services.requests.rollback(Actor(ADMIN), BOT, "staging", force_reason="outage")

    assert back.state is State.LIVE
    assert services.world.tables.locks[(BOT, "staging")] == lock
    with pytest.raises(Locked):
        services.requests.deploy(Actor("ULEAD1"), BOT, "staging")
