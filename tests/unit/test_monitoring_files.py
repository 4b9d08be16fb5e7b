"""deploy/monitoring/ is valid for the real Prometheus and Alertmanager, and queries real metrics.

promtool and amtool (Debian's `prometheus` and `prometheus-alertmanager`) check
the shipped files; a missing tool fails these tests with the package to
install, rather than skipping them. Metric names are compared with what
chatops' own registry exposes, so a renamed metric breaks the dashboard's test.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from chatops.adapters.metrics import PrometheusMetrics
from chatops.domain.deployment import Deployment, Kind, State

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
RULE_FILES = ("chatops-rules.yml", "bot-rules.example.yml")
REQUIRED_ON_DASHBOARD = (
    "chatops_deployments_total",
    "chatops_deployment_duration_seconds",
    "chatops_build_duration_seconds",
    "chatops_alerts_firing",
    "chatops_slack_ack_seconds",
    "chatops_live_release_info",
    "chatops_health_checks_total",
)
# words of PromQL that look like metric names
_KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
    "atan2",
    "group_left",
    "group_right",
}
_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not installed: `apt-get install {package}` provides it "
            "(these checks use the real tool and are never skipped)",
            pytrace=False,
        )
    return path


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def _load(name: str) -> Any:
    return yaml.safe_load((MONITORING / name).read_text())


# ── the real tools ───────────────────────────────────────────────────────────


@pytest.mark.parametrize("rules", RULE_FILES)
def test_promtool_accepts_the_rule_files(rules: str) -> None:
    result = _run(_tool("promtool", "prometheus"), "check", "rules", str(MONITORING / rules))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("tests", ["chatops-rules.test.yml", "bot-rules.example.test.yml"])
def test_the_rules_fire_when_they_should(tests: str) -> None:
    result = _run(_tool("promtool", "prometheus"), "test", "rules", str(MONITORING / tests))

    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_prometheus_config_with_its_rules(tmp_path: Path) -> None:
    config = _load("prometheus.yml")
    config["rule_files"] = [str(MONITORING / f) for f in config["rule_files"]]
    copy = tmp_path / "prometheus.yml"
    copy.write_text(yaml.safe_dump(config))

    result = _run(_tool("promtool", "prometheus"), "check", "config", str(copy))

    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(Path(f).name for f in config["rule_files"]) == sorted(RULE_FILES)
    assert f"{len(RULE_FILES)} rule files found" in result.stdout


def test_amtool_accepts_the_alertmanager_config() -> None:
    result = _run(
        _tool("amtool", "prometheus-alertmanager"),
        "check-config",
        str(MONITORING / "alertmanager.yml"),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (("alertname=BotDown", "bot=mybot", "env=prod"), "chatops"),
        (
            ("alertname=ChatopsDeploymentsFailing", "bot=mybot", "env=prod", "component=chatops"),
            "ops",
        ),
        (("alertname=ChatopsNoSchedulerLeader", "component=chatops"), "ops"),
        (("alertname=DiskFull", "instance=db1"), "ops"),
        (("alertname=BotDown", "bot=mybot"), "ops"),
    ],
)
def test_alerts_are_routed_on_bot_and_env(labels: tuple[str, ...], receiver: str) -> None:
    result = _run(
        _tool("amtool", "prometheus-alertmanager"),
        "config",
        "routes",
        "test",
        f"--config.file={MONITORING / 'alertmanager.yml'}",
        *labels,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == [receiver]


# ── what the files say ───────────────────────────────────────────────────────


def test_alertmanager_sends_bots_alerts_and_resolutions_to_chatops_with_the_token() -> None:
    config = _load("alertmanager.yml")

    [receiver] = [r for r in config["receivers"] if r["name"] == "chatops"]
    [webhook] = receiver["webhook_configs"]
    assert webhook["url"] == "http://127.0.0.1:3000/alerts/alertmanager"
    assert webhook["send_resolved"] is True
    authorization = webhook["http_config"]["authorization"]
    assert authorization.get("type", "Bearer") == "Bearer"
    assert "credentials_file" in authorization or "credentials" in authorization


def test_prometheus_scrapes_chatops_and_alerts_through_local_alertmanager() -> None:
    config = _load("prometheus.yml")

    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "chatops"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert job["static_configs"][0]["targets"] == ["127.0.0.1:3000"]
    [manager] = config["alerting"]["alertmanagers"]
    assert manager["static_configs"][0]["targets"] == ["127.0.0.1:9093"]
    assert all((MONITORING / f).is_file() for f in config["rule_files"])


def test_chatops_rules_cover_what_the_issue_asks_for() -> None:
    rules = {r["alert"]: r for g in _load("chatops-rules.yml")["groups"] for r in g["rules"]}

    assert "up{" in rules["ChatopsDown"]["expr"]
    assert (
        'chatops_deployments_total{result="failed"}' in rules["ChatopsDeploymentsFailing"]["expr"]
    )
    assert "chatops_alerts_firing" in rules["ChatopsAlertsOpenTooLong"]["expr"]
    assert rules["ChatopsAlertsOpenTooLong"]["for"]
    slow = rules["ChatopsSlowSlackAcks"]["expr"]
    assert "histogram_quantile(0.99" in slow and "chatops_slack_ack_seconds_bucket" in slow
    assert "> 2.5" in slow
    assert "max(chatops_scheduler_leader) == 0" in rules["ChatopsNoSchedulerLeader"]["expr"]
    # chatops' own alerts must not be routed back into chatops
    assert all(r["labels"]["component"] == "chatops" for r in rules.values())


def test_the_example_bot_rules_carry_bot_and_env() -> None:
    for group in _load("bot-rules.example.yml")["groups"]:
        for rule in group["rules"]:
            expr = rule["expr"]
            assert 'bot="' in expr or "bot:" in str(rule.get("labels", {})), rule["alert"]
            grouped = re.findall(r"\bby\s*\(([^)]*)\)", expr)
            assert all(
                {"bot", "env"} <= {g.strip() for g in group_by.split(",")} for group_by in grouped
            )


# ── the dashboard ────────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def exposed() -> set[str]:
    """Every sample name chatops' registry exposes once each metric has been recorded."""
    metrics = PrometheusMetrics()
    now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    deployment = Deployment(
        bot="mybot",
        env="prod",
        kind=Kind.DEPLOY,
        state=State.LIVE,
        requested_by="U0DEV",
        requested_at=now,
        updated_at=now,
        id=1,
        version=3,
    )
    metrics.deployment_finished(deployment, seconds=12.5)
    metrics.build_finished("mybot", seconds=30.0, ok=True)
    metrics.live_release("mybot", "prod", 3)
    metrics.alerts_firing("mybot", "prod", 1)
    metrics.health_check("mybot", "prod", seconds=0.004)
    metrics.slack_ack.observe(0.05)
    metrics.leader.set(1)
    text = metrics.exposition().decode()
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    return loaded


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _queries(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in _panels(dashboard["panels"]) for t in p.get("targets", [])]
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if variable.get("type") == "query":
            exprs.append(query["query"] if isinstance(query, dict) else str(query))
    return exprs


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or a Grafana `label_values(...)`) selects."""
    label_values = re.fullmatch(r"\s*label_values\(\s*([^,)]+?)\s*(?:,[^)]*)?\)\s*", expr)
    if label_values:
        expr = label_values.group(1)
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = re.sub(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text
    )  # grouping labels
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][\w:]*", text):
        word, rest = match.group(), text[match.end() :].lstrip()
        if not rest.startswith("(") and word.lower() not in _KEYWORDS:  # not a function
            names.add(word)
    return names


def test_metric_names_are_read_from_promql() -> None:
    assert metric_names(
        'histogram_quantile(0.99, sum by (le, env) (rate(a_bucket{bot=~"$bot", x="y"}[5m])))'
        " / on (env) group_left b_total > bool 2.5 unless max(c)"
    ) == {"a_bucket", "b_total", "c"}
    assert metric_names("label_values(chatops_live_release_info, bot)") == {
        "chatops_live_release_info"
    }


def test_the_dashboard_parses_and_every_panel_queries_prometheus() -> None:
    dashboard = _dashboard()

    assert dashboard["title"] and dashboard["uid"]
    assert isinstance(dashboard["schemaVersion"], int)
    panels = [p for p in _panels(dashboard["panels"]) if p["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["targets"], panel["title"]
        assert all(t["expr"].strip() for t in panel["targets"]), panel["title"]
        assert panel["datasource"]["type"] == "prometheus", panel["title"]
    ids = [p["id"] for p in _panels(dashboard["panels"])]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


def test_every_metric_the_dashboard_queries_is_one_chatops_exposes(exposed: set[str]) -> None:
    queried = set().union(*(metric_names(e) for e in _queries(_dashboard())))

    assert queried, "the dashboard queries nothing"
    assert queried - exposed == set(), f"not exposed by chatops: {sorted(queried - exposed)}"
    for required in REQUIRED_ON_DASHBOARD:
        assert any(q == required or q.startswith(required + "_") for q in queried), required


def test_every_chatops_metric_the_rules_use_is_one_chatops_exposes(exposed: set[str]) -> None:
    used = {
        name
        for group in _load("chatops-rules.yml")["groups"]
        for rule in group["rules"]
        for name in metric_names(rule["expr"])
    }

    chatops = {n for n in used if n.startswith("chatops_")}
    assert chatops - exposed == set(), f"not exposed by chatops: {sorted(chatops - exposed)}"
    assert used - chatops == {"up"}
