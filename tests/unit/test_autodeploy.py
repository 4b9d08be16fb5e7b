"""GitOps over fakes: pushed and polled heads deploy once where `auto_deploy` follows the branch."""

from __future__ import annotations

import pytest

from chatops.domain.audit import Outcome
from chatops.domain.deployment import Deployment, Event, Kind, State
from chatops.domain.health import Health
from chatops.domain.repos import remote_location, same_repository
from chatops.services.auditor import Auditor
from chatops.services.autodeploy import AutoDeploy, Started
from chatops.services.context import Actor
from chatops.services.requests import Requests
from tests.fakes import World, catalog
from tests.unit.test_services import App, make_app


@pytest.fixture
def app() -> App:
    world = World(catalog(staging={"auto_deploy": "main", "poll_seconds": 60}))
    application = make_app(world)
    application.commit("a" * 40)
    return application


def _autodeploy(world: World, requests: Requests) -> AutoDeploy:
    """An AutoDeploy over `world` that asks `requests` (the app's, over the same tables)."""
    return AutoDeploy(
        world.catalog,
        uow=world.uow,
        clock=world.clock,
        source=world.source,
        auditor=Auditor(world.uow, world.clock),
        requests=requests,
    )


def autodeploy(app: App) -> AutoDeploy:
    return _autodeploy(app.world, app.requests)


def test_a_polled_new_head_deploys_once(app: App) -> None:
    [started] = autodeploy(app).poll("staging")

    assert started.deployment is not None
    assert (started.deployment.state, started.deployment.commit) == (State.LIVE, "a" * 40)
    assert started.deployment.requested_by == "chatops"
    assert autodeploy(app).poll("staging") == []
    app.commit("b" * 40)
    [second] = autodeploy(app).poll("staging")
    assert second.deployment is not None and second.deployment.version == 2


def test_a_head_that_failed_is_not_retried(app: App) -> None:
    app.world.runtime.health_of[1] = Health.UNHEALTHY
    [failed] = autodeploy(app).poll("staging")
    assert failed.deployment is not None and failed.deployment.state is State.FAILED
    assert autodeploy(app).poll("staging") == []


def test_environments_without_auto_deploy_are_not_polled(app: App) -> None:
    assert autodeploy(app).poll("prod") == []
    assert app.world.source.fetches == 0


def test_a_rollback_holds_pushes_until_someone_deploys_on_purpose(app: App) -> None:
    app.deploy()
    app.commit("b" * 40)
    app.deploy()
    app.requests.rollback(Actor("UDEV"), "mybot", "staging")
    app.commit("c" * 40)

    [held] = autodeploy(app).pushed(
        urls={"/srv/git/mybot.git"}, full_name=None, branch="main", sha="c" * 40, pusher="ada"
    )

    assert held.deployment is None
    assert held.refused is not None and "held for automatic deploys" in held.refused
    assert app.world.runtime.version("mybot", "staging") == 1


def test_a_push_deploys_only_the_bots_of_that_repository_and_branch(app: App) -> None:
    pushed = autodeploy(app).pushed
    assert (
        pushed(
            urls={"https://x/other.git"},
            full_name="acme/other",
            branch="main",
            sha="a" * 40,
            pusher="ada",
        )
        == []
    )
    assert (
        pushed(urls={"/srv/git/mybot"}, full_name=None, branch="dev", sha="a" * 40, pusher="ada")
        == []
    )
    [started] = pushed(
        urls={"/srv/git/mybot"}, full_name=None, branch="main", sha="a" * 40, pusher="ada"
    )
    assert started.deployment is not None
    assert (started.deployment.kind, started.deployment.requested_by) == (Kind.DEPLOY, "ada")


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("https://github.com/acme/mybot.git", ("github.com", "acme/mybot")),
        ("ssh://git@GitLab.com/acme/bots/mybot", ("gitlab.com", "acme/bots/mybot")),
        ("git@github.com:acme/mybot.git", ("github.com", "acme/mybot")),
        ("/srv/git/mybot.git", None),
        ("./mybot", None),
        ("file:///srv/git/mybot.git", None),
    ],
)
def test_remote_locations(url: str, location: tuple[str, str] | None) -> None:
    assert remote_location(url) == location


def test_a_push_matches_by_url_or_by_owner_and_name_only() -> None:
    repo = "git@github.com:acme/mybot.git"
    assert same_repository(repo, urls={"git@github.com:acme/mybot"}, full_name=None)
    assert same_repository(repo, urls=set(), full_name="Acme/MyBot")
    assert not same_repository(repo, urls=set(), full_name="mallory/mybot")
    assert not same_repository(repo, urls=set(), full_name=None)


# ── the remote is the truth: replays, rewrites, never backwards ──────────────

A, B, C, D = ("a" * 40, "b" * 40, "c" * 40, "d" * 40)


def push(app: App, sha: str, pusher: str = "ada") -> list[Started]:
    return autodeploy(app).pushed(
        urls={"/srv/git/mybot.git"}, full_name=None, branch="main", sha=sha, pusher=pusher
    )


def live_commit(app: App) -> str | None:
    with app.world.uow() as uow:
        live = uow.deployments.live("mybot", "staging")
    return live.commit if live else None


def test_a_replayed_push_of_an_older_commit_deploys_nothing(app: App) -> None:
    """Guards against a replayed (or redelivered) push deploying an old commit over a newer one."""
    [first] = push(app, A)
    app.commit(B)
    [second] = push(app, B)
    assert first.deployment is not None and second.deployment is not None
    deployments = len(app.world.tables.deployments)

    [replayed] = push(app, A)

    assert replayed.deployment is None and replayed.skipped is not None
    assert len(app.world.tables.deployments) == deployments
    assert live_commit(app) == B


def test_a_late_push_deploys_the_current_head_not_its_own_commit(app: App) -> None:
    push(app, A)
    app.commit(B)
    app.commit(C)

    [late] = push(app, B)

    assert late.deployment is not None and late.deployment.commit == C
    assert live_commit(app) == C


def test_a_head_behind_what_is_live_is_not_deployed(app: App) -> None:
    push(app, A)
    app.commit(B, ref="next")  # a branch ahead of main, deployed by hand
    app.deploy(ref="next")

    [behind] = push(app, A)

    assert behind.deployment is None
    assert behind.skipped is not None and "never go backwards" in behind.skipped
    assert live_commit(app) == B


def test_a_rewritten_branch_deploys_its_head_audited_as_a_rewrite(app: App) -> None:
    push(app, A)
    app.world.source.rewrite("mybot", "main", D)

    [rewritten] = push(app, D)

    assert rewritten.deployment is not None and rewritten.deployment.commit == D
    assert live_commit(app) == D
    [event] = [e for e in app.world.tables.audit if e.action == "history_rewrite"]
    assert event.deployment_id == rewritten.deployment.id
    assert "rewritten" in event.detail and event.actor == "ada"


# ── a push while a deployment runs: wanted, then drained once ────────────────


def hold(app: App) -> int:
    """A deployment of mybot in staging that is still running (its worker elsewhere)."""
    with app.world.uow() as uow:
        running = uow.deployments.add(
            Deployment(
                bot="mybot",
                env="staging",
                kind=Kind.DEPLOY,
                state=State.DEPLOYING,
                requested_by="UDEV",
                requested_at=app.world.clock.now(),
                updated_at=app.world.clock.now(),
                ref="main",
                commit=A,
            )
        )
        uow.commit()
    assert running.id is not None
    return running.id


def end(app: App, deployment_id: int) -> None:
    with app.world.uow() as uow:
        running = uow.deployments.get(deployment_id)
        assert running is not None
        uow.deployments.save(running.advance(Event.FAIL, at=app.world.clock.now(), reason="test"))
        uow.commit()


def test_pushes_during_a_deployment_deploy_the_newest_head_once_it_ended(app: App) -> None:
    """Guards against a push that arrives while (bot, env) is busy being dropped."""
    running = hold(app)
    app.commit(B)
    [waiting] = push(app, B)
    app.commit(C)
    [still_waiting] = push(app, C)

    assert (waiting.waiting_for, still_waiting.waiting_for) == (running, running)
    assert autodeploy(app).drain() == []  # still busy
    assert [w.commit for w in app.world.tables.wanted_heads.values()] == [C]
    end(app, running)

    [drained] = _autodeploy(app.world, app.requests).drain()  # e.g. after a restart

    assert drained.deployment is not None and drained.deployment.commit == C
    assert drained.deployment.requested_by == "ada"
    assert live_commit(app) == C
    assert app.world.tables.wanted_heads == {}
    assert autodeploy(app).drain() == []
    wanted = [e for e in app.world.tables.audit if e.action == "deploy_wanted"]
    assert [e.deployment_id for e in wanted] == [running, running]
    assert not [e for e in app.world.tables.audit if e.outcome is Outcome.REFUSED]


def test_polling_while_busy_wants_the_head_without_repeating_itself(app: App) -> None:
    running = hold(app)
    app.commit(B)

    [first] = autodeploy(app).poll("staging")
    [again] = autodeploy(app).poll("staging")

    assert first.waiting_for == again.waiting_for == running
    assert len([e for e in app.world.tables.audit if e.action == "deploy_wanted"]) == 1
    end(app, running)
    [drained] = autodeploy(app).drain()
    assert drained.deployment is not None and drained.deployment.requested_by == "chatops"


def test_a_wanted_head_the_configuration_no_longer_follows_is_dropped(app: App) -> None:
    running = hold(app)
    app.commit(B)
    push(app, B)
    end(app, running)
    unfollowed = World(catalog(staging={}), tables=app.world.tables, source=app.world.source)

    assert _autodeploy(unfollowed, app.requests).drain() == []
    assert app.world.tables.wanted_heads == {}
