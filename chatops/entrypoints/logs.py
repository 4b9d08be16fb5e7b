"""How chatops' log lines look: text for people, or JSON lines for a log pipeline
(`CHATOPS_LOG_FORMAT=json`), each naming the request and deployment it is about."""

from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from chatops.services.logcontext import bound, current

__all__ = ["FORMATS", "JsonFormatter", "RequestIds", "configure"]

FORMATS = ("text", "json")
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_REQUEST_ID_HEADER = b"x-request-id"
_REQUEST_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the ids bound, the exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **current(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(log_format: str | None, *, verbose: bool = False) -> None:
    """Log to stderr in `log_format` (`text`, the default, or `json`).

    Raises:
        ValueError: another format.
    """
    chosen = (log_format or "text").strip().lower() or "text"
    if chosen not in FORMATS:
        raise ValueError(f"CHATOPS_LOG_FORMAT is {log_format!r}; it may be text or json")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if chosen == "json" else logging.Formatter(TEXT))
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler], force=True
    )


Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


class RequestIds:
    """ASGI middleware: every HTTP request gets an id (its `X-Request-Id` when it is a
    sane one, else a new one) that its log lines carry and its answer names."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(_REQUEST_ID_HEADER, b"").decode("latin-1")
        sane = 0 < len(given) <= 64 and set(given) <= _REQUEST_ID_CHARS
        request_id = given if sane else uuid.uuid4().hex[:16]

        async def send_with_id(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers.append((_REQUEST_ID_HEADER, request_id.encode()))
                message["headers"] = headers
            await send(message)

        with bound(request_id=request_id):
            await self.app(scope, receive, send_with_id)
