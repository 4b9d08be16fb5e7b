"""A full disk (here: a file-size limit on the chatops process, which the kernel enforces like
a full disk, EFBIG) fails a deployment cleanly: recorded failed with the reason, the previous
release running, no release, tag or image half made, and the next deploy works."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess

from tests.conftest import git
from tests.e2e.conftest import Installation

LIMIT = 1 << 20  # bytes any file the process (and git, its child) writes may reach


def _limited() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def test_a_full_disk_fails_the_deployment_cleanly(installation: Installation) -> None:
    i = installation
    assert i.run("deploy", i.bot, "staging").returncode == 0
    db = i.path / "chatops.db"
    assert db.stat().st_size < LIMIT // 2
    i.repo.commit("big", files={"blob.bin": os.urandom(3 * LIMIT).hex()})
    tags_before = i.repo.remote_tags()
    # the mirror has the commit already: the build context is what overflows (a fetch that
    # overflows fails as cleanly, with git's "unpack-objects failed")
    git("fetch", "-q", "origin", cwd=i.path / "work" / "git" / f"{i.bot}.git")

    failed = subprocess.run(
        i.command("deploy", i.bot, "staging", "--json"),
        capture_output=True,
        text=True,
        env=i.env,
        timeout=300,
        check=False,
        preexec_fn=_limited,
    )

    assert failed.returncode == 1, failed.stdout + failed.stderr
    outcome = json.loads(failed.stdout)
    assert outcome["state"] == "failed" and outcome["reason"], outcome
    assert "archive" in outcome["reason"], outcome["reason"]
    assert "Traceback" not in failed.stderr
    assert i.running_release("staging") == "v1"
    assert [r["version"] for r in i.json("releases", i.bot)] == [1]
    assert i.repo.remote_tags() == tags_before
    builds = i.path / "work" / "builds"
    assert not builds.exists() or list(builds.iterdir()) == []

    again = i.json("deploy", i.bot, "staging")  # with room again: nothing half-made in the way
    assert (again["state"], again["version"]) == ("live", 2), again
