"""`retention` on the real engine: old releases' images and build logs go, the live and the
previous-live ones stay, release tags are never deleted, old audit events go."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import docker
import pytest

from chatops.adapters.system import SystemClock
from chatops.bootstrap import Application, build
from chatops.config import load
from chatops.services.retention import Retention
from tests.e2e.conftest import Installation
from tests.fakes import FakeClock


@pytest.fixture
def app(installation: Installation, monkeypatch: pytest.MonkeyPatch) -> Iterator[Application]:
    installation.document["retention"] = {"releases": 1, "audit_days": 30}
    installation.write_config()
    monkeypatch.delenv("CHATOPS_DATABASE_URL", raising=False)
    application = build(load(installation.config), for_="cli")
    try:
        yield application
    finally:
        application.close()


def _has_image(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def test_retention_keeps_the_live_and_previous_releases_and_every_tag(
    installation: Installation, app: Application
) -> None:
    i = installation
    for n in range(3):
        if n:
            i.repo.commit(f"version {n + 1}")
        assert i.run("deploy", i.bot, "staging").returncode == 0
    images = {v: f"{i.registry}/{i.bot}:v{v}" for v in (1, 2, 3)}
    logs = i.path / "work" / "logs" / i.bot
    assert all(_has_image(i.docker, ref) for ref in images.values())
    stale = i.path / "work" / "builds" / "tmp-left-by-a-crash"
    stale.mkdir(parents=True)
    (stale / "context.tar").write_bytes(b"x")
    young = i.path / "work" / "builds" / "tmp-building-now"
    young.mkdir()
    days_ago = stale.stat().st_mtime - 2 * 86400
    os.utime(stale, (days_ago, days_ago))

    pruned = app.retention.prune()

    assert (pruned.releases, pruned.logs, pruned.builds, pruned.audit_events) == (1, 1, 1, 0)
    assert not _has_image(i.docker, images[1])
    assert _has_image(i.docker, images[2]) and _has_image(i.docker, images[3])
    assert sorted(p.name.split("-")[0] for p in logs.iterdir()) == ["v2", "v3"]
    assert not stale.exists() and young.exists()
    tags = i.repo.remote_tags()
    assert {f"{i.bot}/v1", f"{i.bot}/v2", f"{i.bot}/v3", f"{i.bot}/staging"} <= set(tags)
    assert i.running_release("staging") == "v3"
    assert [r["version"] for r in i.json("releases", i.bot)] == [3, 2, 1]  # still recorded

    # a rollback to v2 still needs nothing that went
    assert i.run("rollback", i.bot, "staging").returncode == 0
    assert i.running_release("staging") == "v2"

    # audit: events older than `audit_days` go, younger ones stay
    assert app.retention.prune().audit_events == 0
    later = FakeClock(SystemClock().now() + timedelta(days=31))
    gone = (
        Retention(app.catalog, uow=app.uow, clock=later, engines=app.engines, workdir=app.workdir)
        .prune()
        .audit_events
    )
    assert gone > 0
    audit = i.run("audit", "--json")
    assert audit.returncode == 0 and audit.stdout.strip() == "[]", audit.stdout
