"""CI gates and forge deployments end to end: the CLI and `serve` against the forge stand-in.

A commit whose required check failed is refused before anything is built; an
admin's `--force` passes it, audited; a pending check makes the deploy wait and
it proceeds once green. `serve` reports every deployment to the stand-in: one
forge deployment each, with its sha, environment and final status.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Installation
from tests.e2e.test_monitoring import ServeFactory, _wait, monitored, serve, slack  # noqa: F401
from tests.forge.standin import ForgeStandIn

pytestmark = pytest.mark.slow


@pytest.fixture
def forge() -> Iterator[ForgeStandIn]:
    with ForgeStandIn() as standin:
        yield standin


@pytest.fixture
def gated(monitored: Installation, forge: ForgeStandIn) -> Installation:  # noqa: F811
    i = monitored
    i.document["environments"]["staging"]["checks"] = {
        "required": ["test"],
        "timeout_seconds": 60,
    }
    i.document["environments"]["staging"]["environment_url"] = "https://staging.example/{bot}"
    i.document["bots"][i.bot]["github"] = f"acme/{i.bot}"
    i.write_config()
    i.env.update(
        CHATOPS_GITHUB_API_URL=forge.github_url,
        CHATOPS_GITHUB_TOKEN="ghp-test-token",
        CHATOPS_CI_POLL_SECONDS="0.5",
        CHATOPS_PUBLIC_URL="https://chatops.example",
    )
    return i


def test_red_is_refused_force_passes_pending_waits_and_the_forge_hears_of_each(
    gated: Installation,
    forge: ForgeStandIn,
    serve: ServeFactory,  # noqa: F811
) -> None:
    i = gated
    repo = f"acme/{i.bot}"
    red = i.repo.head()
    forge.check_run(repo, red, "test", "completed", "failure")
    forge.check_run(repo, red, "lint", "completed", "success")
    serve(
        CHATOPS_GITHUB_API_URL=forge.github_url,
        CHATOPS_GITHUB_TOKEN="ghp-test-token",
        CHATOPS_PUBLIC_URL="https://chatops.example",
    )

    refused = i.run("deploy", i.bot, "staging", "--user", "UDEV")
    assert refused.returncode == 1
    assert "required CI checks failed" in refused.stderr and "test (https://" in refused.stderr
    assert i.running_release("staging") is None  # nothing was built or run

    forced = i.json("deploy", i.bot, "staging", "--user", "UADMIN", "--force", "--reason", "fire")
    assert forced["state"] == "live", forced
    [event] = [e for e in i.json("audit") if e["action"] == "checks_overridden"]
    assert event["actor"] == "UADMIN" and "fire" in event["detail"]

    pending = i.repo.commit("second")
    forge.check_run(repo, pending, "test", "in_progress")
    started = i.start("deploy", i.bot, "staging", "--user", "UDEV", "--json")
    time.sleep(2)
    assert started.poll() is None, "it waits while the check runs"
    forge.check_run(repo, pending, "test", "completed", "success")
    _out, err = started.communicate(timeout=120)
    assert started.returncode == 0, err
    assert i.running_release("staging") == "v2"

    def finals() -> dict[str, list[str]] | None:
        by_sha: dict[str, list[str]] = {}
        for d in forge.deployments():
            last = d["statuses"][-1]["state"] if d["statuses"] else "none"
            by_sha.setdefault(d["sha"], []).append(last)
        done = sorted(by_sha.get(red, [])) == ["failure", "inactive"]
        return by_sha if done and by_sha.get(pending) == ["success"] else None

    finals_seen = _wait(finals, timeout=30, what="a forge deployment per deployment, final")
    assert len(forge.deployments()) == 3, finals_seen  # one per chatops deployment
    last = next(d for d in forge.deployments() if d["sha"] == pending)["statuses"][-1]
    assert last["environment_url"] == f"https://staging.example/{i.bot}"
    assert last["log_url"].startswith("https://chatops.example/ui/deployments/")
