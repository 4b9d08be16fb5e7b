"""Where queued deployments run: inline (CLI) or on worker threads (serve)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["InlineLauncher", "ThreadLauncher"]

log = logging.getLogger(__name__)


class InlineLauncher:
    """Runs the deployment before returning: the CLI waits for the outcome."""

    def __init__(self, execute: Callable[[int], object]) -> None:
        self._execute = execute

    def launch(self, deployment_id: int) -> None:
        self._execute(deployment_id)


class ThreadLauncher:
    """Runs deployments on a small pool, so requests are answered at once."""

    def __init__(self, execute: Callable[[int], object], *, workers: int = 4) -> None:
        self._execute = execute
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chatops-deploy")
        self._futures: set[Future[object]] = set()

    def launch(self, deployment_id: int) -> None:
        future = self._pool.submit(self._run, deployment_id)
        self._futures.add(future)
        future.add_done_callback(self._futures.discard)

    def _run(self, deployment_id: int) -> object:
        try:
            return self._execute(deployment_id)
        except Exception:
            log.exception("deployment #%s crashed its worker", deployment_id)
            raise

    def shutdown(self, *, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait)
