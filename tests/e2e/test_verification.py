"""Verification end to end: `chatops serve` measures real releases through Debian's prometheus.

Prometheus scrapes a metrics endpoint the test controls (as it would scrape
the bot). A clean release becomes promotable within one interval of the end
of prod's soak; a release that passes its health check but whose error
metric breaks the bound gets an alert with Rollback, is rolled back
automatically (staging has `auto_rollback`), and is never promotable. Where
Prometheus cannot be reached, the inconclusive alert's Promote anyway button
promotes for an approver of prod and for nobody else.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatops.adapters import local_services
from chatops.adapters.local_services import free_port
from chatops.adapters.prometheus import PrometheusQuery
from tests.e2e.conftest import Installation
from tests.e2e.test_monitoring import (
    ServeFactory,
    _blocks,
    _buttons,
    _deploy,
    _healthy_release,
    _message_ts,
    _press,
    _reply,
    _wait,
    _wait_alert,
    monitored,  # noqa: F401 - fixtures used by name
    serve,  # noqa: F401
    slack,  # noqa: F401
)
from tests.slack.standin import SlackStandIn
from tests.verify.metrics_server import MetricsServer, serving

pytestmark = pytest.mark.slow

INTERVAL = 1.0  # verify.interval_seconds
SOAK = 10.0  # prod's soak_seconds


@pytest.fixture
def metrics() -> Iterator[MetricsServer]:
    with serving() as server:
        yield server


@pytest.fixture
def prometheus(tmp_path: Path, metrics: MetricsServer) -> Iterator[str]:
    service = local_services.start_prometheus(
        tmp_path / "prometheus", targets=[metrics.target], scrape_seconds=0.25
    )
    try:
        yield service.env["PROMETHEUS"]
    finally:
        service.stop()


@pytest.fixture
def verified(monitored: Installation, prometheus: str) -> Installation:  # noqa: F811
    environments = monitored.document["environments"]
    environments["staging"]["verify"] = {
        "prometheus": prometheus,
        "interval_seconds": INTERVAL,
        "checks": [
            {
                "name": "errors",
                "query": 'max(bot_errors{bot="{bot}",version="{version}"})',
                "max": 0,
            }
        ],
    }
    environments["prod"]["soak_seconds"] = SOAK
    monitored.write_config()
    return monitored


def _errors(metrics: MetricsServer, prometheus: str, bot: str, **by_version: float) -> None:
    """Serve these error counts and wait until Prometheus has scraped them (a release
    measured before that would have no data)."""
    metrics.text = "".join(
        f'bot_errors{{bot="{bot}",version="{v}"}} {value}\n' for v, value in by_version.items()
    )
    client = PrometheusQuery()
    for version, value in by_version.items():
        query = f'max(bot_errors{{bot="{bot}",version="{version}"}})'
        _wait(
            lambda q=query, want=value: client.query(prometheus, q, timeout=2).value == want,
            timeout=30,
            what=f"Prometheus to scrape {version}'s errors",
        )


def _verification(i: Installation) -> dict[str, object] | None:
    [row] = [r for r in i.json("status", i.bot) if r["env"] == "staging"]
    found: dict[str, object] | None = row["verification"]
    return found


def test_clean_releases_are_promotable_after_the_soak_and_a_failing_metric_rolls_back(
    verified: Installation,
    metrics: MetricsServer,
    prometheus: str,
    serve: ServeFactory,  # noqa: F811
    slack: SlackStandIn,  # noqa: F811
) -> None:
    i = verified
    _errors(metrics, prometheus, i.bot, v1=0, v2=0)
    serve()
    first = _deploy(i)
    went_live = time.monotonic()
    refused = i.run("promote", i.bot, "prod", "--user", "UDEV")
    assert refused.returncode == 1 and "soak" in refused.stderr, refused.stderr
    passed = _wait(
        lambda: (v := _verification(i)) and v["state"] == "passed" and v,
        timeout=SOAK + 15,
        what="verification passed",
    )
    after = time.monotonic() - went_live
    print(f"promotable {after - SOAK:.2f}s after the soak ended")
    assert passed["failures"] == {"errors": 0}
    pending = i.json("promote", i.bot, "prod", "--user", "UDEV")
    assert pending["state"] == "pending_approval", pending
    assert i.run("reject", str(pending["deployment_id"]), "--user", "ULEAD1").returncode == 0

    # v2 is healthy, but its error metric breaks the bound once it runs
    i.repo.commit("errors in production")
    _errors(metrics, prometheus, i.bot, v1=0, v2=3)
    second = _deploy(i)
    assert second["version"] == first["version"] + 1
    _wait(lambda: _healthy_release(i, "staging", "v1"), timeout=60, what="v1 back in staging")
    # the alert is told, with why; rolled back at once, it may reach the channel already
    # resolved (only a message's newest state is sent), so without its buttons
    alert = _wait(
        lambda: next(
            (
                call.body["text"]
                for call in slack.calls("chat.postMessage")
                if f"{i.bot} in staging" in call.body.get("text", "")
                and "failed verification" in call.body.get("text", "")
                and not call.body.get("thread_ts")
            ),
            None,
        ),
        timeout=20,
        what="the alert about the failed verification",
    )
    assert "3 is above the maximum 0" in alert, alert
    [status] = [r for r in i.json("status", i.bot) if r["env"] == "staging"]
    assert (status["version"], status["state"]) == (1, "live")
    releases = {r["version"]: r for r in i.json("releases", i.bot)}
    assert releases[2]["live_in"] == []


@pytest.fixture
def unmeasurable(monitored: Installation) -> Installation:  # noqa: F811
    """Staging verified through a Prometheus that is not there: every measurement is an
    error, which is inconclusive (`on_error`'s default)."""
    monitored.document["environments"]["staging"]["verify"] = {
        "prometheus": f"http://127.0.0.1:{free_port()}",
        "interval_seconds": INTERVAL,
        "checks": [{"name": "errors", "query": 'max(bot_errors{bot="{bot}"})', "max": 0}],
    }
    monitored.write_config()
    return monitored


def test_promote_anyway_is_pressed_by_an_approver_and_refused_to_anyone_else(
    unmeasurable: Installation,
    serve: ServeFactory,  # noqa: F811
    slack: SlackStandIn,  # noqa: F811
) -> None:
    i = unmeasurable
    served = serve()
    live = _deploy(i)
    alert = _wait_alert(slack, i.bot, "staging", timeout=20)
    assert "inconclusive" in alert.body["text"], alert.body["text"]
    assert str(live["deployment_id"]) == _buttons(_blocks(alert))["promote_anyway"]
    refused = i.run("promote", i.bot, "prod", "--user", "ULEAD1")
    assert refused.returncode == 1 and "inconclusive" in refused.stderr, refused.stderr
    ts = _message_ts(slack, alert)

    # UDEV deploys to prod but does not approve there: the button refuses
    _press(served, slack, ts, "promote_anyway", "UDEV", reply="by-dev")
    answer = str(_reply(slack, "by-dev").get("text", ""))
    assert "only approvers of prod may promote past an inconclusive verification" in answer
    assert _pending_in_prod(i) == []

    _press(served, slack, ts, "promote_anyway", "ULEAD1", reply="by-lead")
    answer = str(_reply(slack, "by-lead").get("text", ""))
    pending = _pending_in_prod(i)
    assert len(pending) == 1 and answer.startswith(f"#{pending[0]} "), answer
    approved = i.json("approve", str(pending[0]), "--user", "ULEAD2")
    assert (approved["state"], approved["version"]) == ("live", live["version"]), approved
    audit = i.json("audit", "--bot", i.bot, "--action", "promote", "--limit", "10")
    assert sorted((e["actor"], e["outcome"]) for e in audit) == [
        ("UDEV", "refused"),  # the button
        ("ULEAD1", "ok"),  # the button
        ("ULEAD1", "refused"),  # /promote: the verification is inconclusive
    ], audit


def _pending_in_prod(i: Installation) -> list[int]:
    rows = [r for r in i.json("status", i.bot) if r["env"] == "prod"]
    return [n for r in rows for n in r["pending_approval"]]
