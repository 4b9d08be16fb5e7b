"""PrometheusMetrics: the state gauges follow the database, so every replica reports the same."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from chatops.adapters.metrics import PrometheusMetrics


def _gauge(metrics: PrometheusMetrics, name: str) -> dict[tuple[str, ...], float]:
    text = metrics.exposition().decode()
    return {
        tuple(sorted(s.labels.values())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def test_sync_replaces_what_this_process_saw_with_what_the_database_says() -> None:
    metrics = PrometheusMetrics()
    metrics.live_release("mybot", "prod", 2)  # this replica deployed v2 …
    metrics.live_release("old", "staging", 1)
    metrics.alerts_firing("mybot", "prod", 1)  # … and opened an alert

    # … another replica rolled prod back to v1, resolved that alert, opened one in staging
    metrics.sync(live=[("mybot", "prod", 1)], open_alerts={("mybot", "staging"): 2})

    assert _gauge(metrics, "chatops_live_release_info") == {("mybot", "prod", "v1"): 1.0}
    assert _gauge(metrics, "chatops_alerts_firing") == {
        ("mybot", "prod"): 0.0,
        ("mybot", "staging"): 2.0,
    }


def test_sync_keeps_unchanged_releases_and_live_release_still_moves_them() -> None:
    metrics = PrometheusMetrics()
    metrics.sync(live=[("mybot", "prod", 3)], open_alerts={})
    metrics.sync(live=[("mybot", "prod", 3)], open_alerts={})
    metrics.live_release("mybot", "prod", 4)

    assert _gauge(metrics, "chatops_live_release_info") == {("mybot", "prod", "v4"): 1.0}
    assert _gauge(metrics, "chatops_alerts_firing") == {}


def test_verification_measurements_are_counted_by_verdict() -> None:
    metrics = PrometheusMetrics()
    metrics.measured("mybot", "staging", "error rate", "pass", seconds=0.01)
    metrics.measured("mybot", "staging", "error rate", "pass", seconds=0.02)
    metrics.measured("mybot", "staging", "error rate", "inconclusive", seconds=2.0)
    counted = _gauge(metrics, "chatops_verification_measurements_total")
    assert counted == {
        tuple(sorted(("mybot", "staging", "error rate", "pass"))): 2.0,
        tuple(sorted(("mybot", "staging", "error rate", "inconclusive"))): 1.0,
    }
    assert _gauge(metrics, "chatops_verification_query_seconds_count") == {(): 3.0}
