"""The web view's pages and JSON tell the recorded truth, to signed-in people only."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from chatops.domain.deployment import Deployment, Event, Kind, State
from chatops.domain.verification import Measurement, Verdict
from chatops.services.board import MEASUREMENTS_SHOWN
from tests.web.conftest import Site
from tests.web.story import SECRET, T0

AS = {"X-Forwarded-User": "ULEAD1"}


def test_overview_shows_every_bot_and_environment(proxied: Site) -> None:
    s = proxied.story
    page = proxied.client().get("/ui/", headers=AS)

    assert page.status_code == 200
    html = page.text
    staging = re.search(r'<tr id="row-mybot-staging">(.*?)</tr>', html, re.S)
    prod = re.search(r'<tr id="row-mybot-prod">(.*?)</tr>', html, re.S)
    assert staging and prod
    assert f'href="/ui/deployments/{s.second_staging}">v2<' in staging.group(1)
    assert "unhealthy" in staging.group(1)  # the open alert
    assert "error rate above 1%" in staging.group(1)
    assert f'href="/ui/deployments/{s.rollback_prod}">v1<' in prod.group(1)
    assert "hold: rolled back to v1" in prod.group(1)
    assert f"#{s.pending_prod} v2" in prod.group(1)
    assert "signed in as ULEAD1" in html


def test_overview_json_has_the_cli_status_shape(proxied: Site) -> None:
    rows = proxied.client().get("/api/overview", headers=AS).json()

    by_env = {row["env"]: row for row in rows}
    assert by_env["staging"]["version"] == 2
    assert by_env["staging"]["commit"] == proxied.commits[1]
    assert by_env["staging"]["health"] == "unhealthy"
    assert [a["summary"] for a in by_env["staging"]["open_alerts"]] == ["error rate above 1%"]
    assert by_env["prod"]["version"] == 1
    assert by_env["prod"]["lock"] is None  # a rollback holds auto-deploys; nobody locked prod
    assert by_env["prod"]["hold"]["reason"]
    assert by_env["prod"]["pending_approval"] == [proxied.story.pending_prod]


def test_bot_page_tells_the_release_timeline(proxied: Site) -> None:
    s = proxied.story
    client = proxied.client()
    html = client.get("/ui/bots/mybot", headers=AS).text

    assert html.index('id="v2"') < html.index('id="v1"'), "newest first"
    assert "version 2 of mybot" in html
    assert "live in staging" in html
    assert "reason: v2 leaks memory under load" in html
    assert "v2 did not pass its health gate in 60s; v1 restored" in html
    assert "approved by ULEAD2" in html or "approved by ULEAD2" in html.replace(
        "approved", "approved"
    )
    assert "approved by ULEAD1" in html
    assert "error rate above 1%" in html
    assert f'href="/ui/deployments/{s.failed_prod}"' in html

    changes = client.get("/ui/bots/mybot/releases/2/changes", headers=AS).text
    assert "second version" in changes
    assert proxied.commits[1][:8] in changes
    upcoming = client.get("/ui/bots/mybot/upcoming", headers=AS).text
    assert "nothing on the branch" in upcoming  # v2 (the head) is live in staging
    third = proxied.repo.commit("third: not deployed yet")
    upcoming = client.get("/ui/bots/mybot/upcoming", headers=AS).text
    assert "third: not deployed yet" in upcoming
    assert third[:8] in upcoming
    assert "second version" not in upcoming


def test_bot_json(proxied: Site) -> None:
    found = proxied.client().get("/api/bots/mybot", headers=AS).json()

    assert [r["version"] for r in found["releases"]] == [2, 1]
    assert found["releases"][0]["live_in"] == ["staging"]
    rollback = next(d for d in found["deployments"] if d["kind"] == "rollback")
    assert rollback["reason"] == "v2 leaks memory under load"
    assert found["approvals"][str(proxied.story.failed_prod)][0]["user"] == "ULEAD2"
    assert found["alerts"][0]["summary"] == "error rate above 1%"


def test_deployment_page_and_json(proxied: Site) -> None:
    s = proxied.story
    client = proxied.client()
    html = client.get(f"/ui/deployments/{s.rollback_prod}", headers=AS).text

    assert "rollback of" in html
    assert "v2 leaks memory under load" in html
    ts = f"{int(T0.timestamp())}{s.rollback_prod:06d}"
    assert f"https://slack.com/archives/C0PRODOPS/p{ts}" in html
    assert "requested" in html and "ULEAD1" in html
    found = client.get(f"/api/deployments/{s.failed_prod}", headers=AS).json()
    assert found["state"] == "failed"
    assert found["approved_by"] == ["ULEAD2"]
    assert [e["action"] for e in found["events"]] == ["approve"]
    missing = client.get("/api/deployments/9999", headers=AS)
    assert missing.status_code == 404
    assert "no deployment #9999" in missing.json()["error"]


FAILED_REASON = "error rate failed 1 time(s): 0.05 is above the maximum 0.01"


def test_pages_show_verification(proxied: Site) -> None:
    s = proxied.story
    client = proxied.client()

    overview = client.get("/ui/", headers=AS).text
    staging = re.search(r'<tr id="row-mybot-staging">(.*?)</tr>', overview, re.S)
    prod = re.search(r'<tr id="row-mybot-prod">(.*?)</tr>', overview, re.S)
    assert staging and prod
    assert "verification failed (3 measurements; error rate: 1 failed)" in staging.group(1)
    assert FAILED_REASON in staging.group(1)
    assert "verification" not in prod.group(1)  # prod has no `verify`

    bot = client.get("/ui/bots/mybot", headers=AS).text
    v2 = bot[bot.index('id="v2"') : bot.index('id="v1"')]
    assert 'in staging: <span class="verification v-failed">verification failed' in v2
    assert FAILED_REASON in v2
    v1 = bot[bot.index('id="v1"') :]
    assert "verification" not in v1  # live in prod only, which is not verified

    page = client.get(f"/ui/deployments/{s.second_staging}", headers=AS).text
    assert "<dt>verification</dt>" in page and FAILED_REASON in page
    rows = re.findall(
        r"<tr><td>([^<]+)</td><td class=\"value\">([^<]+)</td><td><span[^>]*>(\w+)</span></td>",
        page,
    )
    assert rows == [  # newest first
        ("2026-11-30 09:28:00 UTC", "0.05", "fail"),
        ("2026-11-30 09:27:00 UTC", "0.004", "pass"),
        ("2026-11-30 09:26:00 UTC", "0.002", "pass"),
    ]
    assert "0.05 is above the maximum 0.01" in page
    # a deployment no longer live keeps its measurements, without a verdict on its run
    ended = client.get(f"/ui/deployments/{s.first_staging}", headers=AS).text
    assert "<dt>verification</dt>" not in ended
    assert "0.001" in ended


def test_json_shows_verification_as_the_cli_does(proxied: Site) -> None:
    s = proxied.story
    client = proxied.client()
    failed = {
        "state": "failed",
        "measurements": 3,
        "failures": {"error rate": 1},
        "reason": FAILED_REASON,
    }

    rows = {row["env"]: row for row in client.get("/api/overview", headers=AS).json()}
    assert rows["staging"]["verification"] == failed
    assert rows["prod"]["verification"] is None
    found = client.get("/api/bots/mybot", headers=AS).json()
    assert [r["verification"] for r in found["releases"]] == [{"staging": failed}, {}]
    assert [r["verification"] for r in found["status"]] == [failed, None]
    deployment = client.get(f"/api/deployments/{s.second_staging}", headers=AS).json()
    assert deployment["verification"] == failed
    assert deployment["more_measurements"] is False
    assert deployment["measurements"] == [
        {
            "check": "error rate",
            "value": value,
            "verdict": verdict,
            "at": f"2026-11-30T09:2{minute}:00+00:00",
            "detail": detail,
        }
        for minute, value, verdict, detail in (
            (6, 0.002, "pass", ""),
            (7, 0.004, "pass", ""),
            (8, 0.05, "fail", "0.05 is above the maximum 0.01"),
        )
    ]
    ended = client.get(f"/api/deployments/{s.first_staging}", headers=AS).json()
    assert ended["verification"] is None
    assert [m["value"] for m in ended["measurements"]] == [0.001]


def test_a_deployment_shows_its_newest_measurements_only(proxied: Site) -> None:
    s = proxied.story
    start = T0 + timedelta(hours=1)
    with proxied.application.uow() as uow:
        for n in range(MEASUREMENTS_SHOWN):
            at = start + timedelta(seconds=30 * n)
            uow.measurements.add(
                Measurement("error rate", Verdict.PASS, at, 0.0, "", s.second_staging)
            )
        uow.commit()
    client = proxied.client()

    found = client.get(f"/api/deployments/{s.second_staging}", headers=AS).json()
    page = client.get(f"/ui/deployments/{s.second_staging}", headers=AS).text

    assert found["more_measurements"] is True
    assert len(found["measurements"]) == MEASUREMENTS_SHOWN
    assert found["measurements"][0]["at"] == "2026-11-30T10:00:00+00:00"  # the 3 oldest gone
    assert found["verification"]["measurements"] == MEASUREMENTS_SHOWN + 3  # the run counts all
    assert f"the newest {MEASUREMENTS_SHOWN}; older ones are not shown" in page
    assert '<td class="value">0.05</td>' not in page
    assert page.count('<td class="value">0</td>') == MEASUREMENTS_SHOWN


def test_build_logs_only_for_viewers(proxied: Site) -> None:
    s = proxied.story
    client = proxied.client()
    path = proxied.application.workdir / "logs" / "mybot" / f"v1-deployment-{s.first_staging}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("Step 1/3 : FROM scratch\nSuccessfully built abc\n")

    viewer = client.get(f"/ui/deployments/{s.first_staging}", headers={"X-Forwarded-User": "UDEV"})
    outsider = client.get(
        f"/ui/deployments/{s.first_staging}", headers={"X-Forwarded-User": "UNOBODY"}
    )
    stream = client.get(
        f"/ui/deployments/{s.first_staging}/log", headers={"X-Forwarded-User": "UNOBODY"}
    )
    as_json = client.get(
        f"/api/deployments/{s.first_staging}", headers={"X-Forwarded-User": "UNOBODY"}
    ).json()

    assert "Successfully built abc" in viewer.text
    assert "Successfully built abc" not in outsider.text
    assert "for its viewers only" in outsider.text
    assert stream.status_code == 403
    assert as_json["log_tail"] is None
    # prod's viewers are ULEAD1 alone: UDEV sees staging's logs, not prod's
    prod = client.get(f"/ui/deployments/{s.failed_prod}", headers={"X-Forwarded-User": "UDEV"})
    assert "for its viewers only" in prod.text


def test_build_log_streams_as_server_sent_events(proxied: Site) -> None:
    s = proxied.story
    path = proxied.application.workdir / "logs" / "mybot" / f"v1-deployment-{s.first_staging}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("line one\nline <two>\n")

    with proxied.client().stream(
        "GET", f"/ui/deployments/{s.first_staging}/log", headers={"X-Forwarded-User": "UDEV"}
    ) as response:
        body = "".join(response.iter_text())

    assert response.headers["content-type"].startswith("text/event-stream")
    assert "data: line one\n\n" in body
    assert "data: line <two>\n\n" in body
    assert "event: end\ndata: superseded" in body


def test_audit_filters_and_pages(proxied: Site) -> None:
    client = proxied.client()

    everything = client.get("/api/audit", headers=AS).json()["events"]
    by_person = client.get("/api/audit?person=ULEAD1", headers=AS).json()["events"]
    rollbacks = client.get("/api/audit?action=rollback&env=prod", headers=AS).json()["events"]
    refused = [e for e in rollbacks if e["outcome"] == "refused"]
    page1 = client.get("/api/audit?limit=3", headers=AS).json()
    page2 = client.get(f"/api/audit?limit=3&before={page1['next_before']}", headers=AS).json()
    later = client.get("/api/audit?since=2026-11-30T09:35", headers=AS).json()["events"]

    assert len(everything) == 7
    assert {e["actor"] for e in by_person} == {"ULEAD1"}
    assert len(rollbacks) == 2 and [e["actor"] for e in refused] == ["UNOBODY"]
    assert [e["id"] for e in page1["events"] + page2["events"]] == [e["id"] for e in everything][:6]
    assert all(e["at"] >= "2026-11-30T09:35" for e in later) and 0 < len(later) < 7
    html = client.get("/ui/audit?bot=mybot&limit=3", headers=AS).text
    assert 'id="older"' in html and "before=" in html


@pytest.mark.parametrize(
    ("query", "complaint"),
    [
        ("since=yesterday", "since: 'yesterday' is not a date"),
        ("bot=../etc", "bot"),
        ("person=%3Cscript%3E", "person"),
        ("limit=100000", "limit: a number from 1 to 500"),
        ("before=x", "before: an audit event id"),
    ],
)
def test_bad_audit_filters_say_what_is_wrong(proxied: Site, query: str, complaint: str) -> None:
    answer = proxied.client().get(f"/api/audit?{query}", headers=AS)
    page = proxied.client().get(f"/ui/audit?{query}", headers=AS)

    assert answer.status_code == 400
    assert complaint in answer.json()["error"]
    assert page.status_code == 400
    assert "<script>" not in page.text


def test_nothing_changes_anything(proxied: Site) -> None:
    client = proxied.client()
    for path in ("/ui/", "/ui/bots/mybot", "/api/overview", "/api/audit", "/ui/deployments/1"):
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            assert client.request(method, path, headers=AS).status_code == 405, (method, path)


@pytest.mark.parametrize(
    "path", ["/ui/", "/ui/bots/mybot", "/ui/deployments/1", "/ui/deployments/1/log", "/ui/audit"]
)
def test_a_proxy_that_is_not_trusted_shows_nothing(proxied: Site, path: str) -> None:
    # a loopback address other than the one trusted proxy (127.0.0.1)
    untrusted = proxied.client(host="127.0.0.2").get(path, headers=AS)
    no_header = proxied.client().get(path)
    api = proxied.client(host="127.0.0.2").get("/api/overview", headers=AS)

    for answer in (untrusted, no_header, api):
        assert answer.status_code == 401
        assert "mybot" not in answer.text
        assert answer.headers["cache-control"] == "no-store"


def test_pages_escape_what_people_wrote_and_forbid_inline_scripts(make_site) -> None:  # type: ignore[no-untyped-def]
    site = make_site({"auth": "proxy"})
    with site.application.uow() as uow:
        lock = uow.locks.get("mybot", "prod")
        assert lock is not None
        from dataclasses import replace

        uow.locks.put(replace(lock, reason='<script>alert(1)</script> <a href="x">@channel</a>'))
        uow.commit()
    page = site.client().get("/ui/", headers=AS)

    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


def test_the_web_view_is_off_without_web_config(make_site) -> None:  # type: ignore[no-untyped-def]
    site = make_site(None)
    answer = site.client().get("/api/overview", headers=AS)
    page = site.client().get("/ui/", headers=AS)

    assert answer.status_code == 404
    assert "set `web:` in chatops.yaml" in answer.json()["error"]
    assert page.status_code == 404
    assert "mybot" not in page.text


def test_static_files_are_served_by_chatops(proxied: Site) -> None:
    client = proxied.client()
    htmx = client.get("/ui/static/htmx.min.js")
    page = client.get("/ui/bots/mybot", headers=AS).text

    assert htmx.status_code == 200
    assert "htmx" in htmx.text[:2000]
    assert '<script src="/ui/static/htmx.min.js"' in page
    assert "https://" not in re.sub(r'href="https://slack\.com[^"]*"', "", page).split("<main>")[0]


def test_a_build_log_streams_while_it_is_written(proxied: Site) -> None:
    """Lines reach the page as the build writes them; the stream ends when the build does."""
    app = proxied.application
    with app.uow() as uow:
        building = uow.deployments.add(
            Deployment(
                bot="mybot",
                env="staging",
                kind=Kind.DEPLOY,
                state=State.BUILDING,
                requested_by="UDEV",
                requested_at=T0,
                updated_at=T0,
                version=3,
                commit=proxied.commits[1],
            )
        )
        uow.commit()
    assert building.id is not None
    path = app.workdir / "logs" / "mybot" / f"v3-deployment-{building.id}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    log: list[str] = []

    def build() -> None:
        with path.open("w", buffering=1) as out:
            for n in range(1, 4):
                log.append(f"wrote {n}")
                out.write(f"Step {n}/3\n")
                time.sleep(0.6)
        with app.uow() as uow:
            now = uow.deployments.get(building.id or 0)
            assert now is not None
            uow.deployments.save(now.advance(Event.FAIL, at=T0, reason="cancelled"))
            uow.commit()

    writer = threading.Thread(target=build)
    page = proxied.client().get(f"/ui/deployments/{building.id}", headers=AS).text
    assert f'data-stream="/ui/deployments/{building.id}/log"' in page
    writer.start()
    with proxied.client().stream(
        "GET", f"/ui/deployments/{building.id}/log", headers={"X-Forwarded-User": "UDEV"}
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                log.append(f"read {line[6:]}")
    writer.join()

    assert log.index("read Step 1/3") < log.index("wrote 3"), log
    assert log.index("read Step 3/3") < log.index("read failed"), log
    assert log[-1] == "read failed"


def test_secrets_never_reach_a_page(make_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    secrets = tmp_path / "staging.env"
    secrets.write_text(f"API_KEY={SECRET}\n")
    site = make_site({"auth": "proxy"}, env_file=str(secrets))
    s = site.story
    path = site.application.workdir / "logs" / "mybot" / f"v1-deployment-{s.first_staging}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"Step 1/2 : RUN echo {SECRET}\nleaked={SECRET}\n")  # before it was a secret
    client = site.client()
    dev = {"X-Forwarded-User": "UDEV"}

    page = client.get(f"/ui/deployments/{s.first_staging}", headers=dev).text
    as_json = client.get(f"/api/deployments/{s.first_staging}", headers=dev).text
    with client.stream("GET", f"/ui/deployments/{s.first_staging}/log", headers=dev) as answer:
        streamed = "".join(answer.iter_text())

    for shown in (page, as_json, streamed):
        assert SECRET not in shown
    assert "leaked=" in page and "leaked=" in streamed and "leaked=" in as_json
    secrets.write_text("API_KEY=short\n")  # too short to mask: the log is not shown at all
    page = client.get(f"/ui/deployments/{s.first_staging}", headers=dev).text
    stream = client.get(f"/ui/deployments/{s.first_staging}/log", headers=dev)
    assert "leaked=" not in page and "not shown" in page
    assert stream.status_code == 503


def test_the_cli_audit_filters_as_the_web_view_does(proxied: Site) -> None:
    config = proxied.config.file.path
    command = [sys.executable, "-m", "chatops", "--config", str(config), "audit", "--json"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}

    found = subprocess.run(
        [*command, "--by", "ULEAD1", "--env", "prod"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )

    events = json.loads(found.stdout)
    web = proxied.client().get("/api/audit?person=ULEAD1&env=prod", headers=AS).json()["events"]
    assert [e["action"] for e in events] == ["rollback", "approve"]
    assert events == web


def test_a_failed_rollback_still_shows_the_reason_it_was_asked_for(proxied: Site) -> None:
    with proxied.application.uow() as uow:
        failed = uow.deployments.add(
            Deployment(
                bot="mybot",
                env="staging",
                kind=Kind.ROLLBACK,
                state=State.FAILED,
                requested_by="ULEAD1",
                requested_at=T0,
                updated_at=T0,
                version=1,
                commit=proxied.commits[0],
                previous_version=2,
                reason="cannot reach the Docker Engine at unix:///nowhere.sock",
                request_reason="the login page is blank",
            )
        )
        uow.commit()
    client = proxied.client()

    page = client.get(f"/ui/deployments/{failed.id}", headers=AS).text
    assert "the login page is blank" in page
    assert "cannot reach the Docker Engine at unix:///nowhere.sock" in page
    timeline = client.get("/ui/bots/mybot", headers=AS).text
    assert "reason: the login page is blank" in timeline
    assert "cannot reach the Docker Engine at unix:///nowhere.sock" in timeline
