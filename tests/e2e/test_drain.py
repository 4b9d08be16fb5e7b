"""SIGTERM on a real `chatops serve`: it takes no new work, lets the running deployment
finish within the drain, and leaves one that outlasts the drain to the next start."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from chatops.entrypoints.drain import SHUTTING_DOWN
from chatops.entrypoints.sample import DOCKERFILE
from tests.e2e.conftest import Installation
from tests.e2e.serving import Served
from tests.e2e.test_git_webhook import SECRET, _deployments, _push

FORM = "application/x-www-form-urlencoded"
SLASH = urlencode({"command": "/deploy", "text": "mybot staging", "user_id": "UDEV"}).encode()


def _slow(seconds: int) -> str:
    return DOCKERFILE.replace("COPY www /www", f"RUN sleep {seconds}\nCOPY www /www")


@pytest.fixture
def served(installation: Installation) -> Iterator[Served]:
    installation.document["environments"]["staging"]["auto_deploy"] = "main"
    installation.write_config()
    server = Served(installation.config, {**installation.env, "CHATOPS_GIT_WEBHOOK_SECRET": SECRET})
    try:
        yield server
    finally:
        server.stop(signal.SIGKILL)


def _building(installation: Installation, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        history = _deployments(installation)
        if history and history[0].state == "building":
            return
        time.sleep(0.1)
    raise AssertionError(f"no deployment started building: {_deployments(installation)}")


def _sigterm_while_building(installation: Installation, served: Served, build_seconds: int) -> None:
    sha = installation.repo.commit("slow", files={"Dockerfile": _slow(build_seconds)})
    served.start()
    body, headers = _push(installation, sha)
    assert served.post("/webhooks/git", body, headers).status_code == 202
    _building(installation)
    assert served.process is not None
    os.kill(served.process.pid, signal.SIGTERM)  # as systemd, Docker and Kubernetes stop it


def test_sigterm_refuses_new_work_and_lets_the_running_deployment_finish(
    installation: Installation, served: Served
) -> None:
    _sigterm_while_building(installation, served, build_seconds=6)
    started = time.monotonic()

    slash = served.post(
        "/slack/events", SLASH, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert (slash.status_code, slash.json()["text"]) == (200, f":hourglass: {SHUTTING_DOWN}.")
    body, headers = _push(installation, installation.repo.commit("while draining"))
    refused = served.post("/webhooks/git", body, headers)
    assert (refused.status_code, refused.headers["retry-after"]) == (503, "60")
    assert httpx.get(f"{served.url}/readyz", timeout=5).status_code == 503
    assert httpx.get(f"{served.url}/healthz", timeout=5).status_code == 200

    assert served.process is not None
    assert served.process.wait(timeout=60) == 0, served.output()[-3000:]
    assert time.monotonic() - started < 45  # CHATOPS_DRAIN_SECONDS' default
    history = _deployments(installation)
    assert [(d.state, d.version) for d in history] == [("live", 1)], served.output()[-3000:]
    assert installation.running_release("staging") == "v1"


def test_a_deployment_that_outlasts_the_drain_is_left_to_the_next_start(
    installation: Installation, served: Served
) -> None:
    served.env["CHATOPS_DRAIN_SECONDS"] = "10"  # of which 0 s for deployments
    # (a build far longer than the drain: stopping the jobs may take seconds of it on a busy
    # machine, and a 10 s build could end meanwhile)
    _sigterm_while_building(installation, served, build_seconds=30)
    started = time.monotonic()

    assert served.process is not None
    assert served.process.wait(timeout=60) == 0, served.output()[-3000:]
    assert time.monotonic() - started < 15
    assert "still running after the drain" in served.output()
    assert [d.state for d in _deployments(installation)] == ["building"]

    served.env.pop("CHATOPS_DRAIN_SECONDS")
    served.start()  # recovery fails what the stopped process left
    [left] = _deployments(installation)
    assert left.state == "failed", left
    assert served.stop() == 0
