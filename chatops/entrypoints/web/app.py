"""Routes of the web view: pages under /ui/, the same data as JSON under /api/.

Everything is GET (Starlette answers 405 to anything else) and nothing changes
state, except that signing in sets a cookie. No request that is not signed in
sees anything: the API answers 401, a page redirects to the sign-in (Slack) or
answers 401 (proxy). Build logs are shown to the environment's viewers only.
Blocking work (database, git) runs on the thread pool.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from chatops.domain.deployment import Deployment, State
from chatops.entrypoints.output import (
    alert_json,
    audit_json,
    deployment_json,
    measurement_json,
    release_json,
    status_json,
    verification_json,
)
from chatops.entrypoints.web import pages
from chatops.entrypoints.web.auth import ProxyAuth, proxy_user
from chatops.entrypoints.web.common import WebDeps, html, json_error, problem, secured
from chatops.entrypoints.web.signin import SignIn
from chatops.errors import (
    BadInput,
    ChatOpsError,
    InfrastructureError,
    InternalError,
    NotFound,
    new_incident_id,
)

__all__ = ["WebDeps", "web_routes"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
LOG_POLL_SECONDS = 0.5
LOG_STREAM_SECONDS = 3 * 3600.0
Handler = Callable[[Request], Awaitable[Response]]


def web_routes(deps: WebDeps) -> list[BaseRoute]:
    """The routes of the web view, to mount on the HTTP app."""
    view = _WebView(deps)

    def page(path: str, handler: Handler) -> Route:
        return Route(path, view.gate(handler, api=False), methods=["GET"])

    def api(path: str, handler: Handler) -> Route:
        return Route(path, view.gate(handler, api=True), methods=["GET"])

    return [
        Route("/ui", _root, methods=["GET"]),
        *(view.signin.routes() if view.signin is not None else ()),
        Mount("/ui/static", app=StaticFiles(directory=STATIC), name="static"),
        page("/ui/", view.overview),
        page("/ui/bots/{bot}", view.bot_page),
        page("/ui/bots/{bot}/releases/{version:int}/changes", view.release_changes),
        page("/ui/bots/{bot}/upcoming", view.upcoming),
        page("/ui/deployments/{id:int}", view.deployment_page),
        page("/ui/deployments/{id:int}/log", view.log_stream),
        page("/ui/audit", view.audit_page),
        api("/api/overview", view.api_overview),
        api("/api/bots/{bot}", view.api_bot),
        api("/api/deployments/{id:int}", view.api_deployment),
        api("/api/audit", view.api_audit),
    ]


async def _root(request: Request) -> Response:
    return RedirectResponse("/ui/", 303)


class _WebView:
    """The handlers of every route; each answers from the board's read services."""

    def __init__(self, deps: WebDeps) -> None:
        web = deps.web
        self.web = web
        self.proxy = (
            ProxyAuth.of(web.header, web.trusted_proxies) if web and web.auth == "proxy" else None
        )
        self.signin = SignIn.of(deps)
        self.board = deps.board

    def user_of(self, request: Request) -> str | None:
        if self.proxy is not None:
            return proxy_user(request, self.proxy)
        return self.signin.user_of(request) if self.signin is not None else None

    def gate(self, handler: Handler, *, api: bool) -> Handler:
        async def gated(request: Request) -> Response:
            if self.web is None:
                return secured(
                    json_error(404, "the web view is off: set `web:` in chatops.yaml (DESIGN §11)")
                )
            user = self.user_of(request)
            if user is None:
                if api or self.proxy is not None:
                    return secured(json_error(401, "not signed in"))
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return secured(RedirectResponse(f"/ui/login?next={quote(target)}", 303))
            request.state.user = user
            try:
                return secured(await handler(request))
            except NotFound as exc:
                return secured(problem(api, 404, exc.message))
            except BadInput as exc:
                return secured(problem(api, 400, exc.message))
            except InfrastructureError as exc:
                log.warning("%s: %s", request.url.path, exc)
                return secured(problem(api, 503, exc.message))
            except InternalError:  # unsettled by the service below: a bug like any other
                return secured(_internal_error(request, api=api))
            except ChatOpsError as exc:
                return secured(problem(api, 400, exc.message))
            except Exception:
                return secured(_internal_error(request, api=api))

        return gated

    # ── pages ─────────────────────────────────────────────────────────────────

    # reading and rendering both run on the thread pool: a big overview takes milliseconds

    async def overview(self, request: Request) -> Response:
        user = request.state.user
        return html(
            await run_in_threadpool(lambda: pages.overview(self.board.overview(), user=user))
        )

    async def bot_page(self, request: Request) -> Response:
        bot, user = request.path_params["bot"], request.state.user
        return html(await run_in_threadpool(lambda: pages.bot(self.board.timeline(bot), user=user)))

    async def release_changes(self, request: Request) -> Response:
        p = request.path_params
        changes = await run_in_threadpool(self.board.release_changes, p["bot"], p["version"])
        return html(pages.changes(changes))

    async def upcoming(self, request: Request) -> Response:
        changes = await run_in_threadpool(self.board.upcoming, request.path_params["bot"])
        return html(pages.changes(changes, upcoming=True))

    async def deployment_page(self, request: Request) -> Response:
        page = await run_in_threadpool(self.board.deployment, request.path_params["id"])
        deployment = page.view.deployment
        user = request.state.user
        viewer = await run_in_threadpool(self.board.may_read_logs, user, deployment.env)
        build_log = None
        if viewer and not _streaming(deployment.state):
            build_log = await run_in_threadpool(self._shown_log, deployment)
        return html(pages.deployment(page, user=user, viewer=viewer, build_log=build_log))

    def _shown_log(self, deployment: Deployment) -> str | None:
        """The end of the build log (or the tail kept in the database), secrets masked."""
        text = _tail_of(self.board.build_log(deployment)) or deployment.log_tail or None
        if text is None:
            return None
        try:
            return self.board.masker(deployment)(text)
        except ChatOpsError as exc:
            log.warning("build log of #%s not shown: %s", deployment.id, exc)
            return f"(not shown: the secrets to mask in it cannot be read: {exc.message})"

    async def audit_page(self, request: Request) -> Response:
        wanted = pages.audit_filter(request.query_params)
        events = await run_in_threadpool(self.board.audit, wanted)
        return html(pages.audit(events, wanted, user=request.state.user))

    async def log_stream(self, request: Request) -> Response:
        deployment_id = request.path_params["id"]
        page = await run_in_threadpool(self.board.deployment, deployment_id)
        deployment = page.view.deployment
        if not await run_in_threadpool(
            self.board.may_read_logs, request.state.user, deployment.env
        ):
            return json_error(403, f"build logs of {deployment.env} are for its viewers only")
        path = self.board.build_log(deployment)
        try:  # a log that cannot be masked is not shown
            masked = await run_in_threadpool(self.board.masker, deployment)
        except ChatOpsError as exc:
            return json_error(503, f"the secrets to mask in this log cannot be read: {exc.message}")

        async def events() -> AsyncIterator[str]:
            offset, partial = 0, ""
            loop = asyncio.get_running_loop()
            deadline = loop.time() + LOG_STREAM_SECONDS
            while loop.time() < deadline:
                chunk = await run_in_threadpool(_read_from, path, offset)
                if chunk:
                    offset += len(chunk)
                    text = partial + chunk.decode("utf-8", errors="replace")
                    *lines, partial = text.split("\n")
                    shown = await run_in_threadpool(masked, "\n".join(lines))
                    for line in shown.split("\n") if lines else ():
                        yield f"data: {line.rstrip(chr(13))}\n\n"
                    continue
                state = await run_in_threadpool(self.board.state, deployment_id)
                if not _streaming(state):
                    if not await run_in_threadpool(_read_from, path, offset):
                        if partial:
                            yield f"data: {await run_in_threadpool(masked, partial)}\n\n"
                        yield f"event: end\ndata: {state}\n\n"
                        return
                    continue
                await asyncio.sleep(LOG_POLL_SECONDS)

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"}
        )

    # ── JSON ──────────────────────────────────────────────────────────────────

    async def api_overview(self, request: Request) -> Response:
        rows = await run_in_threadpool(self.board.overview)
        return JSONResponse([status_json(row) for row in rows])

    async def api_bot(self, request: Request) -> Response:
        t = await run_in_threadpool(self.board.timeline, request.path_params["bot"])
        return JSONResponse(
            {
                "bot": t.bot,
                "branch": t.branch,
                "status": [status_json(row) for row in t.status],
                "releases": [release_json(row) for row in t.releases],
                "deployments": [deployment_json(d) for d in t.deployments],
                "alerts": [alert_json(a) for a in t.alerts],
                "approvals": {
                    str(k): [
                        {"user": v.user, "decision": str(v.decision), "at": v.at.isoformat()}
                        for v in votes
                    ]
                    for k, votes in t.votes.items()
                },
            }
        )

    async def api_deployment(self, request: Request) -> Response:
        page = await run_in_threadpool(self.board.deployment, request.path_params["id"])
        view = page.view
        viewer = await run_in_threadpool(
            self.board.may_read_logs, request.state.user, view.deployment.env
        )
        log_tail = None
        if viewer and view.deployment.log_tail:
            log_tail = await run_in_threadpool(self._shown_log, view.deployment)
        answer = deployment_json(view.deployment)
        answer.update(
            {
                "image": view.release.image if view.release else None,
                "digest": view.release.digest if view.release else None,
                "decided_by": view.decided_by,
                "approved_by": list(view.tally.approved_by) if view.tally else [],
                "events": [audit_json(e) for e in page.events],
                "alerts": [alert_json(a) for a in page.alerts],
                "changes": [{"sha": c.sha, "subject": c.subject} for c in view.changes],
                "verification": (
                    verification_json(view.verification) if view.verification else None
                ),
                "measurements": [measurement_json(m) for m in page.measurements],
                "more_measurements": page.more_measurements,
                "slack_message": pages.slack_link(page.message),
                "log_tail": log_tail,
            }
        )
        return JSONResponse(answer)

    async def api_audit(self, request: Request) -> Response:
        wanted = pages.audit_filter(request.query_params)
        events = await run_in_threadpool(self.board.audit, wanted)
        more = len(events) == wanted.limit and events[-1].id is not None
        return JSONResponse(
            {
                "events": [audit_json(e) for e in events],
                "next_before": events[-1].id if more else None,
            }
        )


def _internal_error(request: Request, *, api: bool) -> Response:
    """A bug: its traceback logged under an incident id, which the answer names."""
    incident = new_incident_id()
    log.exception("%s failed (incident %s)", request.url.path, incident)
    return problem(api, 503, f"internal error (incident {incident})")


def _streaming(state: State) -> bool:
    """Whether the build log may still grow."""
    return state in (State.QUEUED, State.BUILDING)


def _read_from(path: Path | None, offset: int) -> bytes:
    if path is None:
        return b""
    try:
        with path.open("rb") as file:
            file.seek(offset)
            return file.read(256 * 1024)
    except FileNotFoundError:
        return b""


def _tail_of(path: Path | None, limit: int = 64 * 1024) -> str | None:
    if path is None or not path.exists():
        return None
    with path.open("rb") as file:
        size = file.seek(0, 2)
        file.seek(max(0, size - limit))
        text = file.read().decode("utf-8", errors="replace")
    return text if size <= limit else "…\n" + text.split("\n", 1)[-1]
