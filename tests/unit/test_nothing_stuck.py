"""Nothing gets stuck, over fakes: build timeouts, /cancel, failures the database refuses to
record, the heartbeat of work (not of processes), and a recovery that never crashes."""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import pytest

from chatops.domain.audit import Outcome
from chatops.domain.deployment import Deployment, Kind, State
from chatops.domain.health import Health
from chatops.domain.policy import check_canceller
from chatops.errors import AlreadyDecided, NotAllowed, Refused
from chatops.services.cancel import Cancellations
from chatops.services.context import Actor, Tuning
from chatops.services.launchers import ThreadLauncher
from chatops.services.pipeline import Pipeline
from chatops.services.recovery import Heartbeat, Recovery
from chatops.services.requests import Requests
from tests.fakes import FakeUnitOfWork, World, catalog

DEV = Actor("UDEV")
LEAD1 = Actor("ULEAD1")
OUTSIDER = Actor("UOUT")
ADMIN = Actor("UADMIN")


@dataclass
class App:
    world: World
    requests: Requests
    cancels: Cancellations
    heartbeat: Heartbeat
    recovery: Recovery
    pipeline: Pipeline

    def commit(self, sha: str) -> None:
        self.world.source.add_commit("mybot", "main", sha, "change")

    def deploy(self, actor: Actor = DEV) -> Deployment:
        return self.requests.deploy(actor, "mybot", "staging")

    def row(self, deployment_id: int | None) -> Deployment:
        return self.world.tables.deployments[deployment_id or 0]

    def audit(self, action: str) -> list[tuple[str, Outcome, str]]:
        return [
            (e.actor, e.outcome, e.detail) for e in self.world.tables.audit if e.action == action
        ]


class Held:
    """A launcher that keeps what it is given: deployments stay queued until run by hand."""

    def __init__(self) -> None:
        self.launched: list[int] = []

    def launch(self, deployment_id: int) -> None:
        self.launched.append(deployment_id)


def make_app(*, launcher: Held | None = None, build_timeout_seconds: float = 1800) -> App:
    shop = catalog()
    bot = dataclasses.replace(
        shop.bots["mybot"], build_timeout=timedelta(seconds=build_timeout_seconds)
    )
    world = World(dataclasses.replace(shop, bots={"mybot": bot}))
    services = world.services(launcher)
    app = App(
        world,
        services.requests,
        services.cancels,
        services.heartbeat,
        services.recovery,
        services.pipeline,
    )
    app.commit("a" * 40)
    return app


@pytest.fixture
def app() -> App:
    """mybot v1 live in staging; a new commit waits to be deployed as v2."""
    application = make_app(build_timeout_seconds=600)
    assert application.deploy().state is State.LIVE
    application.commit("b" * 40)
    return application


# ── build timeout ────────────────────────────────────────────────────────


def test_a_build_running_past_build_timeout_is_stopped_and_fails_with_why(app: App) -> None:
    app.world.builder.hang.add("registry.test/mybot:v2")  # `RUN sleep infinity`

    failed = app.deploy()

    assert failed.state is State.FAILED
    assert failed.reason == (
        "v2 did not build within 10m (build_timeout_seconds); the build was stopped"
    )
    assert app.world.builder.stopped == ["it ran longer than build_timeout_seconds"]
    assert app.world.runtime.version("mybot", "staging") == 1  # the previous release runs on
    assert ("mybot", 2) not in app.world.tables.releases
    assert "Step 1/1" in app.row(failed.id).log_tail
    # the bot's build slot is free again: the next deploy builds
    app.world.builder.hang.clear()
    assert app.deploy().state is State.LIVE


# ── /cancel ──────────────────────────────────────────────────────────────


def test_a_cancel_while_building_stops_the_build_and_what_ran_keeps_running(app: App) -> None:
    app.world.builder.hang.add("registry.test/mybot:v2")
    asked: list[Deployment] = []
    app.world.builder.while_building = lambda: asked.append(
        app.cancels.cancel(LEAD1, "mybot", "staging")
    )

    failed = app.deploy()

    [request] = asked
    assert request.state is State.BUILDING
    assert request.cancel_requested_by == "ULEAD1"
    assert failed.state is State.FAILED
    assert failed.reason == "cancelled by ULEAD1"
    assert app.world.builder.stopped == ["cancelled by ULEAD1"]
    assert app.world.runtime.version("mybot", "staging") == 1
    assert app.world.notifier.states(failed.id or 0)[-2:] == [State.BUILDING, State.FAILED]
    assert app.audit("cancel") == [
        ("ULEAD1", Outcome.OK, "building: its process is asked to stop it")
    ]


def test_a_cancel_while_verifying_ends_the_candidate_and_restores_what_ran(app: App) -> None:
    app.world.runtime.health_of[2] = Health.STARTING  # it would wait the whole health timeout
    observe = app.world.runtime.observe
    asked: list[Deployment] = []

    def observe_and_cancel(bot: str, env: str, handle: str | None = None) -> object:
        if handle is not None and not asked:
            asked.append(app.cancels.cancel(DEV, "mybot", "staging"))
        return observe(bot, env, handle)

    app.world.runtime.observe = observe_and_cancel  # type: ignore[method-assign]
    started = app.world.clock.now()

    failed = app.deploy()

    assert asked[0].state is State.VERIFYING
    assert failed.state is State.FAILED
    assert failed.reason == "cancelled by UDEV; v1 is running again"
    assert app.world.runtime.version("mybot", "staging") == 1
    # noticed within a poll, not at the end of the 10 s health timeout
    assert app.world.clock.now() - started <= timedelta(seconds=2)


def test_a_cancel_that_arrives_as_the_release_goes_live_wins_and_restores(app: App) -> None:
    """Cancel vs completion: a request recorded after the last look is caught by the CAS."""
    commit = app.world.runtime.commit

    def commit_and_cancel(bot: str, env: str, handle: str) -> None:
        commit(bot, env, handle)
        app.cancels.cancel(DEV, "mybot", "staging")

    app.world.runtime.commit = commit_and_cancel  # type: ignore[method-assign]

    failed = app.deploy()

    assert failed.state is State.FAILED
    assert failed.reason == "cancelled by UDEV; v1 is running again"
    assert app.world.runtime.version("mybot", "staging") == 1
    assert app.world.source.env_tags["mybot/staging"] == "a" * 40
    live = [d for d in app.world.tables.deployments.values() if d.state is State.LIVE]
    assert [d.version for d in live] == [1]


def test_a_queued_deployment_is_cancelled_at_once_and_a_late_worker_leaves_it() -> None:
    held = Held()
    app = make_app(launcher=held)
    queued = app.deploy()
    assert queued.state is State.QUEUED

    cancelled = app.cancels.cancel(DEV, "mybot", "staging")

    assert cancelled.state is State.FAILED
    assert cancelled.reason == "cancelled by UDEV"
    assert app.pipeline.execute(held.launched[0]).state is State.FAILED
    assert app.world.builder.builds == []
    assert app.world.runtime.starts == []


def test_a_worker_that_is_resolving_when_the_cancel_comes_stands_down() -> None:
    app = make_app()
    fetch = app.world.source.fetch

    def fetch_then_cancel(bot: object) -> None:
        fetch(bot)  # type: ignore[arg-type]
        app.cancels.cancel(DEV, "mybot", "staging")

    app.world.source.fetch = fetch_then_cancel  # type: ignore[method-assign]

    ended = app.deploy()

    assert ended.state is State.FAILED
    assert ended.reason == "cancelled by UDEV"
    assert app.world.builder.builds == []
    assert [e for e in app.world.tables.audit if e.action == "failed"] == []  # said once


def test_a_pending_promotion_is_rejected_by_a_cancel(app: App) -> None:
    app.world.clock.advance(minutes=11)
    pending = app.requests.promote(DEV, "mybot", "prod")
    assert pending.state is State.PENDING_APPROVAL

    rejected = app.cancels.cancel(DEV, "mybot", "prod")

    assert rejected.state is State.REJECTED
    assert rejected.reason == "cancelled by UDEV"
    with pytest.raises(AlreadyDecided):
        app.requests.approve(LEAD1, pending.id or 0)


def test_cancelling_when_nothing_runs_is_a_clear_refusal_and_audited(app: App) -> None:
    with pytest.raises(Refused) as refused:
        app.cancels.cancel(DEV, "mybot", "staging")

    assert refused.value.message == (
        "nothing to cancel: no deployment of mybot runs or waits in staging"
    )
    assert refused.value.hint == "`/status mybot` shows what runs where"
    assert app.audit("cancel") == [("UDEV", Outcome.REFUSED, str(refused.value))]


def test_only_the_requester_deployers_and_admins_may_cancel() -> None:
    held = Held()
    app = make_app(launcher=held)
    queued = app.deploy()
    prod_deployers = {"UDEV", "ULEAD1", "ULEAD2"}

    check_canceller(queued, "UDEV", deployers=set(), admins=set())  # who asked
    check_canceller(queued, "ULEAD1", deployers=prod_deployers, admins=set())
    check_canceller(queued, "UADMIN", deployers=set(), admins={"UADMIN"})
    with pytest.raises(NotAllowed, match=r"only who asked for it \(UDEV\), staging's deployers"):
        check_canceller(queued, "UOUT", deployers=prod_deployers, admins={"UADMIN"})


def test_a_cancel_by_someone_not_allowed_is_refused_and_changes_nothing(app: App) -> None:
    app.world.clock.advance(minutes=11)
    pending = app.requests.promote(DEV, "mybot", "prod")

    with pytest.raises(NotAllowed):
        app.cancels.cancel(OUTSIDER, "mybot", "prod")

    assert app.row(pending.id).state is State.PENDING_APPROVAL
    assert [o for _, o, _ in app.audit("cancel")] == [Outcome.REFUSED]
    assert app.cancels.cancel(ADMIN, "mybot", "prod").state is State.REJECTED


# ── failures the database refuses to record ──────────────────────────────


def _refuse_commits_when_restoring(app: App, count: int) -> None:
    restore = app.world.runtime.restore

    def restore_then_break(*args: object) -> None:
        restore(*args)  # type: ignore[arg-type]
        app.world.tables.refuse_commits = count

    app.world.runtime.restore = restore_then_break  # type: ignore[method-assign]


def test_a_failure_is_recorded_though_the_database_refuses_at_first(app: App) -> None:
    app.world.runtime.health_of[2] = Health.UNHEALTHY
    _refuse_commits_when_restoring(app, 2)

    failed = app.deploy()

    assert failed.state is State.FAILED
    assert failed.reason is not None and failed.reason.endswith("v1 is running again")
    assert app.row(failed.id).state is State.FAILED


def test_when_the_database_keeps_refusing_its_heartbeat_stops_and_recovery_fails_it(
    app: App,
) -> None:
    app.world.runtime.health_of[2] = Health.UNHEALTHY
    _refuse_commits_when_restoring(app, 5)  # every retry

    app.deploy()

    [stuck] = [d for d in app.world.tables.deployments.values() if d.in_progress]
    assert stuck.state is State.VERIFYING
    assert stuck.owner == app.world.processes.me()
    assert not app.heartbeat.working_on(stuck.id)
    with FakeUnitOfWork(app.world.tables) as uow:
        assert uow.deployments.heartbeat(stuck.owner, app.world.clock.now(), set()) == 0
    assert app.recovery.recover() == []  # its last beat is recent yet
    app.world.clock.advance(minutes=2)

    [recovered] = app.recovery.recover()

    assert recovered.id == stuck.id
    assert recovered.state is State.FAILED
    assert recovered.reason is not None
    assert recovered.reason.startswith("interrupted: its run in this chatops process")
    assert recovered.reason.endswith("v1 is running again")
    assert app.world.runtime.version("mybot", "staging") == 1


# ── the heartbeat beats for work, not for the process ────────────────────


def _in_progress(app: App, bot: str, owner: str) -> Deployment:
    with FakeUnitOfWork(app.world.tables) as uow:
        added = uow.deployments.add(
            Deployment(
                bot=bot,
                env="staging",
                kind=Kind.DEPLOY,
                state=State.BUILDING,
                requested_by="UDEV",
                requested_at=app.world.clock.now(),
                updated_at=app.world.clock.now(),
                owner=owner,
                heartbeat_at=app.world.clock.now(),
            )
        )
        uow.commit()
    return added


def test_the_heartbeat_stamps_only_deployments_whose_work_runs() -> None:
    app = make_app()
    me = app.world.processes.me()
    working, abandoned = _in_progress(app, "mybot", me), _in_progress(app, "otherbot", me)
    app.world.clock.advance(seconds=30)

    with app.heartbeat.running(working.id or 0):
        assert app.heartbeat.working_on(working.id)
        assert app.heartbeat.beat() == 1
    assert app.heartbeat.beat() == 0

    assert app.row(working.id).heartbeat_at == app.world.clock.now()
    assert app.row(abandoned.id).heartbeat_at == working.requested_at
    app.world.clock.advance(seconds=45)
    assert [d.id for d in app.recovery.orphaned()] == [abandoned.id]


# ── recovery never crashes its caller ────────────────────────────────────


def test_recovery_fails_what_it_cannot_restore_naming_the_secret_and_goes_on(app: App) -> None:
    app.world.secrets.values["API_TOKEN"] = "s3cr3t-token-value"
    dead = "host:boot:999:1"
    deploying = _in_progress(app, "mybot", dead)
    with FakeUnitOfWork(app.world.tables) as uow:
        uow.deployments.save(dataclasses.replace(deploying, state=State.DEPLOYING, version=2))
        uow.commit()
    other = _in_progress(app, "otherbot", dead)
    app.world.processes.dead.add(dead)
    app.world.secrets.unreadable = True

    ended = app.recovery.recover()

    assert sorted(d.id or 0 for d in ended) == [deploying.id, other.id]
    failed = app.row(deploying.id)
    assert failed.state is State.FAILED
    assert failed.reason is not None
    assert failed.reason.endswith(
        "the previous release was not restored: env_file of mybot in staging does not exist"
    )
    assert "s3cr3t" not in failed.reason
    assert app.row(other.id).state is State.FAILED


def test_recovery_logs_a_deployment_it_cannot_handle_and_recovers_the_rest(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    dead = "host:boot:999:1"
    broken = _in_progress(app, "mybot", dead)
    with FakeUnitOfWork(app.world.tables) as uow:
        broken = uow.deployments.save(dataclasses.replace(broken, state=State.DEPLOYING, version=2))
        uow.commit()
    fine = _in_progress(app, "otherbot", dead)
    app.world.processes.dead.add(dead)

    def restore(bot: str, env: str, previous: object) -> None:
        raise RuntimeError("a bug in the runtime adapter")

    app.world.runtime.restore = restore  # type: ignore[method-assign]

    ended = app.recovery.recover()

    assert [d.id for d in ended] == [fine.id]
    assert app.row(fine.id).state is State.FAILED
    assert app.row(broken.id).state is State.FAILED  # claimed before the restore broke
    assert f"could not recover deployment #{broken.id}" in caplog.text


# ── serve's launcher: no pool to wait for ────────────────────────────────


def test_deployments_never_wait_behind_stuck_ones_for_a_worker() -> None:
    """Six stuck deployments all run at once (a pool of four held the fifth back forever)."""
    release = threading.Event()
    started: list[int] = []

    def stuck(deployment_id: int) -> None:
        started.append(deployment_id)
        release.wait(30)

    launcher = ThreadLauncher(stuck)
    for deployment_id in range(1, 7):
        launcher.launch(deployment_id)
    deadline = time.monotonic() + 30
    while len(started) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)

    assert sorted(started) == [1, 2, 3, 4, 5, 6]
    assert launcher.running() == 6
    release.set()
    launcher.shutdown()
    assert launcher.running() == 0


def test_shutting_down_leaves_a_stuck_deployment_to_recovery_after_the_grace_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()
    launcher = ThreadLauncher(lambda _: release.wait(30), grace_seconds=0.2)
    launcher.launch(7)

    started = time.monotonic()
    launcher.shutdown()

    assert time.monotonic() - started < 5
    assert "chatops-deploy-7 still running" in caplog.text
    launcher.launch(8)  # after shutdown: left queued for recovery, not run
    assert launcher.running() == 1
    release.set()


def _refuse_commits_when_going_live(app: App, count: int) -> None:
    commit = app.world.runtime.commit

    def commit_then_break(*args: object) -> None:
        commit(*args)  # type: ignore[arg-type]
        app.world.tables.refuse_commits = count  # the database restarts as it goes live

    app.world.runtime.commit = commit_then_break  # type: ignore[method-assign]


def test_going_live_is_recorded_though_the_database_refuses_at_first(app: App) -> None:
    _refuse_commits_when_going_live(app, 2)

    live = app.deploy()

    assert live.state is State.LIVE, live.reason
    assert app.row(live.id).state is State.LIVE
    assert app.world.runtime.version("mybot", "staging") == live.version
    assert [o for _, o, _ in app.audit("live")] == [Outcome.OK, Outcome.OK]  # v1, then v2
    assert [d.state for d in app.world.tables.deployments.values()].count(State.LIVE) == 1


def test_going_live_the_database_keeps_refusing_fails_it_and_the_previous_runs(app: App) -> None:
    _refuse_commits_when_going_live(app, Tuning().store_retries)

    failed = app.deploy()

    assert failed.state is State.FAILED
    assert "v1 is running again" in (failed.reason or "")
    assert app.world.runtime.version("mybot", "staging") == 1


def _left_verifying(app: App) -> Deployment:
    """v2 failed its health gate, and this process stopped before it could record that."""
    app.world.runtime.health_of[2] = Health.UNHEALTHY
    _refuse_commits_when_restoring(app, 5)
    app.deploy()
    [stuck] = [d for d in app.world.tables.deployments.values() if d.in_progress]
    assert stuck.state is State.VERIFYING
    app.world.clock.advance(minutes=2)  # its heartbeat went stale
    return stuck


def test_recovery_waits_for_an_engine_that_does_not_answer_before_ending_a_rollout(
    app: App,
) -> None:
    stuck = _left_verifying(app)
    app.world.runtime.away = True

    assert app.recovery.recover() == []  # nothing ended while nothing could be put back
    assert app.row(stuck.id).state is State.VERIFYING
    app.world.clock.advance(minutes=5)
    assert app.recovery.recover() == []

    app.world.runtime.away = False
    [ended] = app.recovery.recover()

    assert ended.id == stuck.id and ended.state is State.FAILED
    assert (ended.reason or "").endswith("; v1 is running again")
    assert app.world.runtime.version("mybot", "staging") == 1


def test_recovery_ends_a_rollout_whose_engine_stays_away_and_says_so(app: App) -> None:
    stuck = _left_verifying(app)
    app.world.runtime.away = True
    app.world.clock.advance(minutes=11)

    [ended] = app.recovery.recover()

    assert ended.id == stuck.id and ended.state is State.FAILED
    assert "restoring the previous release failed: the Docker Engine cannot be reached" in (
        ended.reason or ""
    )


def test_going_live_whose_commit_was_made_though_its_answer_was_lost_is_live(app: App) -> None:
    """The retry finds its own earlier try done: it is live, and v1 is not put back."""
    commit = app.world.runtime.commit

    def commit_then_lose(*args: object) -> None:
        commit(*args)  # type: ignore[arg-type]
        app.world.tables.lose_commit_answers = 1

    app.world.runtime.commit = commit_then_lose  # type: ignore[method-assign]

    live = app.deploy()

    assert live.state is State.LIVE, live.reason
    assert app.row(live.id).state is State.LIVE
    assert app.world.runtime.version("mybot", "staging") == 2  # v2 runs, as recorded
