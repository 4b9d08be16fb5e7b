"""What many services share: who is asking, the tuning of waits and retries, stand-ins for
metrics and a forge where none is wired, and `required`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TypeVar

from chatops.domain.deployment import Deployment
from chatops.errors import StoreError

__all__ = ["Actor", "NullMetrics", "Tuning", "required"]

T = TypeVar("T")


def required(value: T | None, what: str) -> T:
    """`value`, which an invariant says is there; a StoreError names what was missing."""
    if value is None:
        raise StoreError(
            f"{what} is missing from the database", hint="this is a bug; please report it"
        )
    return value


log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks, and through which door."""

    user: str
    source: str = "cli"  # cli, slack, console, webhook, scheduler, recovery


class NullMetrics:
    """Metrics that go nowhere: for the CLI, which exports none."""

    def deployment_finished(self, deployment: Deployment, *, seconds: float) -> None:
        pass

    def build_finished(self, bot: str, *, seconds: float, ok: bool) -> None:
        pass

    def live_release(self, bot: str, env: str, version: int | None) -> None:
        pass

    def alerts_firing(self, bot: str, env: str, count: int) -> None:
        pass

    def health_check(self, bot: str, env: str, *, seconds: float) -> None:
        pass

    def measured(self, bot: str, env: str, check: str, verdict: str, *, seconds: float) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Tuning:
    health_poll_seconds: float = 0.1
    settle_seconds: float = 1.0  # a container without a health check must stay up this long
    build_slot_wait_seconds: float = 900.0
    heartbeat_seconds: float = 5.0
    stale_after_seconds: float = 60.0
    build_log_tail_lines: int = 40
    cancel_poll_seconds: float = 1.0  # how often a running deployment looks for /cancel
    store_retries: int = 5  # attempts at recording how a deployment ended
    store_retry_seconds: float = 0.5  # the first wait between them; each wait doubles
    restore_retries: int = 6  # attempts at putting back what ran, while the engine is down
    restore_retry_seconds: float = 1.0  # the first wait between them; each wait doubles
    ci_poll_seconds: float = 10.0  # how often pending CI checks are read again
