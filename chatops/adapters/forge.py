"""GitHub and GitLab over REST: a commit's CI results (ports.CiChecks), and deployments.

GitHub: check runs (`GET /repos/{o}/{r}/commits/{sha}/check-runs`) and the
combined commit status (`GET /repos/{o}/{r}/commits/{sha}/status`). GitLab: the
commit's newest branch pipeline (`GET /projects/{id}/pipelines?sha=…&scope=branches`)
and its jobs (`GET /projects/{id}/pipelines/{pipeline_id}/jobs`), a check per job.
Deployments: GitHub's `POST /repos/{o}/{r}/deployments` and
`…/deployments/{id}/statuses`; GitLab's `POST /projects/{id}/deployments` and
`PUT /projects/{id}/deployments/{deployment_id}`. Answers are parsed here into
`CiResult`s; a forge that does not answer, or answers with an error, raises
ForgeError. Tokens are sent as headers only and never appear in an error.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from chatops.domain.catalog import Bot
from chatops.domain.ci import CiResult, CiState
from chatops.errors import ConfigError, ForgeError

__all__ = ["ForgeClient", "github_result", "gitlab_result"]

_MAX_BODY = 4 << 20
_PER_PAGE = 100

_GITHUB_DONE_OK = {"success", "neutral", "skipped"}
_GITLAB_OK = {"success", "skipped"}
_GITLAB_FAILED = {"failed", "canceled"}
# GitHub's deployment states → GitLab's deployment statuses
_GITLAB_STATES = {"in_progress": "running", "success": "success", "failure": "failed"}


def github_result(run: dict[str, Any]) -> CiResult:
    """A check run: pending until `completed`; then green on success, neutral or skipped."""
    if run.get("status") != "completed":
        state = CiState.PENDING
    elif run.get("conclusion") in _GITHUB_DONE_OK:
        state = CiState.SUCCESS
    else:
        state = CiState.FAILURE
    return CiResult(str(run.get("name", "")), state, run.get("html_url") or None)


def github_status(status: dict[str, Any]) -> CiResult:
    """A commit status: success, pending, or failure/error."""
    state = {"success": CiState.SUCCESS, "pending": CiState.PENDING}.get(
        str(status.get("state")), CiState.FAILURE
    )
    return CiResult(str(status.get("context", "")), state, status.get("target_url") or None)


def gitlab_result(job: dict[str, Any]) -> CiResult:
    """A job of a GitLab pipeline; a failure allowed to fail counts as green."""
    raw = str(job.get("status"))
    if raw in _GITLAB_OK or (raw in _GITLAB_FAILED and job.get("allow_failure")):
        state = CiState.SUCCESS
    elif raw in _GITLAB_FAILED:
        state = CiState.FAILURE
    else:  # created, waiting_for_resource, preparing, pending, running, manual, scheduled
        state = CiState.PENDING
    return CiResult(str(job.get("name", "")), state, job.get("web_url") or None)


class ForgeClient:
    """Reads CI results of a bot's commit from its `github:` or `gitlab:` project."""

    def __init__(
        self,
        *,
        github_url: str,
        github_token: str | None,
        gitlab_url: str,
        gitlab_token: str | None,
        timeout: float = 10.0,
    ) -> None:
        self._github = github_url.rstrip("/")
        self._github_token = github_token
        self._gitlab = gitlab_url.rstrip("/")
        self._gitlab_token = gitlab_token
        self._timeout = timeout
        self._opener = urllib.request.build_opener()

    def results(self, bot: Bot, sha: str) -> list[CiResult]:
        """Every CI result the forge reports for `sha`.

        Raises:
            ConfigError: the bot names no forge.
            ForgeError: the forge did not answer, or refused.
        """
        if bot.github:
            base = f"{self._github}/repos/{bot.github}/commits/{sha}"
            runs = self._get_json(f"{base}/check-runs?per_page={_PER_PAGE}", github=True)
            combined = self._get_json(f"{base}/status?per_page={_PER_PAGE}", github=True)
            return [
                *(github_result(r) for r in _list(runs, "check_runs")),
                *(github_status(s) for s in _list(combined, "statuses")),
            ]
        if bot.gitlab:
            base = f"{self._gitlab}/projects/{urllib.parse.quote(bot.gitlab, safe='')}"
            # branch pipelines only: the tags chatops pushes start pipelines of their own
            newest = f"{base}/pipelines?sha={sha}&scope=branches&order_by=id&sort=desc&per_page=1"
            pipelines = self._gitlab_list(newest)
            if not pipelines or not isinstance(pipelines[0], dict):
                return []  # no pipeline yet: every required check is still to come
            pipeline = pipelines[0].get("id")
            if not isinstance(pipeline, int):
                raise ForgeError(f"GitLab answered {newest} with a pipeline without an id")
            jobs = self._gitlab_list(f"{base}/pipelines/{pipeline}/jobs?per_page={_PER_PAGE}")
            return [gitlab_result(j) for j in jobs if isinstance(j, dict)]
        raise ConfigError(
            f"bot {bot.name} has no `github:` or `gitlab:`, so its CI checks cannot be read",
            hint=f"add `github: owner/name` or `gitlab: group/name` under bots.{bot.name}",
        )

    def _gitlab_list(self, url: str) -> list[Any]:
        found = self._get_json(url, github=False)
        if not isinstance(found, list):
            raise ForgeError(f"GitLab answered {url} with something other than a list")
        return found

    # ── deployments (DESIGN §10) ──────────────────────────────────────────────

    def create_deployment(
        self,
        forge: str,
        project: str,
        *,
        sha: str,
        ref: str,
        environment: str,
        production: bool,
        description: str,
        state: str,
    ) -> str:
        """Create the forge's deployment of `sha` in `environment`; its id.

        Raises:
            ForgeError: the forge did not answer, or refused.
        """
        if forge == "github":
            answer = self._call(
                "POST",
                f"{self._github}/repos/{project}/deployments",
                {
                    "ref": sha,
                    "environment": environment,
                    "production_environment": production,
                    "transient_environment": False,
                    "auto_merge": False,
                    "required_contexts": [],  # chatops gates on CI itself
                    "description": description[:140],
                },
                github=True,
            )
        else:
            answer = self._call(
                "POST",
                f"{self._gitlab}/projects/{urllib.parse.quote(project, safe='')}/deployments",
                {
                    "environment": environment,
                    "sha": sha,
                    "ref": ref,
                    "tag": False,
                    "status": _GITLAB_STATES.get(state, "running"),
                },
                github=False,
            )
        if not isinstance(answer, dict) or "id" not in answer:
            raise ForgeError(f"{forge} answered the new deployment without an id")
        return str(answer["id"])

    def deployment_status(
        self,
        forge: str,
        project: str,
        deployment_id: str,
        *,
        state: str,
        log_url: str | None,
        environment_url: str | None,
        description: str,
    ) -> None:
        """Move the forge's deployment to `state` (GitHub's names: in_progress, success,
        failure, inactive); GitLab has no `inactive`, so that is not sent there.

        Raises:
            ForgeError: the forge did not answer, or refused.
        """
        if forge == "github":
            body: dict[str, Any] = {
                "state": state,
                "description": description[:140],
                "auto_inactive": False,  # chatops says which one is inactive itself
            }
            if log_url:
                body["log_url"] = log_url
            if environment_url:
                body["environment_url"] = environment_url
            url = f"{self._github}/repos/{project}/deployments/{deployment_id}/statuses"
            self._call("POST", url, body, github=True)
            return
        status = _GITLAB_STATES.get(state)
        if status is None:
            return
        quoted = urllib.parse.quote(project, safe="")
        url = f"{self._gitlab}/projects/{quoted}/deployments/{deployment_id}"
        self._call("PUT", url, {"status": status}, github=False)

    def _get_json(self, url: str, *, github: bool) -> Any:
        return self._call("GET", url, None, github=github)

    def _call(self, method: str, url: str, body: dict[str, Any] | None, *, github: bool) -> Any:
        headers = {"User-Agent": "chatops", "Accept": "application/json"}
        token = self._github_token if github else self._gitlab_token
        if github:
            headers["Accept"] = "application/vnd.github+json"
            headers["X-GitHub-Api-Version"] = "2022-11-28"
            if token:
                headers["Authorization"] = f"Bearer {token}"
        elif token:
            headers["PRIVATE-TOKEN"] = token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        forge = "GitHub" if github else "GitLab"
        shown = url.split("?", 1)[0]
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                raw = response.read(_MAX_BODY + 1)
        except urllib.error.HTTPError as exc:
            exc.close()
            raise ForgeError(f"{forge} answered {method} {shown} with HTTP {exc.code}") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise ForgeError(f"{forge} is unreachable ({method} {shown}): {reason}") from None
        if len(raw) > _MAX_BODY:
            raise ForgeError(f"{forge}'s answer to {method} {shown} is too large")
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise ForgeError(f"{forge}'s answer to {method} {shown} is not JSON") from None


def _list(answer: Any, key: str) -> list[dict[str, Any]]:
    items = answer.get(key) if isinstance(answer, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
