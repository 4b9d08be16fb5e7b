"""`chatops serve` killed or stopped in the middle of a deployment, as a real process.

SIGKILL while building, deploying or verifying: the next start fails the deployment, puts
the release that was live back on the engine, records it and tells the channel. SIGTERM:
serve stops taking new work (`/readyz` answers 503), lets the running deployment finish
within CHATOPS_DRAIN_SECONDS and exits 0; what is still running after the grace is left
to the next start's recovery.
"""

from __future__ import annotations

import os
import signal
import time
import uuid

import httpx
import pytest

from chatops.domain.deployment import State
from tests.e2e.faults import (
    SLOW_TO_STOP,
    Site,
    never_builds,
    site,
    slow_start,
    until,
)

__all__ = ["site"]

pytestmark = pytest.mark.slow

STOP_TIMEOUT = 10  # seconds the Docker runtime gives a container to stop (then SIGKILL)


def _step_containers(s: Site, marker: str) -> list[str]:
    return [c["Id"] for c in s.i.docker.api.containers(all=True) if marker in c["Command"]]


@pytest.mark.parametrize("state", [State.BUILDING, State.DEPLOYING, State.VERIFYING])
def test_serve_killed_mid_deployment_is_recovered_by_the_next_start(site: Site, state: str) -> None:
    s, i = site, site.i
    marker = uuid.uuid4().hex
    if state == State.DEPLOYING:  # v1 takes the engine's stop timeout to stop
        i.repo.commit("v1 slow to stop", files={"Dockerfile": SLOW_TO_STOP})
    first = i.run("deploy", i.bot, "staging")
    assert first.returncode == 0, first.stderr
    second = {
        State.BUILDING: {"Dockerfile": never_builds(marker)},
        State.DEPLOYING: {},
        State.VERIFYING: {"Dockerfile": slow_start(3600)},
    }[state]
    i.repo.commit("v2", files=second)
    s.served.start()
    try:
        s.deploy(f"{i.bot} staging")
        interrupted = s.reach(state)
        if state == State.BUILDING:
            until(lambda: _step_containers(s, marker), "the RUN step to run on the engine")

        reached = time.monotonic()
        s.served.kill()
        if state == State.DEPLOYING:
            # the engine either finishes stopping v1 (10 s) or drops the stop with its caller:
            # recovery comes after that settled, as a restart after a crash does
            time.sleep(max(0.0, reached + STOP_TIMEOUT + 1 - time.monotonic()))
        assert s.deployment(interrupted.id or 0).state == state  # nobody finished it meanwhile
        s.served.start()

        ended = s.deployment(interrupted.id or 0)
        assert ended.state == State.FAILED
        assert (ended.reason or "").startswith("interrupted: the chatops process running it ("), (
            ended.reason
        )
        assert f"while it was {state}" in (ended.reason or "")
        assert s.live_version() == 1
        s.assert_settled()
        assert s.running() == {f"{i.bot}-staging": "v1"}
        s.told(interrupted.id or 0, "failed")
        recovered = [e for e in s.audit() if e["action"] == "recovered"]
        assert [(e["deployment_id"], e["outcome"]) for e in recovered] == [
            (interrupted.id, "failed")
        ]
        assert s.served.stop() == 0, s.served.output()
    finally:
        for container in _step_containers(s, marker):
            i.docker.api.remove_container(container, force=True)


def test_sigterm_lets_the_running_deployment_finish_and_takes_no_new_work(site: Site) -> None:
    s, i = site, site.i
    i.repo.commit("healthy after 6s", files={"Dockerfile": slow_start(6)})
    s.served.start()
    s.deploy(f"{i.bot} staging")
    running = s.reach(State.VERIFYING)
    assert s.served.process is not None

    os.kill(s.served.process.pid, signal.SIGTERM)  # as systemd, Docker and Kubernetes stop it

    def draining() -> bool:
        return httpx.get(f"{s.served.url}/readyz", timeout=1).status_code == 503

    until(draining, "serve to stop taking new work", timeout=5)
    assert s.deployment(running.id or 0).state == State.VERIFYING  # still running, not dropped
    assert s.served.process.wait(timeout=60) == 0, s.served.output()
    assert s.deployment(running.id or 0).state == State.LIVE
    s.assert_settled()
    assert s.running() == {f"{i.bot}-staging": "v1"}
    s.told(running.id or 0, "live", timeout=1)  # delivered before serve exited


def test_sigterm_past_the_grace_leaves_the_deployment_to_the_next_start(site: Site) -> None:
    """Slack is down (500) all the while and rate-limits (429) when it is back: the channel
    is told late, in one message, not never."""
    s, i = site, site.i
    i.repo.commit("never healthy", files={"Dockerfile": slow_start(3600)})
    s.served.env["CHATOPS_DRAIN_SECONDS"] = "10"  # the least: no time for deployments
    s.slack.fail_always("chat.postMessage", "internal_error", status=500)
    s.slack.fail_always("chat.update", "internal_error", status=500)
    s.served.start()
    s.deploy(f"{i.bot} staging")
    running = s.reach(State.VERIFYING)

    started = time.monotonic()
    assert s.served.stop() == 0, s.served.output()
    assert time.monotonic() - started < 20
    assert "still running" in s.served.output()
    assert s.deployment(running.id or 0).state == State.VERIFYING
    assert s.slack.calls("chat.postMessage") and s.slack.messages() == {}

    s.slack.recover()
    for _ in range(2):
        s.slack.fail_next("chat.postMessage", "ratelimited", status=429, retry_after=1)
    s.served.start()
    ended = s.deployment(running.id or 0)
    assert ended.state == State.FAILED
    assert "interrupted" in (ended.reason or "")
    s.assert_settled()
    assert s.running() == {}  # nothing was live before it
    s.told(running.id or 0, "failed")
    assert len(s.slack.messages()) == 1
    assert s.served.stop() == 0
