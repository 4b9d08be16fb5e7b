"""What only `serve` uses from the adapters: Prometheus metrics, and stopping the Slack sender."""

from __future__ import annotations

import logging

from chatops.adapters.metrics import CONTENT_TYPE, PrometheusMetrics
from chatops.adapters.slack_sender import SlackSender, describe_waiting

__all__ = ["CONTENT_TYPE", "SHUTDOWN_FLUSH_SECONDS", "PrometheusMetrics", "stop_sender"]

log = logging.getLogger(__name__)

SHUTDOWN_FLUSH_SECONDS = 5.0  # delivering the last messages when serve stops


def stop_sender(sender: SlackSender, *, flush_seconds: float = SHUTDOWN_FLUSH_SECONDS) -> None:
    """Deliver what is queued for a while, then stop; say what stays queued for the next start."""
    left = sender.stop(flush_seconds=flush_seconds)
    if left:
        log.warning(
            "Slack has not received %s yet; they stay queued for the next start",
            describe_waiting(left),
        )
