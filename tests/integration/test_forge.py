"""The forge adapter against the GitHub/GitLab REST stand-in: CI results read and parsed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chatops.adapters.forge import ForgeClient
from chatops.domain.catalog import Bot
from chatops.domain.ci import CiResult, CiState
from chatops.errors import ConfigError, ForgeError
from tests.forge.standin import ForgeStandIn

SHA = "c" * 40
TOKEN = "ghp_s3cret-forge-token"


@pytest.fixture
def forge() -> Iterator[ForgeStandIn]:
    with ForgeStandIn() as standin:
        yield standin


def client(forge: ForgeStandIn, **kwargs: float) -> ForgeClient:
    return ForgeClient(
        github_url=forge.github_url,
        github_token=TOKEN,
        gitlab_url=forge.gitlab_url,
        gitlab_token="glpat-s3cret",
        **kwargs,
    )


GITHUB_BOT = Bot(name="mybot", repo="/srv/mybot", github="acme/mybot")
GITLAB_BOT = Bot(name="mybot", repo="/srv/mybot", gitlab="group/sub/mybot")


def test_github_check_runs_and_statuses_are_read_with_the_token(forge: ForgeStandIn) -> None:
    forge.check_run("acme/mybot", SHA, "test", "completed", "success")
    forge.check_run("acme/mybot", SHA, "lint", "in_progress")
    forge.check_run("acme/mybot", SHA, "e2e", "completed", "timed_out")
    forge.check_run("acme/mybot", SHA, "docs", "completed", "skipped")
    forge.commit_status("acme/mybot", SHA, "ci/jenkins", "error")
    forge.commit_status("acme/mybot", SHA, "coverage", "pending")
    results = client(forge).results(GITHUB_BOT, SHA)
    assert {(r.name, r.state) for r in results} == {
        ("test", CiState.SUCCESS),
        ("lint", CiState.PENDING),
        ("e2e", CiState.FAILURE),
        ("docs", CiState.SUCCESS),
        ("ci/jenkins", CiState.FAILURE),
        ("coverage", CiState.PENDING),
    }
    assert CiResult("e2e", CiState.FAILURE, "https://github.example/acme/mybot/runs/e2e") in results
    [runs, status] = forge.requests()
    assert runs.path == f"/repos/acme/mybot/commits/{SHA}/check-runs"
    assert status.path == f"/repos/acme/mybot/commits/{SHA}/status"
    assert runs.headers["Authorization"] == f"Bearer {TOKEN}"
    assert runs.headers["Accept"] == "application/vnd.github+json"


def test_gitlab_jobs_of_the_commits_pipeline_are_read_with_the_project_path_encoded(
    forge: ForgeStandIn,
) -> None:
    forge.gitlab_job("group/sub/mybot", SHA, "test", "success")
    forge.gitlab_job("group/sub/mybot", SHA, "lint", "running")
    forge.gitlab_job("group/sub/mybot", SHA, "flaky", "failed", allow_failure=True)
    forge.gitlab_job("group/sub/mybot", SHA, "build", "canceled")
    forge.gitlab_job("group/sub/mybot", "f" * 40, "test", "failed")  # another commit's pipeline

    results = client(forge).results(GITLAB_BOT, SHA)

    assert {(r.name, r.state) for r in results} == {
        ("test", CiState.SUCCESS),
        ("lint", CiState.PENDING),
        ("flaky", CiState.SUCCESS),
        ("build", CiState.FAILURE),
    }
    assert ("test", "https://gitlab.example/group/sub/mybot/-/jobs/test") in {
        (r.name, r.url) for r in results
    }
    [pipelines, jobs] = forge.requests()
    assert pipelines.path == "/api/v4/projects/group%2Fsub%2Fmybot/pipelines"
    assert (pipelines.query["sha"], pipelines.query["scope"]) == (SHA, "branches")
    assert jobs.path.startswith("/api/v4/projects/group%2Fsub%2Fmybot/pipelines/")
    assert jobs.path.endswith("/jobs")
    assert pipelines.headers["Private-Token"] == jobs.headers["Private-Token"] == "glpat-s3cret"


def test_a_commit_without_a_gitlab_pipeline_has_no_results_yet(forge: ForgeStandIn) -> None:
    assert client(forge).results(GITLAB_BOT, SHA) == []
    assert len(forge.requests()) == 1  # no pipeline: no jobs asked for


def test_an_outage_is_a_forge_error_that_never_shows_the_token(forge: ForgeStandIn) -> None:
    forge.fail(1)
    with pytest.raises(ForgeError) as caught:
        client(forge).results(GITHUB_BOT, SHA)
    assert "HTTP 502" in str(caught.value) and TOKEN not in str(caught.value)
    down = ForgeClient(
        github_url="http://127.0.0.1:9", github_token=TOKEN, gitlab_url="x", gitlab_token=None
    )
    with pytest.raises(ForgeError, match="GitHub is unreachable") as caught:
        down.results(GITHUB_BOT, SHA)
    assert TOKEN not in str(caught.value)


def test_a_bot_without_a_forge_says_what_to_add(forge: ForgeStandIn) -> None:
    with pytest.raises(ConfigError, match="add `github: owner/name`"):
        client(forge).results(Bot(name="mybot", repo="/srv/mybot"), SHA)


def test_a_gitlab_pipeline_without_a_usable_id_is_a_forge_error(
    forge: ForgeStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    for hostile in ([{"id": "../../projects"}], [{"status": "success"}], [{"id": None}]):
        monkeypatch.setattr(forge, "_gitlab_ci", lambda path, query, h=hostile: (200, h))
        with pytest.raises(ForgeError, match="a pipeline without an id"):
            client(forge).results(GITLAB_BOT, SHA)
    assert [r.path.endswith("/pipelines") for r in forge.requests()] == [True] * 3  # no jobs asked
