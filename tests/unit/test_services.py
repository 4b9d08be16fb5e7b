"""The use cases over fakes: deploy, promote, approvals, rollback, locks, freezes, recovery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from chatops.domain.audit import Outcome
from chatops.domain.deployment import Deployment, Kind, State
from chatops.domain.health import Health
from chatops.domain.policy import FreezeWindow, LockKind
from chatops.errors import (
    AlreadyDecided,
    BadInput,
    Busy,
    ConfigError,
    Frozen,
    Locked,
    NotAllowed,
    NotFound,
    NothingToRollBack,
    NotPromotable,
    Refused,
)
from chatops.services.context import Actor
from chatops.services.launchers import InlineLauncher
from chatops.services.locks import LockService
from chatops.services.pipeline import Pipeline
from chatops.services.ports import Launcher
from chatops.services.queries import Queries
from chatops.services.recovery import Recovery
from chatops.services.requests import Requests
from tests.fakes import FakeUnitOfWork, World, catalog

DEV = Actor("UDEV")
LEAD1 = Actor("ULEAD1")
LEAD2 = Actor("ULEAD2")
OUTSIDER = Actor("UOUT")
ADMIN = Actor("UADMIN")


@dataclass
class App:
    world: World
    requests: Requests
    queries: Queries
    recovery: Recovery
    locks: LockService
    pipeline: Pipeline

    def commit(self, sha: str, subject: str = "change", ref: str = "main") -> str:
        self.world.source.add_commit("mybot", ref, sha, subject)
        return sha

    def deploy(self, actor: Actor = DEV, env: str = "staging", **kwargs: object) -> Deployment:
        return self.requests.deploy(actor, "mybot", env, **kwargs)  # type: ignore[arg-type]

    def audit(self, action: str | None = None) -> list[tuple[str, str, Outcome]]:
        return [
            (e.actor, e.action, e.outcome)
            for e in self.world.tables.audit
            if action is None or e.action == action
        ]

    def deployment(self, deployment_id: int) -> Deployment:
        return self.world.tables.deployments[deployment_id]


def make_app(world: World | None = None, *, launcher: Launcher | None = None) -> App:
    world = world or World(catalog())
    services = world.services(launcher)
    return App(
        world,
        services.requests,
        services.queries,
        services.recovery,
        services.locks,
        services.pipeline,
    )


@pytest.fixture
def app() -> App:
    application = make_app()
    application.commit("a" * 40, "first")
    return application


@pytest.fixture
def auto_app() -> App:
    """The app with staging following `main` (`auto_deploy`), where a rollback holds it."""
    application = make_app(World(catalog(staging={"auto_deploy": "main"})))
    application.commit("a" * 40, "first")
    return application


def soak(app: App) -> None:
    app.world.clock.advance(minutes=11)


# ── deploy ───────────────────────────────────────────────────────────────


def test_deploy_builds_tags_runs_and_goes_live(app: App) -> None:
    deployment = app.deploy()

    assert deployment.state is State.LIVE
    assert deployment.version == 1
    assert deployment.commit == "a" * 40
    assert app.world.notifier.states(deployment.id or 0) == [
        State.QUEUED,
        State.BUILDING,
        State.DEPLOYING,
        State.VERIFYING,
        State.LIVE,
    ]
    [build] = app.world.builder.builds
    assert build.image == "registry.test/mybot:v1"
    assert build.labels["org.opencontainers.image.revision"] == "a" * 40
    assert build.labels["org.opencontainers.image.version"] == "v1"
    assert app.world.source.tags == {"mybot/v1": "a" * 40}
    assert app.world.source.env_tags == {"mybot/staging": "a" * 40}
    assert app.world.runtime.version("mybot", "staging") == 1
    release = app.world.tables.releases[("mybot", 1)]
    assert release.digest.startswith("sha256:") and release.digest != release.image_id
    actions = [a for _, a, _ in app.audit()]
    assert actions[:3] == ["deploy", "build", "live"]


def test_the_same_commit_twice_is_one_release_and_one_build(app: App) -> None:
    first = app.deploy()
    second = app.deploy()

    assert (first.version, second.version) == (1, 1)
    assert len(app.world.builder.builds) == 1
    assert list(app.world.source.tags) == ["mybot/v1"]
    assert len(app.world.tables.releases) == 1
    assert app.deployment(first.id or 0).state is State.SUPERSEDED
    assert second.state is State.LIVE


def test_a_new_commit_replaces_the_live_release(app: App) -> None:
    first = app.deploy()
    app.commit("b" * 40, "second")
    second = app.deploy()

    assert second.version == 2
    assert app.deployment(first.id or 0).state is State.SUPERSEDED
    assert app.world.runtime.version("mybot", "staging") == 2
    assert app.world.source.env_tags["mybot/staging"] == "b" * 40


def test_an_unhealthy_release_fails_and_the_previous_one_runs_again(app: App) -> None:
    app.deploy()
    app.commit("b" * 40, "broken")
    app.world.runtime.health_of[2] = Health.UNHEALTHY

    failed = app.deploy()

    assert failed.state is State.FAILED
    assert "v2 failed its health check" in (failed.reason or "")
    assert "v1 is running again" in (failed.reason or "")
    assert app.world.runtime.version("mybot", "staging") == 1
    assert app.world.tables.deployments[1].state is State.LIVE
    assert app.world.source.env_tags["mybot/staging"] == "a" * 40
    assert ("chatops", "failed", Outcome.FAILED) in app.audit()


def test_a_release_stuck_starting_fails_at_the_health_timeout(app: App) -> None:
    app.world.runtime.health_of[1] = Health.STARTING
    failed = app.deploy()
    assert failed.state is State.FAILED
    assert "v1 was not healthy within 10s" in (failed.reason or "")
    assert app.world.runtime.version("mybot", "staging") is None


def test_a_failed_build_leaves_no_release_tag_or_container(app: App) -> None:
    app.world.builder.fail_build.add("registry.test/mybot:v1")
    failed = app.deploy()

    assert failed.state is State.FAILED
    assert "the build failed" in (failed.reason or "")
    assert "RUN returned 1" in failed.log_tail
    assert app.world.tables.releases == {}
    assert app.world.source.tags == {}
    assert app.world.runtime.current == {}


def test_a_registry_that_is_down_fails_the_deployment_and_drops_the_image(app: App) -> None:
    app.world.builder.registry_down = True
    failed = app.deploy()

    assert failed.state is State.FAILED
    assert "registry is down" in (failed.reason or "")
    assert app.world.builder.removed == ["registry.test/mybot:v1"]
    assert app.world.tables.releases == {}
    assert app.world.source.tags == {}


def test_an_unreachable_remote_fails_the_deployment(app: App) -> None:
    app.world.source.unreachable = True
    failed = app.deploy()
    assert failed.state is State.FAILED
    assert "cannot reach" in (failed.reason or "")
    assert app.world.builder.builds == []


def test_a_ref_that_does_not_exist_fails_with_the_reason(app: App) -> None:
    failed = app.deploy(ref="nope")
    assert failed.state is State.FAILED
    assert "'nope' does not exist" in (failed.reason or "")
    assert app.world.tables.releases == {}


@pytest.mark.parametrize(
    ("bot", "env", "ref", "error"),
    [
        ("ghost", "staging", None, NotFound),
        ("mybot", "qa", None, NotFound),
        ("mybot", "staging", "--upload-pack=touch pwned", BadInput),
        ("mybot", "staging", "a..b", BadInput),
        ("mybot", "staging", "../x", BadInput),
        ("My Bot", "staging", None, BadInput),
    ],
)
def test_bad_input_is_refused_and_audited_with_nothing_started(
    app: App, bot: str, env: str, ref: str | None, error: type[Exception]
) -> None:
    with pytest.raises(error):
        app.requests.deploy(DEV, bot, env, ref=ref)
    assert app.world.tables.deployments == {}
    assert app.world.source.fetches == 0
    assert app.audit() == [("UDEV", "deploy", Outcome.REFUSED)]


def test_deploying_straight_into_prod_is_refused_with_the_way_there(app: App) -> None:
    with pytest.raises(Refused) as refused:
        app.deploy(env="prod")
    assert "only runs releases promoted from staging" in refused.value.message
    assert refused.value.hint and "/promote mybot prod" in refused.value.hint


def test_a_second_deployment_while_one_runs_is_refused_naming_it() -> None:
    seen: list[Exception] = []

    def deploy_again(deployment_id: int) -> None:
        try:
            app.deploy(actor=LEAD1)
        except Busy as exc:
            seen.append(exc)
        app.pipeline.execute(deployment_id)

    app = make_app(launcher=InlineLauncher(deploy_again))  # the first one is mid-flight
    app.commit("a" * 40, "first")
    first = app.deploy()

    assert first.state is State.LIVE
    [busy] = seen
    assert isinstance(busy, Busy)
    assert busy.deployment_id == first.id
    assert f"#{first.id} deploy of mybot" in busy.message


# ── promote and approvals ────────────────────────────────────────────────


def test_promotion_waits_for_the_soak_time_and_says_how_long_is_left(app: App) -> None:
    app.deploy()
    app.world.clock.advance(minutes=4)
    with pytest.raises(NotPromotable) as refused:
        app.requests.promote(DEV, "mybot", "prod")
    assert "healthy in staging for 4m" in refused.value.message
    assert refused.value.hint == "try again in 6m"


def test_promotion_of_nothing_or_of_an_unhealthy_release_is_refused(app: App) -> None:
    with pytest.raises(NotPromotable, match="nothing of mybot is live in staging"):
        app.requests.promote(DEV, "mybot", "prod")
    app.deploy()
    soak(app)
    app.world.runtime.current[("mybot", "staging")].health = Health.UNHEALTHY
    with pytest.raises(NotPromotable, match="not healthy"):
        app.requests.promote(DEV, "mybot", "prod")


def test_promotion_needs_an_approver_other_than_the_requester_and_runs_the_same_image(
    app: App,
) -> None:
    staging = app.deploy()
    soak(app)
    pending = app.requests.promote(LEAD1, "mybot")
    assert pending.state is State.PENDING_APPROVAL
    assert (pending.env, pending.version) == ("prod", 1)

    with pytest.raises(NotAllowed, match="requested this deployment"):
        app.requests.approve(LEAD1, pending.id or 0)
    with pytest.raises(NotAllowed, match="not an approver"):
        app.requests.approve(OUTSIDER, pending.id or 0)
    assert app.world.tables.votes == {}

    live = app.requests.approve(LEAD2, pending.id or 0)

    assert live.state is State.LIVE
    assert len(app.world.builder.builds) == 1
    staging_spec = app.world.runtime.current[("mybot", "staging")].spec
    prod_spec = app.world.runtime.current[("mybot", "prod")].spec
    assert prod_spec.image == staging_spec.image
    assert app.world.source.env_tags["mybot/prod"] == staging.commit
    rows = app.queries.releases("mybot")
    assert rows[0].live_in == ("prod", "staging")
    assert rows[0].approved_by == ("ULEAD2",)


def test_a_second_approve_by_the_same_person_counts_once(app: App) -> None:
    world = World(
        catalog(prod={"approvals": 2, "approvers": frozenset({"ULEAD1", "ULEAD2", "ULEAD3"})})
    )
    app = make_app(world)
    app.commit("a" * 40)
    app.deploy()
    soak(app)
    pending = app.requests.promote(DEV, "mybot", "prod")
    app.requests.approve(LEAD1, pending.id or 0)
    again = app.requests.approve(LEAD1, pending.id or 0)
    assert again.state is State.PENDING_APPROVAL
    done = app.requests.approve(Actor("ULEAD3"), pending.id or 0)
    assert done.state is State.LIVE


def test_approvers_may_be_user_groups(app: App) -> None:
    world = World(catalog(prod={"approvers": frozenset({"SLEADS"})}))
    world.directory.groups["SLEADS"] = {"ULEAD9"}
    app = make_app(world)
    app.commit("a" * 40)
    app.deploy()
    soak(app)
    pending = app.requests.promote(DEV, "mybot", "prod")
    with pytest.raises(NotAllowed):
        app.requests.approve(LEAD1, pending.id or 0)
    assert app.requests.approve(Actor("ULEAD9"), pending.id or 0).state is State.LIVE


def test_one_reject_ends_the_request(app: App) -> None:
    app.deploy()
    soak(app)
    pending = app.requests.promote(DEV, "mybot", "prod")
    rejected = app.requests.reject(LEAD1, pending.id or 0)
    assert rejected.state is State.REJECTED
    assert rejected.reason == "rejected by ULEAD1"
    with pytest.raises(AlreadyDecided):
        app.requests.approve(LEAD2, pending.id or 0)
    assert app.world.runtime.version("mybot", "prod") is None


def test_a_reject_reason_is_recorded_and_audited(app: App) -> None:
    app.deploy()
    soak(app)
    pending = app.requests.promote(DEV, "mybot", "prod")
    rejected = app.requests.reject(LEAD1, pending.id or 0, reason="not on a Friday")
    assert rejected.reason == "rejected by ULEAD1: not on a Friday"
    [event] = [e for e in app.world.tables.audit if e.action == "reject"]
    assert (event.actor, event.outcome, event.deployment_id) == ("ULEAD1", Outcome.OK, pending.id)
    assert event.detail.endswith("reason: not on a Friday")


def test_an_unanswered_request_expires(app: App) -> None:
    app.deploy()
    soak(app)
    pending = app.requests.promote(DEV, "mybot", "prod")
    app.world.clock.advance(hours=1, seconds=1)
    [expired] = app.requests.expire_and_supersede()
    assert expired.id == pending.id
    assert expired.state is State.EXPIRED


def test_approving_after_the_ttl_is_refused_and_expires_it(app: App) -> None:
    app.deploy()
    soak(app)
    pending = app.requests.promote(DEV, "mybot", "prod")
    app.world.clock.advance(hours=2)
    with pytest.raises(AlreadyDecided, match="expired"):
        app.requests.approve(LEAD1, pending.id or 0)
    assert app.deployment(pending.id or 0).state is State.EXPIRED


def test_a_waiting_promotion_is_superseded_when_staging_changes(app: App) -> None:
    app.deploy()
    soak(app)
    pending = app.requests.promote(DEV, "mybot", "prod")
    app.commit("b" * 40)
    app.deploy()
    superseded = app.deployment(pending.id or 0)
    assert superseded.state is State.SUPERSEDED
    assert "staging now runs v2" in (superseded.reason or "")
    assert app.world.notifier.states(pending.id or 0)[-1] is State.SUPERSEDED  # its message says so
    assert ("chatops", "superseded", Outcome.OK) in app.audit()
    with pytest.raises(AlreadyDecided):
        app.requests.approve(LEAD1, pending.id or 0)


def test_a_second_promotion_while_one_waits_is_refused(app: App) -> None:
    app.deploy()
    soak(app)
    pending = app.requests.promote(DEV, "mybot", "prod")
    with pytest.raises(Busy) as busy:
        app.requests.promote(LEAD1, "mybot", "prod")
    assert busy.value.deployment_id == pending.id
    assert busy.value.hint == f"approve or reject #{pending.id} first"


def test_deployers_are_enforced_for_promotions(app: App) -> None:
    app.deploy()
    soak(app)
    with pytest.raises(NotAllowed, match="may not deploy to prod"):
        app.requests.promote(OUTSIDER, "mybot", "prod")


# ── rollback ─────────────────────────────────────────────────────────────


def test_rollback_goes_to_the_previous_healthy_release_without_building(app: App) -> None:
    app.deploy()
    app.commit("b" * 40)
    app.deploy()
    builds = len(app.world.builder.builds)

    back = app.requests.rollback(DEV, "mybot", "staging")

    assert back.state is State.LIVE
    assert back.kind is Kind.ROLLBACK
    assert back.version == 1
    assert len(app.world.builder.builds) == builds
    assert app.world.runtime.version("mybot", "staging") == 1
    assert app.world.source.env_tags["mybot/staging"] == "a" * 40
    # staging has no auto_deploy: there is nothing automatic to hold
    assert app.world.tables.locks == {}
    assert app.deploy(actor=LEAD1).state is State.LIVE


def test_rolling_back_twice_keeps_going_back(app: App) -> None:
    app.deploy()
    for sha in ("b" * 40, "c" * 40):
        app.commit(sha)
        app.deploy()
    assert app.requests.rollback(DEV, "mybot", "staging").version == 2
    assert app.requests.rollback(DEV, "mybot", "staging").version == 1


def test_rollback_to_a_named_version(app: App) -> None:
    app.deploy()
    for sha in ("b" * 40, "c" * 40):
        app.commit(sha)
        app.deploy()
    assert app.requests.rollback(DEV, "mybot", "staging", to_version=1).version == 1
    with pytest.raises(NothingToRollBack, match="v9 was never built"):
        app.requests.rollback(DEV, "mybot", "staging", to_version=9)


def test_rollback_with_nothing_earlier_is_refused(app: App) -> None:
    with pytest.raises(NothingToRollBack):
        app.requests.rollback(DEV, "mybot", "staging")
    app.deploy()
    with pytest.raises(NothingToRollBack, match="no earlier healthy release"):
        app.requests.rollback(DEV, "mybot", "staging")
    assert app.audit("rollback")[-1] == ("UDEV", "rollback", Outcome.REFUSED)


def test_rollback_approvals_make_a_rollback_wait(app: App) -> None:
    world = World(catalog(staging={"rollback_approvals": 1, "approvers": frozenset({"ULEAD1"})}))
    app = make_app(world)
    app.commit("a" * 40)
    app.deploy()
    app.commit("b" * 40)
    app.deploy()
    pending = app.requests.rollback(DEV, "mybot", "staging")
    assert pending.state is State.PENDING_APPROVAL
    assert app.requests.approve(LEAD1, pending.id or 0).version == 1


def test_an_automatic_deploy_is_held_after_a_rollback_until_someone_deploys_on_purpose(
    auto_app: App,
) -> None:
    app = auto_app
    app.deploy()
    app.commit("b" * 40)
    app.deploy()
    back = app.requests.rollback(DEV, "mybot", "staging")
    hold = app.world.tables.locks[("mybot", "staging")]
    assert hold.kind is LockKind.ROLLBACK_HOLD
    assert f"#{back.id}" in hold.reason

    with pytest.raises(Locked, match="rolled back to v1"):
        app.requests.deploy(Actor("chatops", "webhook"), "mybot", "staging", automatic=True)

    again = app.deploy()
    assert again.state is State.LIVE
    assert ("mybot", "staging") not in app.world.tables.locks


# ── locks and freezes ────────────────────────────────────────────────────


def test_a_lock_refuses_deployments_until_unlocked(app: App) -> None:
    app.locks.lock(DEV, "mybot", "staging", reason="investigating", duration=timedelta(hours=2))
    with pytest.raises(Locked, match=r"locked by UDEV until .*: investigating"):
        app.deploy(actor=LEAD1)
    app.locks.unlock(LEAD1, "mybot", "staging")
    assert app.deploy(actor=LEAD1).state is State.LIVE


def test_a_lock_with_a_duration_expires_by_itself(app: App) -> None:
    app.locks.lock(DEV, "mybot", "staging", reason="lunch", duration=timedelta(minutes=30))
    app.world.clock.advance(minutes=31)
    assert app.deploy().state is State.LIVE


@pytest.mark.parametrize("days", [366, 99_999_999])
def test_a_lock_longer_than_a_year_is_bad_input_not_an_internal_error(app: App, days: int) -> None:
    """Guards `lock --for 99999999d`, which overflowed the expiry date (an internal error)."""
    with pytest.raises(BadInput, match="a lock may last at most 365d") as caught:
        app.locks.lock(DEV, "mybot", "staging", reason="x", duration=timedelta(days=days))
    assert "--for" in (caught.value.hint or "")
    assert app.world.tables.locks == {}
    assert app.audit("lock") == [("UDEV", "lock", Outcome.REFUSED)]


def test_an_admin_may_force_through_a_lock_with_a_reason_and_it_is_audited(app: App) -> None:
    app.locks.lock(DEV, "mybot", "staging", reason="hold")
    with pytest.raises(NotAllowed, match="only admins may force"):
        app.deploy(actor=LEAD1, force_reason="urgent")
    forced = app.deploy(actor=ADMIN, force_reason="hotfix for outage")
    assert forced.state is State.LIVE
    [event] = [
        e for e in app.world.tables.audit if e.action == "deploy" and e.outcome is Outcome.OK
    ]
    assert "forced by admin: hotfix for outage" in event.detail


def test_a_freeze_refuses_deployments_with_when_it_ends(app: App) -> None:
    now = app.world.clock.now()
    app.world.freezes.windows["staging"] = FreezeWindow(
        "0 17 * * FRI", now - timedelta(hours=1), now + timedelta(hours=2)
    )
    with pytest.raises(Frozen, match="frozen until 2026-11-27 11:00"):
        app.deploy()
    with pytest.raises(Frozen):
        app.requests.rollback(DEV, "mybot", "staging")
    assert app.deploy(actor=ADMIN, force_reason="security fix").state is State.LIVE


# ── recovery ─────────────────────────────────────────────────────────────


def test_recovery_fails_deployments_whose_process_died_and_restores_what_ran(app: App) -> None:
    app.deploy()
    app.commit("b" * 40)
    with FakeUnitOfWork(app.world.tables) as uow:
        orphan = uow.deployments.add(
            Deployment(
                bot="mybot",
                env="staging",
                kind=Kind.DEPLOY,
                state=State.DEPLOYING,
                requested_by="UDEV",
                requested_at=app.world.clock.now(),
                updated_at=app.world.clock.now(),
                owner="host:boot:999:1",
                version=2,
                heartbeat_at=app.world.clock.now(),
            )
        )
        uow.commit()
    app.world.processes.dead.add("host:boot:999:1")
    app.world.runtime.current[
        ("mybot", "staging")
    ].running = False  # mid-deploy: the old one was stopped

    [recovered] = app.recovery.recover()

    assert recovered.id == orphan.id
    assert recovered.state is State.FAILED
    assert "interrupted" in (recovered.reason or "")
    assert "v1 is running again" in (recovered.reason or "")
    assert app.world.runtime.version("mybot", "staging") == 1


def test_recovery_leaves_deployments_of_living_processes_alone(app: App) -> None:
    with FakeUnitOfWork(app.world.tables) as uow:
        uow.deployments.add(
            Deployment(
                bot="mybot",
                env="staging",
                kind=Kind.DEPLOY,
                state=State.BUILDING,
                requested_by="UDEV",
                requested_at=app.world.clock.now(),
                updated_at=app.world.clock.now(),
                owner="otherhost:boot:5:1",
                heartbeat_at=app.world.clock.now(),
            )
        )
        uow.commit()
    assert app.recovery.recover() == []
    app.world.clock.advance(minutes=5)  # the other host stopped beating
    [failed] = app.recovery.recover()
    assert failed.state is State.FAILED


# ── queries ──────────────────────────────────────────────────────────────


def test_logs_mask_secret_values(app: App) -> None:
    app.world.secrets.values["API_TOKEN"] = "s3cr3t-token-value"
    app.deploy()
    text = app.queries.logs(DEV, "mybot", "staging", lines=10)
    assert "s3cr3t-token-value" not in text
    assert "token is ••••••" in text


def test_secrets_are_read_once_per_deployment(app: App) -> None:
    app.deploy()
    app.commit("b" * 40)
    app.world.secrets.resolved = 0
    app.deploy()
    assert app.world.secrets.resolved == 1


def test_unreadable_secrets_fail_the_deployment_and_withhold_logs(app: App) -> None:
    app.world.secrets.values["API_TOKEN"] = "s3cr3t-token-value"
    app.deploy()
    app.world.secrets.unreadable = True

    failed = app.deploy(ref="main")

    assert failed.state is State.FAILED
    assert "env_file of mybot in staging does not exist" in (failed.reason or "")
    assert app.world.runtime.version("mybot", "staging") == 1
    with pytest.raises(ConfigError):
        app.queries.logs(DEV, "mybot", "staging", lines=10)


def test_status_shows_what_runs_where(app: App) -> None:
    app.deploy()
    [row] = app.queries.status()
    assert (row.bot, row.env, row.health) == ("mybot", "staging", Health.HEALTHY)
    assert row.deployment is not None and row.deployment.version == 1
