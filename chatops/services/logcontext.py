"""The ids a log line is about: the HTTP request and the deployment being worked on.

Set with `bound(...)` where the work begins (the HTTP edge, the pipeline); read by the
JSON log format (`CHATOPS_LOG_FORMAT=json`). Context variables follow the work into
`run_in_threadpool`, and each deployment thread binds its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["bound", "current"]

_REQUEST: ContextVar[str | None] = ContextVar("chatops_request_id", default=None)
_DEPLOYMENT: ContextVar[int | None] = ContextVar("chatops_deployment_id", default=None)


@contextmanager
def bound(*, request_id: str | None = None, deployment_id: int | None = None) -> Iterator[None]:
    """Let the log lines written inside name these ids (the others stay as they are)."""
    request = _REQUEST.set(request_id) if request_id is not None else None
    deployment = _DEPLOYMENT.set(deployment_id) if deployment_id is not None else None
    try:
        yield
    finally:
        if deployment is not None:
            _DEPLOYMENT.reset(deployment)
        if request is not None:
            _REQUEST.reset(request)


def current() -> dict[str, str | int]:
    """The ids bound here, for a log line."""
    found: dict[str, str | int] = {}
    if (request := _REQUEST.get()) is not None:
        found["request_id"] = request
    if (deployment := _DEPLOYMENT.get()) is not None:
        found["deployment_id"] = deployment
    return found
