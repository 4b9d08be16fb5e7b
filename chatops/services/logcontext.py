"""The ids a log line is about: the HTTP request and the deployment being worked on.

Set with `bound(...)` where the work begins (the HTTP edge, the pipeline); read by the
JSON log format (`CHATOPS_LOG_FORMAT=json`). Context variables follow the work into
`run_in_threadpool`, work handed to a pool of its own takes them along with `carried`,
and each deployment thread binds its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, copy_context

__all__ = ["bound", "carried", "current"]

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


def carried(job: Callable[[], None]) -> Callable[[], None]:
    """`job`, to be run later on another thread with the ids bound here now (a Slack
    request's work, done by a pool after the request was acknowledged)."""
    context = copy_context()
    return lambda: context.run(job)
