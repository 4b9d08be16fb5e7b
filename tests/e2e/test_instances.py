"""Two chatops installations on one Docker Engine, one registry and one bot remote.

The default instance and instance `other` deploy a bot of the same name; the deploys and
rollback of one, and the reconcile and alerts of each, leave the other's containers,
images, tags and alerts as they were. (The runtimes' tests run both ways, on docker and
on swarm.)
"""

from __future__ import annotations

import copy
import json
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import docker
import pytest

from chatops.adapters.local_services import free_port
from chatops.bootstrap import Application, build
from chatops.bootstrap.monitoring import Monitoring
from chatops.config import load
from chatops.services.alerts import IncomingAlert
from tests.e2e.conftest import Installation

OTHER = "other"


@pytest.fixture
def other(installation: Installation) -> Installation:
    """Instance `other`: the same bot, remote and registry, its own home and ports."""
    home = installation.path.parent / "other"
    home.mkdir()
    ports = {"staging": free_port(), "prod": free_port()}
    document = copy.deepcopy(installation.document)
    document["instance"] = OTHER
    targets = document["bots"][installation.bot]["environments"]
    for env, port in ports.items():
        targets[env]["env"]["PORT"] = str(port)
    found = replace(installation, path=home, ports=ports, document=document)
    found.write_config()
    upgraded = found.run("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    return found  # the installation fixture removes every container and image of the bot


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Application]]:
    """Applications opened in this process on an installation's config (closed after)."""
    monkeypatch.delenv("CHATOPS_DATABASE_URL", raising=False)
    apps: list[Application] = []
    yield apps
    for app in apps:
        app.close()


def _snapshot(client: docker.DockerClient, name: str) -> tuple[str, str, str, str, bool]:
    attrs = client.api.inspect_container(name)
    labels = attrs["Config"]["Labels"]
    return (
        attrs["Id"],
        attrs["State"]["StartedAt"],
        labels["chatops.release"],
        labels["chatops.instance"],
        attrs["State"]["Running"],
    )


def _registry_tags(registry: str, repository: str) -> list[str]:
    url = f"http://{registry}/v2/{repository}/tags/list"
    with urllib.request.urlopen(url, timeout=10) as response:
        return sorted(json.load(response)["tags"] or [])


def _deploy(i: Installation, *args: str) -> dict[str, Any]:
    result = i.run(*args, "--json")
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout)
    assert found["state"] == "live", found
    return found


def _app(i: Installation, apps: list[Application]) -> Application:
    app = build(load(i.config), for_="cli")
    apps.append(app)
    return app


def test_two_instances_deploy_the_same_bot_and_never_touch_each_other(
    installation: Installation, other: Installation, opened: list[Application]
) -> None:
    mine, theirs = installation, other
    bot, client, registry = mine.bot, mine.docker, mine.registry
    assert registry
    mine_unit, their_unit = f"{bot}-staging", f"{OTHER}-{bot}-staging"

    assert _deploy(mine, "deploy", bot, "staging")["version"] == 1
    before = _snapshot(client, mine_unit)
    assert _deploy(theirs, "deploy", bot, "staging")["version"] == 1  # its own numbering
    assert _snapshot(client, mine_unit) == before
    assert _snapshot(client, their_unit)[2:] == ("v1", OTHER, True)
    [their_release] = theirs.json("releases", bot)
    assert their_release["image"] == f"{registry}/{OTHER}/{bot}:v1"
    assert their_release["tag"] == f"{OTHER}/{bot}/v1"

    mine.repo.commit("second version")
    assert _deploy(theirs, "deploy", bot, "staging")["version"] == 2
    assert _deploy(theirs, "rollback", bot, "staging")["version"] == 1
    assert _snapshot(client, mine_unit) == before
    assert _snapshot(client, their_unit)[2:] == ("v1", OTHER, True)

    tags = mine.repo.remote_tags()
    assert {f"{bot}/v1", f"{bot}/staging"} <= set(tags) and f"{bot}/v2" not in tags
    assert {f"{OTHER}/{bot}/v1", f"{OTHER}/{bot}/v2", f"{OTHER}/{bot}/staging"} <= set(tags)
    assert _registry_tags(registry, bot) == ["v1"]
    assert _registry_tags(registry, f"{OTHER}/{bot}") == ["v1", "v2"]
    for image in (f"{bot}:v1", f"{OTHER}/{bot}:v1", f"{OTHER}/{bot}:v2"):
        client.images.get(f"{registry}/{image}")  # still on the engine

    # reconcile: each sees only its own; a container of the other that vanished is not its alert
    my_app, their_app = _app(mine, opened), _app(theirs, opened)
    assert _monitoring(my_app).reconciler.reconcile() == []
    assert _monitoring(their_app).reconciler.reconcile() == []
    client.containers.get(their_unit).remove(force=True)
    assert _monitoring(my_app).reconciler.reconcile() == []
    [missing] = _monitoring(their_app).reconciler.reconcile()
    assert (missing.bot, missing.env, missing.version) == (bot, "staging", 1)
    assert _snapshot(client, mine_unit)[2:] == ("v1", "default", True)

    # Alertmanager: an alert labelled for the other instance is not this one's
    alert = IncomingAlert(
        status="firing",
        bot=bot,
        env="staging",
        fingerprint="0123456789abcdef",
        summary="slow",
        labels={"bot": bot, "env": "staging", "chatops_instance": OTHER},
    )
    ignored = _monitoring(my_app).intake.ingest_alertmanager([alert])
    assert (ignored.opened, ignored.ignored) == (0, 1)
    taken = _monitoring(their_app).intake.ingest_alertmanager([alert])
    assert taken.opened == 1
    with my_app.store.uow() as uow:
        assert uow.alerts.open_alerts() == []


def _monitoring(app: Application) -> Monitoring:
    return app.monitoring
