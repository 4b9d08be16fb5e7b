"""The HTTP routes of `chatops serve`: Slack, Alertmanager, git pushes, health and metrics.

Every request's body is bounded in size and time before a route reads it
(limits.py), and every credential is checked before its payload is parsed; an
endpoint whose secret is not configured accepts nothing. Slow or blocking work
(bolt's dispatch, database, git, docker) runs on Starlette's thread pool, never
on the event loop. Errors become status codes here: 400 for a malformed body,
401 for bad credentials, 404 for an endpoint that is not configured, 202 for
something we ignore, 503 when a dependency is down; never a 500.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App as BoltApp
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from chatops.bootstrap import Application
from chatops.bootstrap.serving import CONTENT_TYPE, PrometheusMetrics
from chatops.entrypoints import webhooks
from chatops.entrypoints.alertmanager import parse_payload
from chatops.entrypoints.limits import BodyLimits
from chatops.entrypoints.web import WebDeps, web_routes
from chatops.errors import ChatOpsError, InfrastructureError, new_incident_id
from chatops.services.alert_intake import AlertIntake
from chatops.services.autodeploy import AutoDeploy, Started
from chatops.services.deliveries import Deliveries

__all__ = ["HttpDeps", "create_http_app"]

log = logging.getLogger(__name__)


@dataclass
class HttpDeps:
    application: Application
    alerts: AlertIntake
    autodeploy: AutoDeploy
    deliveries: Deliveries
    metrics: PrometheusMetrics
    bolt: BoltApp | None
    slack_signing_secret: str | None
    alert_token: str | None
    git_secret: str | None
    metrics_token: str | None
    alert_labels: tuple[str, str]
    scheduler_running: Callable[[], bool]
    body_timeout: float = 20.0
    web: WebDeps | None = None  # the web view (/ui/, /api/); off when None


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
            incident = new_incident_id()
            log.exception("%s %s failed (incident %s)", request.method, request.url.path, incident)
            return _error(503, f"internal error (incident {incident})")

    return wrapped


def _bearer_ok(request: Request, token: str | None) -> bool:
    if not token:
        return False
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def _slack_signed(verifier: SignatureVerifier, request: Request, body: bytes) -> bool:
    try:
        return bool(
            verifier.is_valid(
                body,
                request.headers.get("x-slack-request-timestamp", ""),
                request.headers.get("x-slack-signature", ""),
            )
        )
    except (ValueError, TypeError):  # a timestamp that is not a number
        return False


def create_http_app(deps: HttpDeps) -> Starlette:
    """The Starlette app serving every endpoint of DESIGN §6."""

    slack_verifier = (
        SignatureVerifier(deps.slack_signing_secret) if deps.slack_signing_secret else None
    )

    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        if deps.bolt is None or slack_verifier is None:
            return _error(
                404, "Slack is not configured (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET)"
            )
        body = await request.body()
        # checked here as well as by bolt, so that nothing parses an unsigned body
        if not _slack_signed(slack_verifier, request, body):
            return _error(401, "bad, stale or missing Slack signature")
        try:
            bolt_request = to_bolt_request(request, body)
        except (ValueError, TypeError, AttributeError):
            return _error(400, "not a Slack request body")
        bolt_response = await run_in_threadpool(deps.bolt.dispatch, bolt_request)
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

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        checks: dict[str, str] = {}

        def database() -> None:
            with deps.application.store.uow() as uow:
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
        if deps.metrics_token and not _bearer_ok(request, deps.metrics_token):
            return _error(401, "missing or wrong bearer token (CHATOPS_METRICS_TOKEN)")
        try:
            await run_in_threadpool(_sync_metrics, deps)
        except Exception as exc:  # serve what this process knows rather than fail the scrape
            log.warning("metrics: could not read live releases and open alerts: %s", exc)
        return Response(deps.metrics.exposition(), media_type=CONTENT_TYPE)

    return Starlette(
        routes=[
            Route("/slack/events", _guarded(slack_events), methods=["POST"]),
            Route("/alerts/alertmanager", _guarded(alertmanager), methods=["POST"]),
            Route("/webhooks/git", _guarded(_git_push(deps)), methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *(web_routes(deps.web) if deps.web is not None else ()),
        ],
        middleware=[Middleware(BodyLimits, timeout=deps.body_timeout)],
    )


def _git_push(deps: HttpDeps) -> Callable[[Request], Awaitable[Response]]:
    """POST /webhooks/git: authenticate, parse, deduplicate, converge what follows the branch."""

    async def git_push(request: Request) -> Response:
        if not deps.git_secret:
            return _error(404, "git webhooks are not configured (CHATOPS_GIT_WEBHOOK_SECRET)")
        body = await request.body()
        forge = webhooks.authenticate(request.headers, body, deps.git_secret)
        if forge is None:
            return _error(
                401, "bad or missing X-Hub-Signature-256 (GitHub) or X-Gitlab-Token (GitLab)"
            )
        event = webhooks.event_of(forge, request.headers)
        if event == "ping":
            return JSONResponse({"ok": True, "pong": True})
        if event != "push":
            return JSONResponse({"ok": True, "ignored": f"{event} events deploy nothing"}, 202)
        try:
            push = webhooks.parse_push(forge, body)
            key = webhooks.delivery_key(forge, request.headers)
        except ValueError as exc:
            return _error(400, str(exc))
        if push.branch is None:
            return JSONResponse({"ok": True, "deployments": []}, status_code=202)
        if key is not None and not await run_in_threadpool(deps.deliveries.first_time, key):
            return JSONResponse({"ok": True, "duplicate": True, "deployments": []})
        try:
            started = await run_in_threadpool(
                deps.autodeploy.pushed,
                urls=set(push.urls),
                full_name=push.full_name,
                branch=push.branch,
                sha=push.after,
                pusher=push.pusher,
            )
        except Exception:
            if key is not None:  # let a redelivery try again (converging twice is harmless)
                await run_in_threadpool(deps.deliveries.forget, key)
            raise
        return JSONResponse(
            {"ok": True, "deployments": [_started(s) for s in started]}, status_code=202
        )

    return git_push


def _sync_metrics(deps: HttpDeps) -> None:
    """Live releases and open alerts from the database, shared by every replica."""
    with deps.application.store.uow() as uow:
        live = [
            (d.bot, d.env, d.version) for d in uow.deployments.all_live() if d.version is not None
        ]
        open_alerts = Counter((a.bot, a.env) for a in uow.alerts.open_alerts())
    deps.metrics.sync(live=live, open_alerts=open_alerts)


def _started(started: Started) -> dict[str, Any]:
    """One automatic deploy as the webhook's answer shows it."""
    answer: dict[str, Any] = {"bot": started.bot, "env": started.env}
    if started.deployment is not None:
        answer["deployment_id"] = started.deployment.id
    elif started.waiting_for is not None:
        answer["waiting_for"] = started.waiting_for
    elif started.refused is not None:
        answer["refused"] = started.refused
    else:
        answer["skipped"] = started.skipped
    return answer
