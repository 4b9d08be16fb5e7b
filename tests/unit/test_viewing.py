"""A deployment's view: built from the deployment as its writer saved it, reading only what it
lacks, once per deployment; a live one is read again."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import pytest

from chatops.domain.deployment import Deployment, Kind, Release, State
from chatops.errors import NotFound
from chatops.services.queries import Queries
from tests.fakes import FakeDirectory, FakeUnitOfWork, World, catalog
from tests.unit.test_services import LEAD1, LEAD2, App, make_app, soak


class Counted:
    """Units of work, counted as they are begun."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.begun = 0

    def __call__(self) -> FakeUnitOfWork:
        self.begun += 1
        return FakeUnitOfWork(self.world.tables)


class CountingDirectory(FakeDirectory):
    def __init__(self, groups: dict[str, set[str]]) -> None:
        super().__init__(groups)
        self.expanded = 0

    def expand(self, entries: Iterable[str]) -> frozenset[str]:
        self.expanded += 1
        return super().expand(entries)


@pytest.fixture
def app() -> App:
    application = make_app()
    application.commit("a" * 40, "first")
    return application


def _counted(app: App) -> tuple[Queries, Counted]:
    counted = Counted(app.world)
    return app.world.services(uow=counted).queries, counted


def _v1_live_and_v2_queued(app: App) -> Deployment:
    app.deploy()
    app.commit("b" * 40, "second")
    now = app.world.clock.now()
    return Deployment(
        id=99,
        bot="mybot",
        env="staging",
        kind=Kind.DEPLOY,
        state=State.QUEUED,
        requested_by="UDEV",
        requested_at=now,
        updated_at=now,
        ref="main",
    )


def _add_release(app: App, version: int, commit: str) -> None:
    with FakeUnitOfWork(app.world.tables) as uow:
        uow.releases.add(
            Release(
                bot="mybot",
                version=version,
                commit=commit,
                tag=f"mybot/v{version}",
                image=f"registry.test/mybot:v{version}",
                image_id=f"sha256:{version:064x}",
                digest=f"sha256:{version:064x}",
                created_by="UDEV",
                created_at=app.world.clock.now(),
            )
        )
        uow.commit()


def test_each_state_of_a_running_deployment_reads_only_what_it_lacks(app: App) -> None:
    queued = _v1_live_and_v2_queued(app)
    queries, counted = _counted(app)

    view = queries.view(99, saved=queued)
    assert counted.begun == 1  # what it replaces: v1, live in staging
    assert view.previous is not None and view.previous.version == 1
    assert view.deployment is queued

    building = replace(queued, state=State.BUILDING, commit="b" * 40, version=2)
    view = queries.view(99, saved=building)
    assert counted.begun == 1, "no read: it replaces v1 still, and v2 is being built"
    assert view.release is None and [c.subject for c in view.changes] == ["second"]

    _add_release(app, 2, "b" * 40)
    deploying = replace(building, state=State.DEPLOYING, previous_version=1)
    view = queries.view(99, saved=deploying)
    assert counted.begun == 2  # v2, read once it is there
    assert view.release is not None and view.release.version == 2

    view = queries.view(99, saved=replace(deploying, state=State.VERIFYING))
    assert counted.begun == 2, "nothing left to read"
    assert (view.previous.version if view.previous else None) == 1
    assert [c.subject for c in view.changes] == ["second"]


def test_a_live_deployment_is_read_again_as_it_may_have_changed_since(app: App) -> None:
    first = app.deploy()
    app.commit("b" * 40, "second")
    app.deploy()
    queries, counted = _counted(app)

    view = queries.view(first.id or 0, saved=first)  # as it was saved when it went live

    assert counted.begun == 1
    assert view.deployment.state is State.SUPERSEDED


def test_an_unknown_deployment_is_not_found(app: App) -> None:
    queries, _ = _counted(app)
    with pytest.raises(NotFound):
        queries.view(12345)


def test_approvers_are_expanded_while_votes_come_and_once_after() -> None:
    world = World(catalog())
    directory = CountingDirectory({})
    world.directory = directory
    app = make_app(world)
    app.commit("a" * 40, "first")
    app.deploy()
    soak(app)
    pending = app.requests.promote(LEAD1, "mybot")
    queries, counted = _counted(app)
    directory.expanded = 0

    for _ in range(2):
        assert queries.view(pending.id or 0, saved=pending).tally is not None
    assert directory.expanded == 2, "a pending request's votes may change: read and expanded"

    live = app.requests.approve(LEAD2, pending.id or 0)
    ended = replace(live, state=State.FAILED, reason="say it failed")  # an ended state: not read
    before, begun = directory.expanded, counted.begun
    views = [queries.view(pending.id or 0, saved=ended) for _ in range(3)]

    assert directory.expanded == before + 1 and counted.begun == begun + 1
    assert {v.decided_by for v in views} == {LEAD2.user}
    assert all(v.tally is not None and v.tally.complete for v in views)


def test_views_name_the_actor_who_decided(app: App) -> None:
    """A rejected request's view says who rejected it, as before."""
    app.deploy()
    soak(app)
    pending = app.requests.promote(LEAD1, "mybot")
    rejected = app.requests.reject(LEAD2, pending.id or 0, reason="not today")
    queries, _ = _counted(app)

    view = queries.view(rejected.id or 0, saved=rejected)

    assert view.decided_by == LEAD2.user
