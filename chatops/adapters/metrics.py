"""Prometheus metrics of chatops itself, in a registry of their own (served at /metrics)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from chatops.domain.deployment import Deployment

__all__ = ["CONTENT_TYPE", "PrometheusMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_DURATIONS = (1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800)


class PrometheusMetrics:
    """Implements the Metrics port, plus the HTTP layer's own timings."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._deployments = Counter(
            "chatops_deployments_total",
            "Deployments that ended, by outcome.",
            ["bot", "env", "kind", "result"],
            registry=self.registry,
        )
        self._deployment_seconds = Histogram(
            "chatops_deployment_duration_seconds",
            "Time from a deployment starting to run until it ended.",
            ["bot", "env", "kind"],
            buckets=_DURATIONS,
            registry=self.registry,
        )
        self._build_seconds = Histogram(
            "chatops_build_duration_seconds",
            "Time to build and push one release image.",
            ["bot", "result"],
            buckets=_DURATIONS,
            registry=self.registry,
        )
        self._alerts_firing = Gauge(
            "chatops_alerts_firing",
            "Open (firing or acknowledged) alerts.",
            ["bot", "env"],
            registry=self.registry,
        )
        self._live = Gauge(
            "chatops_live_release_info",
            "The release live in each environment (value 1).",
            ["bot", "env", "version"],
            registry=self.registry,
        )
        self._checks = Counter(
            "chatops_health_checks_total",
            "Health checks run by this process.",
            ["bot", "env"],
            registry=self.registry,
        )
        self._check_seconds = Histogram(
            "chatops_health_check_seconds",
            "Time one health check took.",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self._measurements = Counter(
            "chatops_verification_measurements_total",
            "Verification measurements taken, by verdict (pass, fail, inconclusive).",
            ["bot", "env", "check", "verdict"],
            registry=self.registry,
        )
        self._measure_seconds = Histogram(
            "chatops_verification_query_seconds",
            "Time one verification query to Prometheus took.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.slack_ack = Histogram(
            "chatops_slack_ack_seconds",
            "Time to answer a Slack request (Slack allows 3 s).",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 3, 5),
            registry=self.registry,
        )
        self.leader = Gauge(
            "chatops_scheduler_leader",
            "1 while this process holds the scheduler lease.",
            registry=self.registry,
        )
        self._chat_messages = Counter(
            "chatops_slack_messages_total",
            "Slack messages the outbox sender handled, by result (sent, retried, given_up).",
            ["result"],
            registry=self.registry,
        )
        self._chat_queued = Gauge(
            "chatops_slack_outbox_queued",
            "Slack messages waiting in the outbox, as the sender last counted them.",
            registry=self.registry,
        )
        self._live_versions: dict[tuple[str, str], str] = {}
        self._alert_keys: set[tuple[str, str]] = set()
        self._guard = threading.Lock()

    def deployment_finished(self, deployment: Deployment, *, seconds: float) -> None:
        labels = (deployment.bot, deployment.env, str(deployment.kind))
        self._deployments.labels(*labels, str(deployment.state)).inc()
        self._deployment_seconds.labels(*labels).observe(seconds)

    def build_finished(self, bot: str, *, seconds: float, ok: bool) -> None:
        self._build_seconds.labels(bot, "ok" if ok else "failed").observe(seconds)

    def live_release(self, bot: str, env: str, version: int | None) -> None:
        with self._guard:
            old = self._live_versions.pop((bot, env), None)
            if old is not None:
                self._live.remove(bot, env, old)
            if version is not None:
                self._live_versions[(bot, env)] = f"v{version}"
                self._live.labels(bot, env, f"v{version}").set(1)

    def alerts_firing(self, bot: str, env: str, count: int) -> None:
        with self._guard:
            self._alert_keys.add((bot, env))
            self._alerts_firing.labels(bot, env).set(count)

    def sync(
        self,
        *,
        live: Iterable[tuple[str, str, int]],
        open_alerts: Mapping[tuple[str, str], int],
    ) -> None:
        """Make the state gauges say what the database says.

        Each process only sees the changes it made itself; this (called before
        each scrape) makes every replica, and a restarted one, report the same
        live releases and open alerts.
        """
        wanted = {(bot, env): f"v{version}" for bot, env, version in live}
        with self._guard:
            for key, version in list(self._live_versions.items()):
                if wanted.get(key) != version:
                    self._live.remove(*key, version)
                    del self._live_versions[key]
            for key, version in wanted.items():
                if key not in self._live_versions:
                    self._live_versions[key] = version
                    self._live.labels(*key, version).set(1)
            self._alert_keys |= set(open_alerts)
            for key in self._alert_keys:
                self._alerts_firing.labels(*key).set(open_alerts.get(key, 0))

    def health_check(self, bot: str, env: str, *, seconds: float) -> None:
        self._checks.labels(bot, env).inc()
        self._check_seconds.observe(seconds)

    def measured(self, bot: str, env: str, check: str, verdict: str, *, seconds: float) -> None:
        self._measurements.labels(bot, env, check, verdict).inc()
        self._measure_seconds.observe(seconds)

    def chat_message(self, result: str) -> None:
        self._chat_messages.labels(result).inc()

    def chat_queued(self, count: int) -> None:
        self._chat_queued.set(count)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
