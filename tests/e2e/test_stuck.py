"""Nothing gets stuck, through the CLI and `serve`: a build that never ends is stopped (by its
timeout, or by `chatops cancel` from another process), and a recovery that cannot read a
secret does not keep `serve` from starting. (That the previous release runs on is shown over
fakes in tests/unit/test_nothing_stuck.py and on real databases in test_races.py.)"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from chatops.adapters.db.uow import SqlStore
from chatops.adapters.system import SystemClock
from chatops.domain.deployment import Deployment, Kind, State
from tests.e2e.conftest import Installation
from tests.e2e.serving import Served

T = TypeVar("T")


def _stuck_dockerfile(marker: str) -> str:
    """A build whose RUN step never ends by itself (`RUN sleep infinity`)."""
    return (
        "FROM scratch\nCOPY busybox /bin/busybox\n"
        f'RUN ["/bin/busybox", "sh", "-c", "echo {marker}; exec /bin/busybox sleep 3600"]\n'
    )


def _wait(probe: Callable[[], T | None], what: str, timeout: float = 120) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _step_containers(i: Installation, marker: str) -> list[str]:
    return [c["Id"] for c in i.docker.api.containers(all=True) if marker in c["Command"]]


def _in_progress(i: Installation) -> dict[str, Any] | None:
    for row in i.json("status", i.bot):
        if row["env"] == "staging" and row["in_progress"]:
            return row["in_progress"]  # type: ignore[no-any-return]
    return None


def test_a_build_that_never_ends_is_stopped_at_build_timeout_seconds(
    installation: Installation,
) -> None:
    i = installation
    marker = uuid.uuid4().hex
    i.document["bots"][i.bot]["build_timeout_seconds"] = 3
    i.write_config()
    i.repo.commit("never builds", files={"Dockerfile": _stuck_dockerfile(marker)})

    started = time.monotonic()
    result = i.run("deploy", i.bot, "staging", "--json", timeout=120)

    assert result.returncode == 1, result.stderr
    assert time.monotonic() - started < 60
    outcome = json.loads(result.stdout)
    assert outcome["state"] == "failed"
    assert outcome["reason"] == (
        "v1 did not build within 3s (build_timeout_seconds); the build was stopped"
    )
    assert _step_containers(i, marker) == []  # the engine's build ended too
    assert _in_progress(i) is None  # the environment is free for the next deployment


def test_chatops_cancel_from_another_process_stops_its_build_on_the_engine(
    installation: Installation,
) -> None:
    """The deploy runs in one process, the cancel comes from another: the row carries it."""
    i = installation
    marker = uuid.uuid4().hex
    i.repo.commit("never builds", files={"Dockerfile": _stuck_dockerfile(marker)})
    owner = i.start("deploy", i.bot, "staging", "--json")
    try:
        _wait(lambda: _step_containers(i, marker), what="the RUN step to run on the engine")

        result = i.run("cancel", i.bot, "staging", "--user", "ULEAD1", "--json")

        out, err = owner.communicate(timeout=60)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.communicate(timeout=30)
    assert result.returncode == 0, result.stderr
    cancelled = json.loads(result.stdout)
    assert (cancelled["state"], cancelled["reason"]) == ("failed", "cancelled by ULEAD1")
    assert cancelled["cancel_requested_by"] == "ULEAD1"
    assert owner.returncode == 1, err
    assert json.loads(out)["deployment_id"] == cancelled["deployment_id"]
    assert json.loads(out)["reason"] == "cancelled by ULEAD1"
    _wait(lambda: not _step_containers(i, marker), what="the RUN step to be gone", timeout=15)

    nothing = i.run("cancel", i.bot, "staging")
    assert nothing.returncode == 1
    assert f"nothing to cancel: no deployment of {i.bot} runs or waits in staging" in (
        nothing.stderr
    )
    assert [(e["actor"], e["outcome"]) for e in i.json("audit") if e["action"] == "cancel"] == [
        ("UDEV", "refused"),
        ("ULEAD1", "ok"),
    ]


def test_serve_starts_when_recovery_cannot_read_a_secret_and_fails_that_deployment(
    installation: Installation,
) -> None:
    i = installation
    i.document["bots"][i.bot]["environments"]["staging"]["env_file"] = "secrets/staging.env"
    i.write_config()
    store = SqlStore(f"sqlite:///{i.path / 'chatops.db'}")
    now = SystemClock().now()
    try:
        with store.uow() as uow:
            orphan = uow.deployments.add(
                Deployment(
                    bot=i.bot,
                    env="staging",
                    kind=Kind.DEPLOY,
                    state=State.DEPLOYING,
                    requested_by="UDEV",
                    requested_at=now,
                    updated_at=now,
                    version=2,
                    owner=f"{socket.gethostname()}:notaboot:1:1",  # a process of another boot
                    heartbeat_at=now,
                )
            )
            uow.commit()
    finally:
        store.dispose()
    served = Served(i.config, i.env)

    served.start()
    try:
        assert httpx.get(f"{served.url}/healthz", timeout=10).status_code == 200
    finally:
        assert served.stop() == 0, served.output()

    [event] = [e for e in i.json("audit") if e["action"] == "recovered"]
    assert event["deployment_id"] == orphan.id
    assert "the previous release was not restored" in event["detail"]
    assert "secrets/staging.env" in event["detail"]
    assert _in_progress(i) is None
