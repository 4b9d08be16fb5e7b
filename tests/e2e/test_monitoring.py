"""Monitoring end to end: `chatops serve` watching real containers, talking to the Slack stand-in.

Health checks run every second in these tests. A killed or unhealthy bot
becomes one alert message with a Rollback button; pressing it rolls back; a
release that breaks after going live in an `auto_rollback` environment is
rolled back without a click; a bot that recovers gets "resolved" in its
alert's thread. Alertmanager's webhook is exercised directly and through the
real Debian Alertmanager, Prometheus scrapes /metrics, and two `serve`
replicas on one PostgreSQL share the scheduled jobs through the lease.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import docker.errors
import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from chatops.adapters.local_services import free_port
from chatops.entrypoints.sample import DOCKERFILE
from tests.e2e.conftest import Installation
from tests.e2e.serving import ALERT_TOKEN, BOT_TOKEN, SIGNING_SECRET, Served
from tests.slack import signing
from tests.slack.standin import RESPONSE_URL, Call, SlackStandIn

pytestmark = pytest.mark.slow

INTERVAL = 1.0  # health_interval_seconds of both environments
LEASE = 3.0  # CHATOPS_LEASE_SECONDS
SLACK = 3.0  # what detection may take beyond two check intervals
CHANNEL = "C0DEPLOYS"
MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
# healthy for a few seconds, then its health check fails for good
FLAKY_AFTER = 6
FLAKY_DOCKERFILE = DOCKERFILE.replace(
    'CMD exec httpd -f -p "127.0.0.1:$PORT" -h /www',
    f'CMD (sleep {FLAKY_AFTER}; rm /www/healthz) & exec httpd -f -p "127.0.0.1:$PORT" -h /www',
)

T = TypeVar("T")


def _wait(predicate: Callable[[], T | None], *, timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# ── fixtures ─────────────────────────────────────────────────────────────────


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        yield standin


@pytest.fixture
def monitored(installation: Installation) -> Installation:
    """The installation with health checks every second; staging rolls back by itself."""
    environments = installation.document["environments"]
    environments["staging"].update(
        health_interval_seconds=INTERVAL,
        auto_rollback=True,
        auto_rollback_window_seconds=600,
    )
    environments["prod"].update(health_interval_seconds=INTERVAL)
    installation.write_config()
    return installation


ServeFactory = Callable[..., Served]


@pytest.fixture
def serve(monitored: Installation, slack: SlackStandIn) -> Iterator[ServeFactory]:
    """Starts `chatops serve` processes (Slack pointed at the stand-in); stops them by pid."""
    started: list[Served] = []

    def start(**env: str) -> Served:
        served = Served(
            monitored.config,
            {
                **monitored.env,
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": slack.base_url,
                "CHATOPS_ALERT_TOKEN": ALERT_TOKEN,
                **env,
            },
        )
        started.append(served)
        return served.start()

    try:
        yield start
    finally:
        for served in started:
            served.stop()
            print(f"── serve on port {served.port} ──\n{served.output()[-4000:]}")


# ── helpers ──────────────────────────────────────────────────────────────────


def _deploy(i: Installation, env: str = "staging") -> dict[str, Any]:
    outcome: dict[str, Any] = i.json("deploy", i.bot, env, "--user", "UDEV")
    assert outcome["state"] == "live", outcome
    return outcome


def _promote(i: Installation) -> dict[str, Any]:
    """Promote what is live in staging to prod, approved by a lead."""
    pending = i.json("promote", i.bot, "prod", "--user", "UDEV")
    assert pending["state"] == "pending_approval", pending
    live: dict[str, Any] = i.json("approve", str(pending["deployment_id"]), "--user", "ULEAD1")
    assert live["state"] == "live", live
    return live


def _two_releases_in_prod(i: Installation) -> None:
    _deploy(i)
    _promote(i)
    i.repo.commit("second version")
    _deploy(i)
    _promote(i)
    assert i.running_release("prod") == "v2"


def _buttons(blocks: list[dict[str, Any]]) -> dict[str, str]:
    """action_id → value of every button in `blocks`."""
    return {
        element["action_id"]: element.get("value", "")
        for block in blocks
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    }


def _blocks(call: Call) -> list[dict[str, Any]]:
    blocks = call.body.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


def _alert_posts(slack: SlackStandIn, bot: str, env: str) -> list[Call]:
    """The alert messages posted (not updated, not thread replies) about `bot` in `env`."""
    return [
        call
        for call in slack.calls("chat.postMessage")
        if not call.body.get("thread_ts")
        and f"Alert: {bot} in {env}" in call.body.get("text", "")
        and "ack_alert" in _buttons(_blocks(call))
    ]


def _wait_alert(slack: SlackStandIn, bot: str, env: str, *, timeout: float = 30) -> Call:
    return _wait(
        lambda: next(iter(_alert_posts(slack, bot, env)), None),
        timeout=timeout,
        what=f"an alert about {bot} in {env}",
    )


def _texts(value: Any) -> list[str]:
    """Every `text` string in Block Kit blocks, in order."""
    if isinstance(value, list):
        return [t for item in value for t in _texts(item)]
    if isinstance(value, dict):
        text = value.get("text")
        own = [text] if isinstance(text, str) else []
        return own + [t for k, v in value.items() if k != "text" or not own for t in _texts(v)]
    return []


def _shown(slack: SlackStandIn, ts: str) -> str:
    """A message as the channel shows it now (text and blocks, after every update)."""
    message = slack.messages()[ts]
    return "\n".join([message.text, *_texts(message.blocks)])


def _resolved_reply(slack: SlackStandIn, ts: str) -> str | None:
    for reply in slack.thread(ts):
        if "Resolved" in reply.text:
            return reply.text
    return None


def _healthy_release(i: Installation, env: str, version: str) -> bool:
    try:
        return i.running_release(env) == version and i.health(env) == "healthy"
    except docker.errors.APIError:  # the container is being replaced
        return False


def _message_ts(slack: SlackStandIn, post: Call) -> str:
    """The ts the stand-in gave the alert message `post` (found by its alert id, while firing)."""
    alert_id = _buttons(_blocks(post))["ack_alert"]
    [ts] = [
        m.ts
        for m in slack.messages().values()
        if m.thread_ts is None and _buttons(m.blocks).get("ack_alert") == alert_id
    ]
    return ts


def _press(
    served: Served, slack: SlackStandIn, ts: str, action_id: str, user: str, *, reply: str = ""
) -> None:
    """Press the button `action_id` of the message `ts` as `user`, signed as Slack does;
    the answer goes to the response_url named `reply` (default: the action id)."""
    message = slack.messages()[ts]
    body, headers = signing.block_action(
        action_id,
        _buttons(message.blocks)[action_id],
        user=user,
        channel=message.channel,
        message_ts=ts,
        message={"text": message.text, "blocks": message.blocks},
        response_url=slack.response_url(reply or action_id),
        secret=SIGNING_SECRET,
    )
    assert served.post("/slack/events", body, headers).status_code == 200


def _reply(slack: SlackStandIn, name: str) -> dict[str, Any]:
    """What chatops answered at the response_url `name`."""
    call = slack.wait_for(lambda c: c.path == f"/response/{name}", method=RESPONSE_URL)
    return dict(call.body)


def _samples(served: Served) -> list[Any]:
    response = httpx.get(f"{served.url}/metrics", timeout=10)
    assert response.status_code == 200
    return [s for f in text_string_to_metric_families(response.text) for s in f.samples]


def _metric(served: Served, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(
        s.value
        for s in _samples(served)
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def _am_payload(
    bot: str, env: str, status: str, *, fingerprint: str = "c0ffee00"
) -> dict[str, Any]:
    """An Alertmanager webhook payload (version 4) with one alert."""
    now = datetime.now(UTC)
    labels = {"alertname": "BotHighErrorRate", "bot": bot, "env": env, "severity": "warning"}
    annotations = {"summary": f"{bot} in {env} fails 12% of its requests"}
    return {
        "version": "4",
        "groupKey": '{}/{bot=~".+",env=~".+"}:{alertname="BotHighErrorRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "chatops",
        "groupLabels": {"alertname": "BotHighErrorRate"},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": annotations,
                "startsAt": (now - timedelta(minutes=5)).isoformat(),
                "endsAt": now.isoformat() if status == "resolved" else "0001-01-01T00:00:00Z",
                "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=x",
                "fingerprint": fingerprint,
            }
        ],
    }


def _post_alerts(
    served: Served, body: bytes | dict[str, Any], token: str | None = ALERT_TOKEN
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return served.post("/alerts/alertmanager", content, headers)


# ── chatops' own health checks ───────────────────────────────────────────────


def test_a_killed_bot_is_one_alert_whose_rollback_button_restores_the_previous_release(
    monitored: Installation, serve: ServeFactory, slack: SlackStandIn
) -> None:
    i = monitored
    _two_releases_in_prod(i)
    served = serve()
    time.sleep(2 * INTERVAL)  # a few passing checks first

    i.container("prod").kill()
    killed = time.monotonic()
    alert = _wait_alert(slack, i.bot, "prod")

    latency = alert.at - killed
    print(f"detection latency after docker kill: {latency:.2f}s")
    assert latency < 2 * INTERVAL + SLACK, f"the alert took {latency:.1f}s"
    assert "rollback" in _buttons(_blocks(alert))
    assert "the container is not running" in alert.body["text"]
    ts = _message_ts(slack, alert)
    _press(served, slack, ts, "rollback", "ULEAD1")
    _wait(lambda: _healthy_release(i, "prod", "v1"), timeout=60, what="v1 healthy in prod again")
    _wait(lambda: _resolved_reply(slack, ts), timeout=15, what="the alert resolved")
    time.sleep(2 * INTERVAL)  # later checks must not post another alert
    assert len(_alert_posts(slack, i.bot, "prod")) == 1
    [status] = [row for row in i.json("status", i.bot) if row["env"] == "prod"]
    assert (status["version"], status["state"]) == (1, "live")


def test_a_release_that_breaks_after_going_live_is_rolled_back_automatically_and_said_why(
    monitored: Installation, serve: ServeFactory, slack: SlackStandIn
) -> None:
    i = monitored
    _deploy(i)
    serve()
    i.repo.commit("breaks a while after start", files={"Dockerfile": FLAKY_DOCKERFILE})

    outcome = _deploy(i)  # healthy at first: it passes the health gate

    assert outcome["version"] == 2
    went_live = time.monotonic()
    alert = _wait_alert(slack, i.bot, "staging", timeout=FLAKY_AFTER + 30)
    ts = _message_ts(slack, alert)
    _wait(lambda: _healthy_release(i, "staging", "v1"), timeout=60, what="v1 back in staging")
    assert time.monotonic() - went_live > FLAKY_AFTER - 1, "it broke only after going live"
    said = _wait(
        lambda: (
            "rolled back automatically to v1" in (shown := _shown(slack, ts))
            and "Resolved" in shown  # v2 no longer runs, so its alert is over
            and shown
        ),
        timeout=15,
        what="the alert saying the rollback is done, resolved",
    )
    assert f"{i.bot} v2 in staging is unhealthy: its health check fails" in said
    [rollback] = [
        m
        for m in slack.messages().values()
        if m.text.startswith(f"✅ Automatic rollback of {i.bot} in staging to v1: live")
    ]
    shown = _shown(slack, rollback.ts)
    assert "*Rolled back from*\nv2" in shown
    assert "*Requested by*\nchatops" in shown, "nobody clicked: chatops rolled back"
    [status] = i.json("status", i.bot)
    assert (status["version"], status["state"]) == (1, "live")
    assert len(_alert_posts(slack, i.bot, "staging")) == 1


def test_a_bot_that_recovers_by_itself_gets_resolved_in_the_alerts_thread(
    monitored: Installation, serve: ServeFactory, slack: SlackStandIn
) -> None:
    i = monitored
    _deploy(i)
    _promote(i)
    served = serve()

    i.container("prod").exec_run(["rm", "/www/healthz"])
    alert = _wait_alert(slack, i.bot, "prod")
    ts = _message_ts(slack, alert)
    assert "health check fails" in alert.body["text"]
    # the channel gets a Logs button, not the lines: they are for prod's viewers alone
    assert "Last log lines" not in _shown(slack, ts)
    _press(served, slack, ts, "logs", "ULEAD1", reply="viewer")
    _press(served, slack, ts, "logs", "U0OUTSIDER", reply="outsider")
    shown = _reply(slack, "viewer")
    assert shown["response_type"] == "ephemeral"
    assert shown["text"].startswith(f"Last lines of {i.bot} in prod")
    refused = _reply(slack, "outsider")
    assert refused["response_type"] == "ephemeral"
    assert refused["text"].startswith("U0OUTSIDER may not read the logs of prod — ")
    i.container("prod").exec_run(["sh", "-c", "echo ok > /www/healthz"])

    reply = _wait(lambda: _resolved_reply(slack, ts), timeout=30, what="resolved in the thread")

    assert f"{i.bot} in prod is healthy again" in reply
    [resolved] = [m for m in slack.thread(ts) if "Resolved" in m.text]
    assert resolved.channel == CHANNEL
    assert "Resolved" in _shown(slack, ts), "the alert message itself says resolved"
    assert "rollback" not in _buttons(slack.messages()[ts].blocks)
    assert i.running_release("prod") == "v1", "nobody rolled anything back"
    assert len(_alert_posts(slack, i.bot, "prod")) == 1


# ── Alertmanager's webhook ───────────────────────────────────────────────────


def test_alertmanager_alerts_open_update_and_resolve_one_message_and_bad_calls_are_refused(
    monitored: Installation, serve: ServeFactory, slack: SlackStandIn
) -> None:
    i = monitored
    _deploy(i)
    _promote(i)
    served = serve()
    statuses: list[int] = []

    def post(body: bytes | dict[str, Any], token: str | None = ALERT_TOKEN) -> httpx.Response:
        response = _post_alerts(served, body, token)
        statuses.append(response.status_code)
        return response

    firing = _am_payload(i.bot, "prod", "firing")
    first = post(firing)
    assert (first.status_code, first.json()["opened"]) == (200, 1), first.text
    alert = _wait_alert(slack, i.bot, "prod")
    ts = _message_ts(slack, alert)
    assert "rollback" in _buttons(_blocks(alert))
    assert f"{i.bot} in prod fails 12% of its requests" in alert.body["text"]
    assert "Alertmanager" in _shown(slack, ts)

    again = post(firing)
    assert (again.status_code, again.json()["updated"]) == (200, 1), again.text
    _wait(lambda: slack.messages()[ts].edits >= 1, timeout=15, what="the alert message updated")
    assert "2 times" in _shown(slack, ts)
    assert [c.body["ts"] for c in slack.calls("chat.update")] == [ts]
    assert len(_alert_posts(slack, i.bot, "prod")) == 1

    resolved = post(_am_payload(i.bot, "prod", "resolved"))
    assert (resolved.status_code, resolved.json()["resolved"]) == (200, 1), resolved.text
    assert _wait(lambda: _resolved_reply(slack, ts), timeout=15, what="resolved in the thread")
    assert "Resolved" in _shown(slack, ts)

    assert post(firing, token="wrong-token").status_code == 401
    assert post(firing, token=None).status_code == 401
    assert post(b"{not json").status_code == 400
    assert post(b"[1, 2]").status_code == 400
    assert post({"version": "4", "alerts": [{"status": "odd"}]}).status_code == 400
    ghost = post(_am_payload("ghost", "prod", "firing", fingerprint="0ddba11"))
    assert ghost.status_code == 202 and "unknown bot" in ghost.text, ghost.text
    assert post(_am_payload(i.bot, "qa", "firing")).status_code == 202
    assert post(_am_payload(i.bot, "prod", "resolved", fingerprint="feedf00d")).status_code == 202
    assert all(code < 500 for code in statuses), statuses
    time.sleep(0.5)
    assert len(_alert_posts(slack, i.bot, "prod")) == 1, "refused calls post nothing"


# ── /metrics ─────────────────────────────────────────────────────────────────


def _slash(served: Served, slack: SlackStandIn, text: str, user: str = "UDEV") -> None:
    body, headers = signing.slash_command(
        "/deploy", text, user=user, response_url=slack.response_url(), secret=SIGNING_SECRET
    )
    response = served.post("/slack/events", body, headers)
    assert response.status_code == 200, response.text


def test_metrics_parse_and_count_the_deployments_serve_ran(
    monitored: Installation, serve: ServeFactory, slack: SlackStandIn
) -> None:
    i = monitored
    served = serve()

    _slash(served, slack, f"{i.bot} staging")
    _wait(lambda: _healthy_release(i, "staging", "v1"), timeout=60, what="v1 live")
    i.repo.commit("second version")
    _wait(
        lambda: _metric(served, "chatops_deployments_total", bot=i.bot, result="live") == 1,
        timeout=30,
        what="the first deployment counted",
    )
    _slash(served, slack, f"{i.bot} staging")
    _wait(
        lambda: _metric(served, "chatops_deployments_total", bot=i.bot, result="live") == 2,
        timeout=60,
        what="the second deployment counted",
    )

    samples = _samples(served)
    live = [
        s for s in samples if s.name == "chatops_live_release_info" and s.labels["bot"] == i.bot
    ]
    assert [(s.labels["env"], s.labels["version"], s.value) for s in live] == [
        ("staging", "v2", 1.0)
    ]
    [deployed] = [
        s
        for s in samples
        if s.name == "chatops_deployments_total"
        and s.labels == {"bot": i.bot, "env": "staging", "kind": "deploy", "result": "live"}
    ]
    assert deployed.value == 2
    assert _metric(served, "chatops_deployment_duration_seconds_count", bot=i.bot) == 2
    assert _metric(served, "chatops_build_duration_seconds_count", bot=i.bot, result="ok") == 2
    assert _metric(served, "chatops_slack_ack_seconds_count") >= 2
    _wait(
        lambda: _metric(served, "chatops_health_checks_total", bot=i.bot, env="staging") > 0,
        timeout=3 * INTERVAL + 2,
        what="health checks of v2 counted",
    )
    assert _metric(served, "chatops_scheduler_leader") == 1
    assert _metric(served, "chatops_deployments_total", result="failed") == 0


# ── two replicas, one lease ──────────────────────────────────────────────────


def _checks(served: Served, bot: str) -> float:
    return _metric(served, "chatops_health_checks_total", bot=bot)


def test_two_replicas_on_postgresql_share_the_checks_and_the_survivor_takes_over(
    postgres_url: str, monitored: Installation, serve: ServeFactory
) -> None:
    # (postgres_url first: its database is dropped only after the replicas stopped)
    i = monitored
    i.document["database_url"] = postgres_url
    i.write_config()
    assert i.run("db", "upgrade").returncode == 0
    _deploy(i)  # one live deployment, checked every INTERVAL
    replicas = [serve(CHATOPS_LEASE_SECONDS=str(LEASE)) for _ in range(2)]
    _wait(
        lambda: sum(_checks(r, i.bot) for r in replicas) >= 2,
        timeout=LEASE + 10,
        what="health checks running",
    )

    window = 8.0
    before = [_checks(r, i.bot) for r in replicas]
    time.sleep(window)
    after = [_checks(r, i.bot) for r in replicas]

    ran = [a - b for a, b in zip(after, before, strict=True)]
    expected = window / INTERVAL
    assert expected - 2 <= sum(ran) <= expected + 2, f"checks per replica in {window}s: {ran}"
    leaders = [_metric(r, "chatops_scheduler_leader") for r in replicas]
    assert sorted(leaders) == [0, 1], leaders
    holder, other = (replicas[0], replicas[1]) if leaders[0] == 1 else (replicas[1], replicas[0])
    assert ran[replicas.index(other)] == 0, "the replica without the lease runs no checks"

    # an alert opened through one replica and resolved through the other: both report it
    assert _post_alerts(other, _am_payload(i.bot, "staging", "firing")).status_code == 200
    firing = [_metric(r, "chatops_alerts_firing", bot=i.bot, env="staging") for r in replicas]
    assert firing == [1, 1]
    assert _post_alerts(holder, _am_payload(i.bot, "staging", "resolved")).status_code == 200
    firing = [_metric(r, "chatops_alerts_firing", bot=i.bot, env="staging") for r in replicas]
    assert firing == [0, 0]
    live = [_metric(r, "chatops_live_release_info", bot=i.bot, version="v1") for r in replicas]
    assert live == [1, 1]

    holder.kill()  # SIGKILL: the lease is never given up
    killed = time.monotonic()
    base = _checks(other, i.bot)
    _wait(
        lambda: _metric(other, "chatops_scheduler_leader") == 1 and _checks(other, i.bot) > base,
        timeout=LEASE + INTERVAL + 20,
        what="the survivor taking over the checks",
    )
    took = time.monotonic() - killed
    print(f"take-over after SIGKILL of the lease holder: {took:.2f}s")
    # the lease expires LEASE after the last renewal; the survivor retries every LEASE / 3
    # (at least 1 s), then the next check is at most INTERVAL away
    assert took < LEASE + max(1.0, LEASE / 3) + INTERVAL + 1, f"the survivor took {took:.1f}s"
    time.sleep(3 * INTERVAL)
    assert _checks(other, i.bot) - base >= 2, "and it keeps running them"


# ── the real Alertmanager and Prometheus ─────────────────────────────────────


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not installed: `apt-get install {package}`", pytrace=False)
    return path


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Starts a Prometheus-style daemon on 127.0.0.1 and waits for /-/ready; stops it by pid."""
    processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(name: str, *args: str, port: int) -> str:
        log = tmp_path / f"{Path(name).name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [name, *args], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        processes.append((process, log))
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            assert process.poll() is None, f"{name} exited:\n{log.read_text()[-3000:]}"
            try:
                return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        _wait(ready, timeout=30, what=f"{name} ready")
        return url

    try:
        yield start
    finally:
        for process, log in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=15)
            print(f"── {log.name} ──\n{log.read_text(errors='replace')[-3000:]}")


def _alertmanager_config(served: Served, token_file: Path) -> dict[str, Any]:
    """The shipped alertmanager.yml, pointed at this chatops, grouping and flushing fast."""
    config: dict[str, Any] = yaml.safe_load((MONITORING / "alertmanager.yml").read_text())
    routes = [config["route"]]
    while routes:
        route = routes.pop()
        route.update(group_wait="1s", group_interval="1s")
        routes.extend(route.get("routes", []))
    [receiver] = [r for r in config["receivers"] if r["name"] == "chatops"]
    [webhook] = receiver["webhook_configs"]
    webhook["url"] = webhook["url"].replace("http://127.0.0.1:3000", served.url)
    webhook["http_config"]["authorization"] = {
        "type": "Bearer",
        "credentials_file": str(token_file),
    }
    return config


def _prometheus_config(served: Served, alertmanager: str) -> dict[str, Any]:
    """The shipped prometheus.yml scraping this chatops every second."""
    config: dict[str, Any] = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(MONITORING / f) for f in config["rule_files"]]
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "chatops"]
    job["static_configs"] = [{"targets": [served.url.removeprefix("http://")]}]
    [manager] = config["alerting"]["alertmanagers"]
    manager["static_configs"] = [{"targets": [alertmanager.removeprefix("http://")]}]
    return config


def _push(alertmanager: str, bot: str, env: str, *, ends: datetime | None = None) -> None:
    now = datetime.now(UTC)
    alert: dict[str, Any] = {
        "labels": {"alertname": "BotDown", "bot": bot, "env": env, "severity": "critical"},
        "annotations": {"summary": f"{bot} in {env} does not answer /metrics"},
        "startsAt": (now - timedelta(minutes=1)).isoformat(),
        "generatorURL": "http://127.0.0.1:9090/graph",
    }
    if ends is not None:
        alert["endsAt"] = ends.isoformat()
    response = httpx.post(f"{alertmanager}/api/v2/alerts", json=[alert], timeout=10)
    assert response.status_code == 200, response.text


def test_the_shipped_configs_with_the_real_alertmanager_and_prometheus(
    monitored: Installation,
    serve: ServeFactory,
    slack: SlackStandIn,
    daemons: Callable[..., str],
    tmp_path: Path,
) -> None:
    i = monitored
    alertmanager_bin = _tool("prometheus-alertmanager", "prometheus-alertmanager")
    prometheus_bin = _tool("prometheus", "prometheus")
    served = serve()
    _slash(served, slack, f"{i.bot} staging")
    token = tmp_path / "alert-token"
    token.write_text(ALERT_TOKEN)
    am_config = tmp_path / "alertmanager.yml"
    am_config.write_text(yaml.safe_dump(_alertmanager_config(served, token)))
    am_port = free_port()
    alertmanager = daemons(
        alertmanager_bin,
        f"--config.file={am_config}",
        f"--storage.path={tmp_path / 'alertmanager'}",
        f"--web.listen-address=127.0.0.1:{am_port}",
        "--cluster.listen-address=",
        port=am_port,
    )
    prom_config = tmp_path / "prometheus.yml"
    prom_config.write_text(yaml.safe_dump(_prometheus_config(served, alertmanager)))
    prom_port = free_port()
    prometheus = daemons(
        prometheus_bin,
        f"--config.file={prom_config}",
        f"--storage.tsdb.path={tmp_path / 'prometheus'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
        port=prom_port,
    )
    _wait(  # live in chatops' records, not only healthy: else the alert matches nothing
        lambda: _metric(served, "chatops_deployments_total", bot=i.bot, result="live") == 1,
        timeout=60,
        what="v1 live in staging",
    )

    _push(alertmanager, i.bot, "staging")
    alert = _wait_alert(slack, i.bot, "staging", timeout=30)
    ts = _message_ts(slack, alert)
    assert "rollback" in _buttons(_blocks(alert))
    assert f"{i.bot} in staging does not answer /metrics" in alert.body["text"]
    assert "Alertmanager" in _shown(slack, ts)
    _push(alertmanager, i.bot, "staging", ends=datetime.now(UTC) - timedelta(seconds=1))
    _wait(lambda: _resolved_reply(slack, ts), timeout=30, what="resolved through Alertmanager")
    assert len(_alert_posts(slack, i.bot, "staging")) == 1

    def chatops_target() -> dict[str, Any] | None:
        targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]
        found = [t for t in targets["activeTargets"] if t["labels"]["job"] == "chatops"]
        return found[0] if found and found[0]["health"] == "up" else None

    target = _wait(chatops_target, timeout=30, what="Prometheus scraping chatops")
    assert target["scrapeUrl"] == f"{served.url}/metrics"

    def deployments() -> float | None:
        query = f'sum(chatops_deployments_total{{bot="{i.bot}", result="live"}})'
        data = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=5)
        result = data.json()["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    assert _wait(deployments, timeout=30, what="the deployment count in Prometheus") == 1.0
    rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    assert {g["name"] for g in rules} == {"chatops", "mybot"}
