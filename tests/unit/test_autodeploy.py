"""GitOps over fakes: pushed and polled heads deploy once where `auto_deploy` follows the branch."""

from __future__ import annotations

import pytest

from chatops.domain.deployment import Kind, State
from chatops.domain.health import Health
from chatops.domain.repos import remote_location, same_repository
from chatops.services.autodeploy import AutoDeploy
from chatops.services.context import Actor
from tests.fakes import World, catalog
from tests.unit.test_services import App, make_app


@pytest.fixture
def app() -> App:
    world = World(catalog(staging={"auto_deploy": "main", "poll_seconds": 60}))
    application = make_app(world)
    application.commit("a" * 40)
    return application


def autodeploy(app: App) -> AutoDeploy:
    return AutoDeploy(app.world.deps(), app.requests)


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
