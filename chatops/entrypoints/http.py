"""The HTTP routes of `chatops serve`: Slack, Alertmanager, git pushes, health and metrics.

Slow or blocking work (bolt's dispatch, database, docker) runs on Starlette's
thread pool, never on the event loop. Errors become status codes here: 400
for a malformed body, 401 for bad credentials, 202 for something we ignore,
503 when a dependency is down; never a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App as BoltApp
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from chatops.adapters.metrics import CONTENT_TYPE, PrometheusMetrics
from chatops.bootstrap import Application
from chatops.entrypoints.alertmanager import parse_payload
from chatops.errors import ChatOpsError, InfrastructureError
from chatops.services.alerts import AlertService
from chatops.services.autodeploy import AutoDeploy

__all__ = ["HttpDeps", "create_http_app"]

log = logging.getLogger(__name__)


@dataclass
class HttpDeps:
    application: Application
    alerts: AlertService
    autodeploy: AutoDeploy
    metrics: PrometheusMetrics
    bolt: BoltApp | None
    alert_token: str | None
    git_secret: str | None
    alert_labels: tuple[str, str]
    scheduler_running: Callable[[], bool]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


def _guarded(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except InfrastructureError as exc:
            log.warning("%s %s: %s", request.method, request.url.path, exc)
            return _error(503, exc.message)
        except Exception:
            incident = uuid.uuid4().hex[:8]
            log.exception("%s %s failed (incident %s)", request.method, request.url.path, incident)
            return _error(503, f"internal error (incident {incident})")

    return wrapped


def _bearer_ok(request: Request, token: str | None) -> bool:
    if not token:
        return False
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def create_http_app(deps: HttpDeps) -> Starlette:
    """The Starlette app serving every endpoint of DESIGN §6."""

    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        if deps.bolt is None:
            return _error(
                404, "Slack is not configured (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET)"
            )
        body = await request.body()
        bolt_response = await run_in_threadpool(deps.bolt.dispatch, to_bolt_request(request, body))
        deps.metrics.slack_ack.observe(time.perf_counter() - started)
        return to_starlette_response(bolt_response)

    async def alertmanager(request: Request) -> Response:
        if not _bearer_ok(request, deps.alert_token):
            return _error(401, "missing or wrong bearer token (CHATOPS_ALERT_TOKEN)")
        try:
            payload = json.loads(await request.body())
            bot_label, env_label = deps.alert_labels
            incoming = parse_payload(payload, bot_label=bot_label, env_label=env_label)
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, f"malformed Alertmanager payload: {exc}")
        result = await run_in_threadpool(deps.alerts.ingest_alertmanager, incoming)
        for reason in result.reasons:
            log.info("alertmanager alert ignored: %s", reason)
        accepted = result.opened + result.updated + result.resolved
        body = {
            "ok": True,
            "opened": result.opened,
            "updated": result.updated,
            "resolved": result.resolved,
            "ignored": result.ignored,
            "ignored_reasons": list(result.reasons),
        }
        return JSONResponse(body, status_code=200 if accepted or not incoming else 202)

    async def git_push(request: Request) -> Response:
        body = await request.body()
        if not deps.git_secret:
            return _error(404, "git webhooks are not configured (CHATOPS_GIT_WEBHOOK_SECRET)")
        expected = "sha256=" + hmac.new(deps.git_secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(
            request.headers.get("x-hub-signature-256", "").encode(), expected.encode()
        ):
            return _error(401, "bad or missing X-Hub-Signature-256")
        if request.headers.get("x-github-event", "push") == "ping":
            return JSONResponse({"ok": True, "pong": True})
        try:
            push = json.loads(body)
            ref = str(push["ref"])
            after = str(push["after"])
        except (ValueError, KeyError, TypeError):
            return _error(400, "expected a push event with `ref` and `after`")
        started = await run_in_threadpool(_auto_deploy, deps.autodeploy, push, ref, after)
        return JSONResponse({"ok": True, "deployments": started}, status_code=202)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        checks: dict[str, str] = {}

        def database() -> None:
            with deps.application.deps.uow() as uow:
                uow.ping()

        try:
            await run_in_threadpool(database)
            checks["database"] = "ok"
        except ChatOpsError as exc:
            checks["database"] = exc.message
        checks["scheduler"] = "ok" if deps.scheduler_running() else "not running"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        try:
            await run_in_threadpool(_sync_metrics, deps)
        except Exception as exc:  # serve what this process knows rather than fail the scrape
            log.warning("metrics: could not read live releases and open alerts: %s", exc)
        return Response(deps.metrics.exposition(), media_type=CONTENT_TYPE)

    return Starlette(
        routes=[
            Route("/slack/events", _guarded(slack_events), methods=["POST"]),
            Route("/alerts/alertmanager", _guarded(alertmanager), methods=["POST"]),
            Route("/webhooks/git", _guarded(git_push), methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]
    )


def _sync_metrics(deps: HttpDeps) -> None:
    """Live releases and open alerts from the database, shared by every replica."""
    with deps.application.deps.uow() as uow:
        live = [
            (d.bot, d.env, d.version) for d in uow.deployments.all_live() if d.version is not None
        ]
        open_alerts = Counter((a.bot, a.env) for a in uow.alerts.open_alerts())
    deps.metrics.sync(live=live, open_alerts=open_alerts)


def _auto_deploy(
    autodeploy: AutoDeploy, push: dict[str, Any], ref: str, after: str
) -> list[dict[str, Any]]:
    """A push event → AutoDeploy; the answer lists what started and what was refused."""
    if not ref.startswith("refs/heads/") or set(after) == {"0"}:
        return []
    repository = push.get("repository") or {}
    urls = {
        str(repository[key])
        for key in ("clone_url", "ssh_url", "git_url", "html_url", "url")
        if repository.get(key)
    }
    started = autodeploy.pushed(
        urls=urls,
        full_name=repository.get("full_name"),
        branch=ref.removeprefix("refs/heads/"),
        sha=after,
        pusher=str((push.get("pusher") or {}).get("name") or "git push"),
    )
    return [
        {"bot": s.bot, "env": s.env, "refused": s.refused}
        if s.refused or s.deployment is None
        else {"bot": s.bot, "env": s.env, "deployment_id": s.deployment.id}
        for s in started
    ]
