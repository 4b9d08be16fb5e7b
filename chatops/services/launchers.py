"""Where queued deployments run: inline (CLI) or on threads of their own (serve)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ["InlineLauncher", "ThreadLauncher"]

log = logging.getLogger(__name__)


class InlineLauncher:
    """Runs the deployment before returning: the CLI waits for the outcome."""

    def __init__(self, execute: Callable[[int], object]) -> None:
        self._execute = execute

    def launch(self, deployment_id: int) -> None:
        self._execute(deployment_id)


class ThreadLauncher:
    """Runs each deployment on a thread of its own, so requests are answered at once.

    There is no pool to wait for: one slow or stuck deployment never holds up
    another (and at most one runs per bot and environment anyway). On shutdown,
    running deployments get `grace_seconds` to finish; whatever is left is failed
    by the next start's recovery, which restores what ran before.
    """

    def __init__(self, execute: Callable[[int], object], *, grace_seconds: float = 30.0) -> None:
        self._execute = execute
        self._grace = grace_seconds
        self._guard = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._closed = False

    def launch(self, deployment_id: int) -> None:
        thread = threading.Thread(
            target=self._run, args=(deployment_id,), name=f"chatops-deploy-{deployment_id}"
        )
        thread.daemon = True  # a stuck one must not keep the process from ending
        with self._guard:
            if self._closed:
                log.warning("shutting down: deployment #%s is left to recovery", deployment_id)
                return
            self._threads.add(thread)
        thread.start()

    def running(self) -> int:
        """How many deployments run now."""
        with self._guard:
            return len(self._threads)

    def _run(self, deployment_id: int) -> None:
        try:
            self._execute(deployment_id)
        except Exception:
            log.exception("deployment #%s crashed its thread", deployment_id)
        finally:
            with self._guard:
                self._threads.discard(threading.current_thread())

    def shutdown(self, *, wait: bool = True) -> None:
        """Take no more; wait up to the grace time for the running ones."""
        with self._guard:
            self._closed = True
            threads = list(self._threads)
        if not wait:
            return
        deadline = time.monotonic() + self._grace
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        left = [thread.name for thread in threads if thread.is_alive()]
        if left:
            log.warning(
                "stopping with %s still running: the next start fails them and restores "
                "what ran before",
                ", ".join(left),
            )
