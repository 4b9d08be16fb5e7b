"""Staging before prod with real containers: promotion, approval, same image, rollback, locks."""

from __future__ import annotations

import json
import re
import time

from tests.conftest import git
from tests.e2e.conftest import Installation


def _image(i: Installation, env: str) -> str:
    container = i.container(env)
    container.reload()
    return str(container.attrs["Image"])


def test_promote_approve_same_image_then_rollback(installation: Installation) -> None:
    i = installation
    first = i.repo.head()
    assert i.run("deploy", i.bot, "staging").returncode == 0
    pending = i.json("promote", i.bot, "prod", "--user", "UDEV")
    assert pending["state"] == "pending_approval"
    assert i.json("approve", str(pending["deployment_id"]), "--user", "ULEAD1")["state"] == "live"
    second = i.repo.commit("second version")
    assert i.run("deploy", i.bot, "staging").returncode == 0
    logs_before = sorted(p.name for p in (i.path / "work" / "logs" / i.bot).iterdir())

    pending = i.json("promote", i.bot, "--user", "UDEV")  # the default target: prod
    assert (pending["state"], pending["env"], pending["version"]) == ("pending_approval", "prod", 2)
    refused = i.run("approve", str(pending["deployment_id"]), "--user", "UDEV", "--json")
    assert refused.returncode == 1
    assert "cannot approve" in json.loads(refused.stdout)["error"]
    outsider = i.run("approve", str(pending["deployment_id"]), "--user", "UNOBODY")
    assert outsider.returncode == 1
    assert "not an approver" in outsider.stderr
    live = i.json("approve", str(pending["deployment_id"]), "--user", "ULEAD2")

    assert (live["state"], live["version"]) == ("live", 2)
    assert _image(i, "prod") == _image(i, "staging"), "prod runs the very image staging ran"
    assert sorted(p.name for p in (i.path / "work" / "logs" / i.bot).iterdir()) == logs_before
    assert git("rev-parse", f"{i.bot}/prod^{{commit}}", cwd=i.repo.remote) == second
    [v2, v1] = i.json("releases", i.bot)
    assert v2["live_in"] == ["prod", "staging"]
    assert v2["approved_by"] == ["ULEAD2"]
    assert sorted(v1["was_live_in"]) == ["prod", "staging"]

    back = i.json("rollback", i.bot, "prod")

    assert (back["state"], back["version"], back["kind"]) == ("live", 1, "rollback")
    assert i.running_release("prod") == "v1"
    deadline = time.monotonic() + 30
    while i.health("prod") != "healthy" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert i.health("prod") == "healthy"
    assert git("rev-parse", f"{i.bot}/prod^{{commit}}", cwd=i.repo.remote) == first

    again = i.run("rollback", i.bot, "prod")
    assert again.returncode == 1
    assert "no earlier healthy release" in again.stderr


def test_soak_and_deployers_are_enforced_from_the_cli(installation: Installation) -> None:
    i = installation
    i.document["environments"]["prod"]["soak_seconds"] = 3600
    i.write_config()
    assert i.run("deploy", i.bot, "staging").returncode == 0

    early = i.run("promote", i.bot, "prod", "--user", "UDEV")
    assert early.returncode == 1
    assert "needs 1h of soak" in early.stderr
    # a moment after going live: just under or (rounded up) exactly the hour is left
    assert re.search(r"try again in (59m \d+s|1h)\n", early.stderr), early.stderr
    stranger = i.run("promote", i.bot, "prod", "--user", "UNOBODY")
    assert stranger.returncode == 1
    assert "may not deploy to prod" in stranger.stderr
    refusals = [e for e in i.json("audit") if e["outcome"] == "refused"]
    assert [e["actor"] for e in refusals] == ["UNOBODY", "UDEV"]


def test_a_lock_holds_until_unlocked_and_an_admin_may_force(installation: Installation) -> None:
    i = installation
    locked = i.json("lock", i.bot, "staging", "--reason", "db migration", "--for", "2h")
    assert (locked["held_by"], locked["reason"]) == ("UDEV", "db migration")

    refused = i.run("deploy", i.bot, "staging", "--user", "ULEAD1")
    assert refused.returncode == 1
    assert "locked by UDEV until" in refused.stderr and "db migration" in refused.stderr
    not_admin = i.run("deploy", i.bot, "staging", "--user", "ULEAD1", "--force", "--reason", "now")
    assert not_admin.returncode == 1
    assert "only admins may force" in not_admin.stderr
    forced = i.json(
        "deploy", i.bot, "staging", "--user", "UADMIN", "--force", "--reason", "outage fix"
    )
    assert forced["state"] == "live"
    assert any("forced by admin: outage fix" in e["detail"] for e in i.json("audit"))

    assert i.run("unlock", i.bot, "staging", "--user", "ULEAD1").returncode == 0
    assert i.run("deploy", i.bot, "staging", "--user", "ULEAD1").returncode == 0
    [row] = i.json("status", i.bot)
    assert row["lock"] is None


def test_a_rollback_holds_automatic_deploys_until_a_deploy_on_purpose(
    installation: Installation,
) -> None:
    i = installation
    i.document["environments"]["staging"]["auto_deploy"] = "main"  # what the hold is for
    i.write_config()
    assert i.run("deploy", i.bot, "staging").returncode == 0
    i.repo.commit("second")
    assert i.run("deploy", i.bot, "staging").returncode == 0
    assert i.json("rollback", i.bot, "staging")["version"] == 1

    [row] = i.json("status", i.bot)
    assert row["lock"] is None, "a rollback's hold is not a person's lock"
    assert "rolled back to v1" in row["hold"]["reason"]

    assert i.json("deploy", i.bot, "staging")["version"] == 2
    [row] = i.json("status", i.bot)
    assert row["lock"] is None and row["hold"] is None
