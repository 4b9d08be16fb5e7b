"""Deployment statuses on the forge, through the outbox (SQLite), to the GitHub/GitLab stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chatops.adapters.db.outbox import OutboxKind
from chatops.adapters.db.schema import upgrade
from chatops.adapters.db.uow import SqlStore
from chatops.adapters.forge import ForgeClient
from chatops.adapters.forge_sender import ForgeNotifier, ForgeSender
from chatops.adapters.slack import SlackOutbox
from chatops.domain.catalog import Bot, BotTarget, Catalog, Environment
from chatops.domain.deployment import Deployment, Event, Kind, State
from chatops.services.views import DeploymentView
from tests.fakes import FakeClock
from tests.forge.standin import ForgeStandIn

SHA1, SHA2 = "1" * 40, "2" * 40


@pytest.fixture
def forge() -> Iterator[ForgeStandIn]:
    with ForgeStandIn() as standin:
        yield standin


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    url = f"sqlite:///{tmp_path / 'chatops.db'}"
    upgrade(url)
    store = SqlStore(url)
    yield store
    store.dispose()


def catalog(**bot: str) -> Catalog:
    environments = {
        "staging": Environment("staging", environment_url="https://staging.example.com/{bot}"),
        "prod": Environment("prod", promote_from="staging"),
    }
    targets = {name: BotTarget(env=name) for name in environments}
    return Catalog(
        environments=environments,
        bots={"mybot": Bot(name="mybot", repo="/srv/mybot", targets=targets, **bot)},  # type: ignore[arg-type]
    )


class Rig:
    def __init__(self, store: SqlStore, forge: ForgeStandIn, **bot: str) -> None:
        self.store = store
        self.clock = FakeClock()
        self.catalog = catalog(**bot)
        client = ForgeClient(
            github_url=forge.github_url,
            github_token="t",
            gitlab_url=forge.gitlab_url,
            gitlab_token="t",
        )
        self.sender = ForgeSender(store.uow, client, self.clock, owner="test")
        self.notifier = ForgeNotifier(
            SlackOutbox(store.uow, clock=self.clock),
            store.uow,
            self.catalog,
            public_url="https://chatops.example.com/",
        )

    def add(self, env: str, sha: str, version: int) -> Deployment:
        now = self.clock.now()
        with self.store.uow() as uow:
            added = uow.deployments.add(
                Deployment(
                    bot="mybot",
                    env=env,
                    kind=Kind.DEPLOY,
                    state=State.QUEUED,
                    requested_by="UDEV",
                    requested_at=now,
                    updated_at=now,
                    commit=sha,
                    version=version,
                )
            )
            uow.commit()
        self.tell(added)
        return added

    def move(self, deployment: Deployment, *events: Event) -> Deployment:
        with self.store.uow() as uow:
            for event in events:
                current = uow.deployments.get(deployment.id or 0)
                assert current is not None
                deployment = uow.deployments.save(current.advance(event, at=self.clock.now()))
            uow.commit()
        self.tell(deployment)
        return deployment

    def tell(self, deployment: Deployment) -> None:
        self.notifier.deployment_changed(DeploymentView(deployment, None))

    def drain(self) -> int:
        sent = 0
        while self.sender.send_due():
            sent += 1
        return sent

    def forge_rows(self) -> list[str]:
        with self.store.uow() as uow:
            return [w.subject for w in uow.outbox.waiting(kinds={OutboxKind.FORGE})]


def test_each_deployment_is_one_github_deployment_with_its_final_status(
    store: SqlStore, forge: ForgeStandIn
) -> None:
    rig = Rig(store, forge, github="acme/mybot")
    first = rig.add("staging", SHA1, 1)
    rig.drain()
    first = rig.move(first, Event.DEPLOY, Event.VERIFY, Event.HEALTHY)
    rig.drain()
    second = rig.add("staging", SHA2, 2)
    second = rig.move(second, Event.DEPLOY, Event.VERIFY)
    with store.uow() as uow:  # v2 goes live: v1 is superseded
        old = uow.deployments.get(first.id or 0)
        assert old is not None
        uow.deployments.save(old.advance(Event.SUPERSEDED, at=rig.clock.now()))
        uow.commit()
    rig.move(second, Event.HEALTHY)
    rig.drain()
    assert rig.forge_rows() == []

    by_sha = {d["sha"]: d for d in forge.deployments()}
    assert sorted(by_sha) == [SHA1, SHA2]
    one, two = by_sha[SHA1], by_sha[SHA2]
    assert one["environment"] == "staging" and one["production_environment"] is False
    assert one["required_contexts"] == [] and one["auto_merge"] is False
    assert [s["state"] for s in one["statuses"]] == ["in_progress", "success", "inactive"]
    assert [s["state"] for s in two["statuses"]] == ["success"]  # in_progress was replaced
    status = two["statuses"][-1]
    assert status["log_url"] == f"https://chatops.example.com/ui/deployments/{second.id}"
    assert status["environment_url"] == "https://staging.example.com/mybot"


def test_a_forge_outage_is_retried_and_never_makes_a_second_deployment(
    store: SqlStore, forge: ForgeStandIn
) -> None:
    rig = Rig(store, forge, github="acme/mybot")
    deployment = rig.add("prod", SHA1, 1)
    forge.fail(1)
    assert rig.drain() == 1  # tried once: refused
    assert rig.forge_rows() == [f"forge:{deployment.id}"]
    assert forge.deployments() == []
    rig.clock.advance(seconds=3)
    # the deployment is created, then its status is refused: the id is kept
    forge.fail(1, only="/statuses")
    rig.drain()
    rig.clock.advance(seconds=10)
    rig.drain()
    [created] = forge.deployments()
    assert created["production_environment"] is True  # nothing is promoted from prod
    assert [s["state"] for s in created["statuses"]] == ["in_progress"]
    assert rig.forge_rows() == []


def test_gitlab_deployments_are_created_and_updated(store: SqlStore, forge: ForgeStandIn) -> None:
    rig = Rig(store, forge, gitlab="group/mybot")
    deployment = rig.add("staging", SHA1, 1)
    rig.drain()
    rig.move(deployment, Event.DEPLOY, Event.VERIFY, Event.FAIL)
    rig.drain()
    [created] = forge.gitlab_deployments()
    assert (created["project"], created["sha"], created["environment"]) == (
        "group/mybot",
        SHA1,
        "staging",
    )
    assert created["status"] == "failed"
    assert [u["status"] for u in created["updates"]] == ["running", "failed"]


def test_bots_without_a_forge_queue_nothing(store: SqlStore, forge: ForgeStandIn) -> None:
    rig = Rig(store, forge)
    rig.add("staging", SHA1, 1)
    assert rig.forge_rows() == []
    assert forge.requests() == []
