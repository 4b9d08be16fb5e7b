"""A GitHub and GitLab REST stand-in on 127.0.0.1: serves CI results, records deployments.

The paths and shapes are the documented ones:

- GitHub: `GET /repos/{o}/{r}/commits/{ref}/check-runs` → `{total_count, check_runs}`,
  `GET /repos/{o}/{r}/commits/{ref}/status` → `{state, statuses}`,
  `POST /repos/{o}/{r}/deployments` → 201 `{id, sha, environment, …}`,
  `POST /repos/{o}/{r}/deployments/{id}/statuses` → 201 `{id, state, …}`.
- GitLab (`/api/v4`): `GET /projects/{id}/pipelines?sha=…` → `[{id, sha, status, …}]`
  (newest first), `GET /projects/{id}/pipelines/{pipeline_id}/jobs` → `[{name, status, …}]`,
  `POST /projects/{id}/deployments` → 201 `{id, status, …}`,
  `PUT /projects/{id}/deployments/{deployment_id}` → 200.

Every request is recorded with its headers; `fail_next` answers the next N
requests with 502, as an outage would.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

__all__ = ["ForgeStandIn", "Request"]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    query: dict[str, str] = field(default_factory=dict)


@dataclass
class _State:
    check_runs: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    statuses: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    gitlab_jobs: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    deployments: dict[int, dict[str, Any]] = field(default_factory=dict)
    gitlab_deployments: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    fail_next: int = 0
    fail_only: str = ""  # fail only requests whose path ends so
    next_id: int = 1


_CHECK_RUNS = re.compile(r"^/repos/([^/]+/[^/]+)/commits/([^/]+)/check-runs$")
_STATUS = re.compile(r"^/repos/([^/]+/[^/]+)/commits/([^/]+)/status$")
_DEPLOYMENTS = re.compile(r"^/repos/([^/]+/[^/]+)/deployments$")
_DEPLOYMENT_STATUSES = re.compile(r"^/repos/([^/]+/[^/]+)/deployments/(\d+)/statuses$")
_GL_PIPELINES = re.compile(r"^/api/v4/projects/([^/]+)/pipelines$")
_GL_JOBS = re.compile(r"^/api/v4/projects/([^/]+)/pipelines/(\d+)/jobs$")
_GL_DEPLOYMENTS = re.compile(r"^/api/v4/projects/([^/]+)/deployments$")
_GL_DEPLOYMENT = re.compile(r"^/api/v4/projects/([^/]+)/deployments/(\d+)$")


class ForgeStandIn:
    def __init__(self) -> None:
        self.state = _State()
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                split = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(split.query))
                status, answer = owner._answer(
                    self.command, split.path, dict(self.headers), body, query
                )
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _handle  # noqa: N815 - the stdlib's names

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self._server.server_address[1]
        self.github_url = f"http://127.0.0.1:{port}"
        self.gitlab_url = f"http://127.0.0.1:{port}/api/v4"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # ── what the test sets ──────────────────────────────────────────────────

    def check_run(
        self, repo: str, sha: str, name: str, status: str, conclusion: str | None = None
    ) -> None:
        with self._lock:
            runs = [r for r in self.state.check_runs.get((repo, sha), []) if r["name"] != name]
            runs.append(
                {
                    "id": len(runs) + 1,
                    "name": name,
                    "head_sha": sha,
                    "status": status,
                    "conclusion": conclusion,
                    "html_url": f"https://github.example/{repo}/runs/{name}",
                }
            )
            self.state.check_runs[(repo, sha)] = runs

    def commit_status(self, repo: str, sha: str, context: str, state: str) -> None:
        with self._lock:
            statuses = [
                s for s in self.state.statuses.get((repo, sha), []) if s["context"] != context
            ]
            statuses.append(
                {
                    "context": context,
                    "state": state,
                    "target_url": f"https://ci.example/{repo}/{context}",
                }
            )
            self.state.statuses[(repo, sha)] = statuses

    def gitlab_job(
        self, project: str, sha: str, name: str, status: str, *, allow_failure: bool = False
    ) -> None:
        """A job of the pipeline of `sha` (one pipeline per commit, made by its first job)."""
        with self._lock:
            jobs = [j for j in self.state.gitlab_jobs.get((project, sha), []) if j["name"] != name]
            jobs.append(
                {
                    "id": len(jobs) + 1,
                    "name": name,
                    "stage": "test",
                    "status": status,
                    "allow_failure": allow_failure,
                    "web_url": f"https://gitlab.example/{project}/-/jobs/{name}",
                    "commit": {"id": sha},
                }
            )
            self.state.gitlab_jobs[(project, sha)] = jobs

    def fail(self, count: int, *, only: str = "") -> None:
        """Answer the next `count` requests (whose path ends with `only`) with 502."""
        with self._lock:
            self.state.fail_next = count
            self.state.fail_only = only

    # ── what the test reads ─────────────────────────────────────────────────

    def requests(self) -> list[Request]:
        with self._lock:
            return list(self.state.requests)

    def deployments(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(d) for d in self.state.deployments.values()]

    def gitlab_deployments(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(d) for d in self.state.gitlab_deployments.values()]

    # ── answering ───────────────────────────────────────────────────────────

    def _pipeline_id(self, project: str, sha: str) -> int:
        return 1000 + sorted(self.state.gitlab_jobs).index((project, sha))

    def _gitlab_ci(self, path: str, query: dict[str, str]) -> tuple[int, Any] | None:
        """A commit's pipelines, and a pipeline's jobs (None: not such a request)."""
        if m := _GL_PIPELINES.match(path):
            project = urllib.parse.unquote(m[1])
            found = [(p, sha) for (p, sha) in self.state.gitlab_jobs if p == project]
            sha = query.get("sha")
            return 200, [
                {
                    "id": self._pipeline_id(p, s),
                    "sha": s,
                    "ref": "main",
                    "status": _pipeline_status(self.state.gitlab_jobs[(p, s)]),
                    "web_url": f"https://gitlab.example/{p}/-/pipelines/{s}",
                }
                for p, s in found
                if sha is None or s == sha
            ]
        if m := _GL_JOBS.match(path):
            project = urllib.parse.unquote(m[1])
            for p, s in self.state.gitlab_jobs:
                if p == project and self._pipeline_id(p, s) == int(m[2]):
                    return 200, self.state.gitlab_jobs[(p, s)]
            return 404, {"message": "404 Not found"}
        return None

    def _answer(
        self, method: str, path: str, headers: dict[str, str], body: Any, query: dict[str, str]
    ) -> tuple[int, Any]:
        with self._lock:
            state = self.state
            state.requests.append(Request(method, path, headers, body, query))
            if state.fail_next > 0 and path.endswith(state.fail_only):
                state.fail_next -= 1
                return 502, {"message": "Bad Gateway"}
            if method == "GET" and (m := _CHECK_RUNS.match(path)):
                runs = state.check_runs.get((m[1], m[2]), [])
                return 200, {"total_count": len(runs), "check_runs": runs}
            if method == "GET" and (m := _STATUS.match(path)):
                statuses = state.statuses.get((m[1], m[2]), [])
                states = {s["state"] for s in statuses}
                combined = (
                    "failure"
                    if states & {"failure", "error"}
                    else "pending"
                    if "pending" in states or not statuses
                    else "success"
                )
                return 200, {"state": combined, "sha": m[2], "statuses": statuses}
            if method == "POST" and (m := _DEPLOYMENTS.match(path)):
                deployment_id = state.next_id
                state.next_id += 1
                state.deployments[deployment_id] = {
                    "id": deployment_id,
                    "repo": m[1],
                    **body,
                    "sha": body.get("ref"),
                    "statuses": [],
                }
                return 201, {"id": deployment_id, "sha": body.get("ref"), **body}
            if method == "POST" and (m := _DEPLOYMENT_STATUSES.match(path)):
                found = state.deployments.get(int(m[2]))
                if found is None:
                    return 404, {"message": "Not Found"}
                found["statuses"].append(body)
                return 201, {"id": len(found["statuses"]), **body}
            if method == "GET" and (found := self._gitlab_ci(path, query)) is not None:
                return found
            if method == "POST" and (m := _GL_DEPLOYMENTS.match(path)):
                deployment_id = state.next_id
                state.next_id += 1
                state.gitlab_deployments[deployment_id] = {
                    "id": deployment_id,
                    "project": urllib.parse.unquote(m[1]),
                    **body,
                    "updates": [],
                }
                return 201, {"id": deployment_id, **body}
            if method == "PUT" and (m := _GL_DEPLOYMENT.match(path)):
                found = state.gitlab_deployments.get(int(m[2]))
                if found is None:
                    return 404, {"message": "404 Not found"}
                found["updates"].append(body)
                found["status"] = body.get("status")
                return 200, {**found}
            return 404, {"message": "Not Found"}


def _pipeline_status(jobs: list[dict[str, Any]]) -> str:
    states = {j["status"] for j in jobs if not (j["allow_failure"] and j["status"] == "failed")}
    if states & {"created", "pending", "running", "preparing", "waiting_for_resource"}:
        return "running"
    return "failed" if states & {"failed", "canceled"} else "success"
