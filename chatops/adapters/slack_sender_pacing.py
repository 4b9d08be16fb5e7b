"""How fast the Slack sender writes and where it counts what it did, and the summary of
what waits in the outbox."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from chatops.adapters.db.outbox import Waiting

__all__ = ["DeliveryMetrics", "Pacing", "describe_waiting"]


class DeliveryMetrics(Protocol):
    """Where the sender counts what it did (PrometheusMetrics in `serve`)."""

    def chat_message(self, result: str) -> None:
        """One message `sent`, `retried` or `given_up`."""
        ...

    def chat_queued(self, count: int) -> None:
        """How many messages wait in the outbox."""
        ...


@dataclass(frozen=True, slots=True)
class Pacing:
    """How fast the sender writes to Slack, and how patiently it retries.

    Slack allows about one chat.postMessage per second per channel (the margin keeps
    the jitter of the network and the database from turning that into two); chat.update
    (Tier 3, about 50 a minute per workspace) gets the same gentle pace.
    """

    post_seconds: float = 1.1
    update_seconds: float = 1.1
    first_retry_seconds: float = 1.0
    max_retry_seconds: float = 300.0
    claim_seconds: float = 30.0  # longer than a call can take (client timeout, one retry)
    idle_seconds: float = 2.0  # how often an idle sender looks for other processes' messages


def describe_waiting(waiting: Collection[Waiting]) -> str:
    """`3 messages (deployment:12, alert:4, …); last error: HTTP 500 internal_error`."""
    subjects = [w.subject for w in waiting]
    shown = ", ".join(subjects[:5]) + (", …" if len(subjects) > 5 else "")
    errors = [w.last_error for w in waiting if w.last_error]
    text = f"{len(subjects)} message{'s' if len(subjects) != 1 else ''} ({shown})"
    return text + (f"; last error: {errors[-1]}" if errors else "; not tried yet")
