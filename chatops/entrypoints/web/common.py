"""What the web view's routes share: their dependencies and the shape of their answers."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import HTMLResponse, JSONResponse, Response

from chatops.config import WebModel
from chatops.entrypoints.web import pages
from chatops.entrypoints.web.auth import OidcClient
from chatops.services.board import Board

__all__ = ["SECURITY_HEADERS", "WebDeps", "html", "json_error", "problem", "secured"]

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


@dataclass
class WebDeps:
    board: Board
    web: WebModel | None
    public_url: str | None
    oidc: OidcClient | None = None
    session_key: bytes | None = None


def json_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


def html(body: str, *, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status)


def problem(api: bool, status: int, message: str) -> Response:
    if api:
        return json_error(status, message)
    return html(pages.problem(status, message), status=status)


def secured(response: Response) -> Response:
    """Every answer of the web view: no framing, no sniffing, no caching, our scripts only."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
