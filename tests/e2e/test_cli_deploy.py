"""The spine, end to end through the CLI: git → image → registry → container → release record."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import git
from tests.e2e.conftest import Installation

SLOW_BUILD = 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sleep", "8"]\n'
# still building whenever it is looked at, however slowly (the process is killed mid-build)
STUCK_BUILD = SLOW_BUILD.replace('"sleep", "8"', '"sleep", "3600"')


def _wait(predicate, timeout: float = 60, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_deploy_tags_builds_pushes_runs_and_records(installation: Installation) -> None:
    i = installation
    head = i.repo.head()

    result = i.run("deploy", i.bot, "staging", "--user", "UDEV")

    assert result.returncode == 0, result.stderr
    tag = git("cat-file", "-p", f"refs/tags/{i.bot}/v1", cwd=i.repo.remote)
    assert tag.startswith(f"object {head}\ntype commit\ntag {i.bot}/v1\n"), (
        "an annotated tag on the commit"
    )
    assert "UDEV" in tag and "deployment #1" in tag
    labels = i.registry_labels("v1")
    assert labels["org.opencontainers.image.revision"] == head
    assert labels["org.opencontainers.image.version"] == "v1"
    assert labels["org.opencontainers.image.source"] == str(i.repo.remote)
    assert i.running_release("staging") == "v1"
    assert i.health("staging") == "healthy"
    [release] = i.json("releases", i.bot)
    assert release["version"] == 1
    assert release["tag"] == f"{i.bot}/v1"
    assert release["commit"] == head
    assert release["image"] == f"{i.registry}/{i.bot}:v1"
    assert release["digest"].startswith("sha256:") and release["digest"] != release["image_id"]
    assert release["created_by"] == "UDEV"
    assert release["live_in"] == ["staging"]
    [status] = i.json("status", i.bot)
    assert (status["env"], status["version"], status["state"], status["health"]) == (
        "staging",
        1,
        "live",
        "healthy",
    )
    assert (i.path / "work" / "logs" / i.bot / "v1-deployment-1.log").read_text().count(
        "Step "
    ) >= 5


def test_a_new_commit_replaces_the_release_and_moves_the_env_tag(
    installation: Installation,
) -> None:
    i = installation
    assert i.run("deploy", i.bot, "staging").returncode == 0
    second = i.repo.commit("second version")

    result = i.json("deploy", i.bot, "staging")

    assert (result["state"], result["version"]) == ("live", 2)
    assert i.running_release("staging") == "v2"
    assert git("rev-parse", f"{i.bot}/staging^{{commit}}", cwd=i.repo.remote) == second
    assert [r["version"] for r in i.json("releases", i.bot)] == [2, 1]


def test_a_failing_health_check_fails_the_deployment_and_keeps_the_previous_release(
    installation: Installation,
) -> None:
    i = installation
    first = i.repo.head()
    assert i.run("deploy", i.bot, "staging").returncode == 0
    i.repo.commit("broken", healthy=False)

    result = i.run("deploy", i.bot, "staging", "--json")

    assert result.returncode == 1
    outcome = json.loads(result.stdout)
    assert outcome["state"] == "failed"
    assert "v2 failed its health check" in outcome["reason"]
    assert "v1 is running again" in outcome["reason"]
    assert "failed its health check" in result.stderr
    assert i.running_release("staging") == "v1"
    _wait(lambda: i.health("staging") == "healthy", what="v1 healthy again")
    assert git("rev-parse", f"{i.bot}/staging^{{commit}}", cwd=i.repo.remote) == first


def test_the_same_commit_twice_is_one_release_and_one_build(installation: Installation) -> None:
    i = installation
    assert i.run("deploy", i.bot, "staging").returncode == 0
    again = i.json("deploy", i.bot, "staging")

    assert (again["state"], again["version"]) == ("live", 1)
    assert len(i.json("releases", i.bot)) == 1
    builds = list((i.path / "work" / "logs" / i.bot).glob("*.log"))
    assert [b.name for b in builds] == ["v1-deployment-1.log"]
    assert sorted(t for t in i.repo.remote_tags() if t.startswith(f"{i.bot}/")) == [
        f"{i.bot}/staging",
        f"{i.bot}/v1",
    ]


def _nothing_left(i: Installation) -> None:
    assert i.json("releases", i.bot) == []
    assert not [t for t in i.repo.remote_tags() if t.startswith(f"{i.bot}/v")]
    assert i.docker.containers.list(all=True, filters={"label": f"chatops.bot={i.bot}"}) == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("deploy", "ghost", "staging"), 1, "unknown bot 'ghost'"),
        (("deploy", "{bot}", "qa"), 1, "unknown environment 'qa'"),
        (
            ("deploy", "{bot}", "staging", "--ref", "--upload-pack=touch pwned"),
            2,
            "not a valid git ref",
        ),
        (("deploy", "{bot}", "staging", "--ref", "a..b"), 2, "contains '..'"),
        (("deploy", "{bot}", "staging", "--ref", "../x"), 2, "not a valid git ref"),
        (("deploy", "{bot}", "prod"), 1, "only runs releases promoted from staging"),
    ],
)
def test_bad_requests_are_refused_recorded_and_leave_nothing(
    installation: Installation, args: tuple[str, ...], code: int, message: str
) -> None:
    i = installation
    argv = [a.format(bot=i.bot) for a in args]

    result = i.run(*argv)

    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert not Path("pwned").exists() and not (i.path / "pwned").exists()
    [event] = i.json("audit")
    assert (event["action"], event["outcome"]) == ("deploy", "refused")
    assert message in event["detail"]
    _nothing_left(i)


@pytest.mark.parametrize(
    "problem", ["missing ref", "bad dockerfile", "registry down", "unreachable remote"]
)
def test_failures_after_starting_end_failed_with_the_reason_and_leave_nothing(
    installation: Installation, problem: str
) -> None:
    i = installation
    args = ["deploy", i.bot, "staging"]
    expected = {
        "missing ref": "is not a branch, tag or commit",
        "bad dockerfile": "build",
        "registry down": "127.0.0.1:9",
        "unreachable remote": "nowhere.git",
    }[problem]
    if problem == "missing ref":
        args += ["--ref", "no-such-branch"]
    elif problem == "bad dockerfile":
        i.repo.commit(
            "breaks the build", files={"Dockerfile": "FROM scratch\nCOPY no-such-file /x\n"}
        )
    elif problem == "registry down":
        i.document["registry"] = "127.0.0.1:9"
        i.write_config()
    else:
        i.document["bots"][i.bot]["repo"] = str(i.path / "nowhere.git")
        i.write_config()

    result = i.run(*args, "--json")

    assert result.returncode == 1, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["state"] == "failed"
    assert expected in outcome["reason"]
    [deployment_event, *_] = [e for e in i.json("audit") if e["action"] == "failed"]
    assert deployment_event["outcome"] == "failed"
    _nothing_left(i)
    assert i.json("status", i.bot) == []


def _race(i: Installation) -> None:
    processes = [i.start("deploy", i.bot, "staging", "--json") for _ in range(2)]
    results = [(*p.communicate(timeout=300), p.returncode) for p in processes]
    codes = sorted(code for _, _, code in results)
    assert codes == [0, 1], results
    [(winner_out, _, _)] = [r for r in results if r[2] == 0]
    [(_, loser_err, _)] = [r for r in results if r[2] == 1]
    winner = json.loads(winner_out)
    assert winner["state"] == "live"
    assert f"#{winner['deployment_id']}" in loser_err and "busy" in loser_err
    assert len(i.json("releases", i.bot)) == 1


def test_two_deploys_at_once_on_sqlite_one_runs_one_is_refused(installation: Installation) -> None:
    _race(installation)


def test_two_deploys_at_once_on_postgresql_one_runs_one_is_refused(
    installation: Installation, postgres_url: str
) -> None:
    installation.document["database_url"] = postgres_url
    installation.write_config()
    assert installation.run("db", "upgrade").returncode == 0
    _race(installation)


def _in_progress(i: Installation) -> dict | None:  # type: ignore[type-arg]
    rows = i.json("status", i.bot)
    for row in rows:
        if row["env"] == "staging" and row["in_progress"]:
            return row["in_progress"]  # type: ignore[no-any-return]
    return None


def test_a_deploy_killed_mid_build_is_failed_by_the_next_start_and_the_old_release_keeps_running(
    installation: Installation,
) -> None:
    i = installation
    assert i.run("deploy", i.bot, "staging").returncode == 0
    i.repo.commit("never done building", files={"Dockerfile": STUCK_BUILD})
    process = i.start("deploy", i.bot, "staging")
    try:
        running = _wait(
            lambda: (d := _in_progress(i)) and d["state"] == "building" and d, what="building"
        )
        # a living owner's deployment is left alone by another chatops start
        assert _in_progress(i)["deployment_id"] == running["deployment_id"]  # type: ignore[index]
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)

    status = i.json("status", i.bot)

    assert [row["in_progress"] for row in status] == [None]
    [failed] = [e for e in i.json("audit") if e["action"] == "recovered"]
    assert failed["deployment_id"] == running["deployment_id"]
    assert "interrupted" in failed["detail"] and "building" in failed["detail"]
    assert i.running_release("staging") == "v1"
    assert i.health("staging") == "healthy"


def test_a_living_deploy_is_not_failed_by_other_starts(installation: Installation) -> None:
    i = installation
    i.repo.commit(
        "slow to build",
        files={"Dockerfile": SLOW_BUILD + 'CMD ["/bin/busybox", "sleep", "3600"]\n'},
    )
    i.document["bots"][i.bot]["health"] = {"none": True}
    i.write_config()
    process = i.start("deploy", i.bot, "staging")
    _wait(lambda: (d := _in_progress(i)) and d["state"] == "building", what="building")
    for _ in range(3):
        assert i.run("status").returncode == 0
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert i.json("status", i.bot)[0]["state"] == "live"
    assert not [e for e in i.json("audit") if e["action"] == "recovered"]


def test_subprocess_cli_is_the_installed_entry_point(installation: Installation) -> None:
    script = Path(sys.executable).parent / "chatops"
    result = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, check=False, env=installation.env
    )
    assert result.returncode == 0
    for command in (
        "deploy",
        "promote",
        "rollback",
        "releases",
        "status",
        "serve",
        "console",
        "demo",
        "db",
    ):
        assert command in result.stdout


def test_json_logs_name_the_deployment_and_audit_exports_as_json(
    installation: Installation,
) -> None:
    i = installation
    i.env["CHATOPS_LOG_FORMAT"] = "json"

    result = i.run("--verbose", "deploy", i.bot, "staging", "--json")

    assert result.returncode == 0, result.stderr
    logged = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert logged, result.stderr[-2000:]
    about = [line for line in logged if line.get("deployment_id") == 1]
    assert about and all({"time", "level", "logger", "message"} <= set(line) for line in logged)
    events = i.json("audit")
    assert ("deploy", "ok", 1) in [(e["action"], e["outcome"], e["deployment_id"]) for e in events]
    assert events[0]["action"] == "live" and events[0]["at"] >= events[-1]["at"]
    i.env["CHATOPS_LOG_FORMAT"] = "xml"
    refused = i.run("status")
    assert refused.returncode == 2 and "CHATOPS_LOG_FORMAT" in refused.stderr
