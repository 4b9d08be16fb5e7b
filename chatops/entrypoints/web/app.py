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
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from chatops.config import WebModel
from chatops.domain.deployment import State
from chatops.entrypoints.output import (
    alert_json,
    audit_json,
    deployment_json,
    release_json,
    status_json,
)
from chatops.entrypoints.web import pages
from chatops.entrypoints.web.auth import (
    OidcClient,
    ProxyAuth,
    Signer,
    SignInFailed,
    new_secret,
    proxy_user,
)
from chatops.errors import BadInput, ChatOpsError, InfrastructureError, NotFound
from chatops.services.board import Board

__all__ = ["WebDeps", "web_routes"]

log = logging.getLogger(__name__)

SESSION_COOKIE = "chatops_session"
LOGIN_COOKIE = "chatops_login"
STATIC = Path(__file__).parent / "static"
LOG_POLL_SECONDS = 0.5
LOG_STREAM_SECONDS = 3 * 3600.0
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class WebDeps:
    board: Board
    web: WebModel | None
    public_url: str | None
    oidc: OidcClient | None = None
    session_key: bytes | None = None


def _json_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


def web_routes(deps: WebDeps) -> list[BaseRoute]:  # noqa: PLR0915 (one closure per route)
    """The routes of the web view, to mount on the HTTP app."""
    web = deps.web
    proxy = ProxyAuth.of(web.header, web.trusted_proxies) if web and web.auth == "proxy" else None
    signer = Signer(deps.session_key, purpose="session") if deps.session_key else None
    login_signer = Signer(deps.session_key, purpose="login") if deps.session_key else None
    session_seconds = (web.session_hours if web else 12) * 3600
    secure = bool(deps.public_url and deps.public_url.startswith("https://"))
    board = deps.board

    def user_of(request: Request) -> str | None:
        if proxy is not None:
            return proxy_user(request, proxy)
        if signer is not None:
            session = signer.unsign(request.cookies.get(SESSION_COOKIE))
            user = session.get("user") if session else None
            return user if isinstance(user, str) else None
        return None

    def redirect_uri(request: Request) -> str:
        base = deps.public_url or str(request.base_url).rstrip("/")
        return f"{base}/ui/auth/callback"

    def gate(handler: Handler, *, api: bool) -> Handler:
        async def gated(request: Request) -> Response:
            if web is None:
                return _secured(
                    _json_error(404, "the web view is off: set `web:` in chatops.yaml (DESIGN §11)")
                )
            user = user_of(request)
            if user is None:
                if api or proxy is not None:
                    return _secured(_json_error(401, "not signed in"))
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return _secured(RedirectResponse(f"/ui/login?next={quote(target)}", 303))
            request.state.user = user
            try:
                return _secured(await handler(request))
            except NotFound as exc:
                return _secured(_problem(api, 404, exc.message))
            except BadInput as exc:
                return _secured(_problem(api, 400, exc.message))
            except InfrastructureError as exc:
                log.warning("%s: %s", request.url.path, exc)
                return _secured(_problem(api, 503, exc.message))
            except ChatOpsError as exc:
                return _secured(_problem(api, 400, exc.message))
            except Exception:
                incident = uuid.uuid4().hex[:8]
                log.exception("%s failed (incident %s)", request.url.path, incident)
                return _secured(_problem(api, 503, f"internal error (incident {incident})"))

        return gated

    # ── pages ─────────────────────────────────────────────────────────────────

    async def overview(request: Request) -> Response:
        rows = await run_in_threadpool(board.overview)
        return _html(pages.overview(rows, user=request.state.user))

    async def bot_page(request: Request) -> Response:
        timeline = await run_in_threadpool(board.timeline, request.path_params["bot"])
        return _html(pages.bot(timeline, user=request.state.user))

    async def release_changes(request: Request) -> Response:
        p = request.path_params
        changes = await run_in_threadpool(board.release_changes, p["bot"], p["version"])
        return _html(pages.changes(changes))

    async def upcoming(request: Request) -> Response:
        changes = await run_in_threadpool(board.upcoming, request.path_params["bot"])
        return _html(pages.changes(changes, upcoming=True))

    async def deployment_page(request: Request) -> Response:
        page = await run_in_threadpool(board.deployment, request.path_params["id"])
        deployment = page.view.deployment
        user = request.state.user
        viewer = await run_in_threadpool(board.may_read_logs, user, deployment.env)
        build_log = None
        if viewer and not _streaming(deployment.state):
            build_log = await run_in_threadpool(_tail_of, board.build_log(deployment))
        return _html(pages.deployment(page, user=user, viewer=viewer, build_log=build_log))

    async def audit_page(request: Request) -> Response:
        wanted = pages.audit_filter(request.query_params)
        events = await run_in_threadpool(board.audit, wanted)
        return _html(pages.audit(events, wanted, user=request.state.user))

    async def log_stream(request: Request) -> Response:
        deployment_id = request.path_params["id"]
        page = await run_in_threadpool(board.deployment, deployment_id)
        deployment = page.view.deployment
        if not await run_in_threadpool(board.may_read_logs, request.state.user, deployment.env):
            return _json_error(403, f"build logs of {deployment.env} are for its viewers only")
        path = board.build_log(deployment)

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
                    for line in lines:
                        yield f"data: {line.rstrip(chr(13))}\n\n"
                    continue
                now = await run_in_threadpool(board.deployment, deployment_id)
                if not _streaming(now.view.deployment.state):
                    if not await run_in_threadpool(_read_from, path, offset):
                        if partial:
                            yield f"data: {partial}\n\n"
                        yield f"event: end\ndata: {now.view.deployment.state}\n\n"
                        return
                    continue
                await asyncio.sleep(LOG_POLL_SECONDS)

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"}
        )

    # ── JSON ──────────────────────────────────────────────────────────────────

    async def api_overview(request: Request) -> Response:
        rows = await run_in_threadpool(board.overview)
        return JSONResponse([status_json(row) for row in rows])

    async def api_bot(request: Request) -> Response:
        t = await run_in_threadpool(board.timeline, request.path_params["bot"])
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

    async def api_deployment(request: Request) -> Response:
        page = await run_in_threadpool(board.deployment, request.path_params["id"])
        view = page.view
        viewer = await run_in_threadpool(
            board.may_read_logs, request.state.user, view.deployment.env
        )
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
                "slack_message": pages.slack_link(page.message),
                "log_tail": view.deployment.log_tail if viewer else None,
            }
        )
        return JSONResponse(answer)

    async def api_audit(request: Request) -> Response:
        wanted = pages.audit_filter(request.query_params)
        events = await run_in_threadpool(board.audit, wanted)
        more = len(events) == wanted.limit and events[-1].id is not None
        return JSONResponse(
            {
                "events": [audit_json(e) for e in events],
                "next_before": events[-1].id if more else None,
            }
        )

    # ── sign-in ───────────────────────────────────────────────────────────────

    async def login(request: Request) -> Response:
        if web is None or web.auth != "slack" or deps.oidc is None or login_signer is None:
            return _secured(_json_error(404, "sign-in is for `web: {auth: slack}`"))
        wanted = request.query_params.get("next", "/ui/")
        state, nonce = new_secret(), new_secret()
        try:
            url = await run_in_threadpool(
                deps.oidc.authorize_url,
                redirect_uri=redirect_uri(request),
                state=state,
                nonce=nonce,
            )
        except SignInFailed as exc:
            log.warning("sign-in: %s", exc)
            return _secured(_html(pages.signin_failed(str(exc)), status=503))
        response = RedirectResponse(url, 303)
        value = login_signer.sign({"state": state, "nonce": nonce, "next": wanted}, seconds=600)
        _cookie(response, LOGIN_COOKIE, value, seconds=600, secure=secure)
        return _secured(response)

    async def callback(request: Request) -> Response:
        if web is None or deps.oidc is None or login_signer is None or signer is None:
            return _secured(_json_error(404, "sign-in is for `web: {auth: slack}`"))
        started = login_signer.unsign(request.cookies.get(LOGIN_COOKIE))
        code = request.query_params.get("code", "")
        given_state = request.query_params.get("state", "")
        if started is None or not code or given_state != started.get("state"):
            why = request.query_params.get("error") or "this sign-in was not started here"
            return _secured(_html(pages.signin_failed(f"sign-in refused: {why}"), status=401))
        try:
            user = await run_in_threadpool(
                deps.oidc.sign_in,
                code=code,
                redirect_uri=redirect_uri(request),
                nonce=str(started["nonce"]),
            )
        except SignInFailed as exc:
            log.warning("sign-in refused: %s", exc)
            return _secured(_html(pages.signin_failed(str(exc)), status=401))
        wanted = str(started.get("next") or "/ui/")
        if not wanted.startswith("/ui/") or wanted.startswith("//"):
            wanted = "/ui/"  # never send someone elsewhere
        response = RedirectResponse(wanted, 303)
        _cookie(
            response,
            SESSION_COOKIE,
            signer.sign({"user": user}, seconds=session_seconds),
            seconds=int(session_seconds),
            secure=secure,
        )
        response.delete_cookie(LOGIN_COOKIE, path="/ui/")
        return _secured(response)

    def page(path: str, handler: Handler) -> Route:
        return Route(path, gate(handler, api=False), methods=["GET"])

    def api(path: str, handler: Handler) -> Route:
        return Route(path, gate(handler, api=True), methods=["GET"])

    async def root(request: Request) -> Response:
        return RedirectResponse("/ui/", 303)

    return [
        Route("/ui", root, methods=["GET"]),
        Route("/ui/login", login, methods=["GET"]),
        Route("/ui/auth/callback", callback, methods=["GET"]),
        Mount("/ui/static", app=StaticFiles(directory=STATIC), name="static"),
        page("/ui/", overview),
        page("/ui/bots/{bot}", bot_page),
        page("/ui/bots/{bot}/releases/{version:int}/changes", release_changes),
        page("/ui/bots/{bot}/upcoming", upcoming),
        page("/ui/deployments/{id:int}", deployment_page),
        page("/ui/deployments/{id:int}/log", log_stream),
        page("/ui/audit", audit_page),
        api("/api/overview", api_overview),
        api("/api/bots/{bot}", api_bot),
        api("/api/deployments/{id:int}", api_deployment),
        api("/api/audit", api_audit),
    ]


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


def _html(body: str, *, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status)


def _problem(api: bool, status: int, message: str) -> Response:
    if api:
        return _json_error(status, message)
    return _html(pages.problem(status, message), status=status)


def _secured(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _cookie(response: Response, name: str, value: str, *, seconds: int, secure: bool) -> None:
    response.set_cookie(
        name,
        value,
        max_age=seconds,
        path="/ui/" if name == LOGIN_COOKIE else "/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )
