"""The web view in a real browser: Debian's chromium, headless, driven by selenium.

A real `chatops serve` after a scripted story with real containers (deploy,
promote, approve, a failed release, a rollback with its reason, an alert),
signed in with Slack through the stand-in identity provider; each page is
loaded, its content checked, and a screenshot saved under .artifacts/web/.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from chatops.entrypoints.sample import DOCKERFILE
from tests.e2e.conftest import Installation
from tests.e2e.serving import ALERT_TOKEN, Served
from tests.web.conftest import CLIENT_ID, CLIENT_SECRET
from tests.web.idp import IdentityProvider, serving

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts" / "web"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SECRET = "web-view-secret-4f9a1c"
BROKEN_DOCKERFILE = "FROM scratch\nCOPY no-such-file /nothing\n"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("needs Debian's chromium and chromium-driver (scripts/dev test installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _ok(result: object) -> None:
    assert getattr(result, "returncode", 1) == 0, getattr(result, "stderr", result)


def _story(i: Installation) -> dict[str, int]:
    """deploy, promote + approve, v2 the same way, a failed v3, a rollback with a reason,
    and v2's promotion again, waiting for approval."""
    ids: dict[str, int] = {}
    _ok(i.run("deploy", i.bot, "staging"))
    pending = i.json("promote", i.bot, "prod", "--user", "UDEV")
    assert i.json("approve", str(pending["deployment_id"]), "--user", "ULEAD1")["state"] == "live"
    i.repo.commit("second version: faster replies")
    ids["staging_v2"] = i.json("deploy", i.bot, "staging")["deployment_id"]
    pending = i.json("promote", i.bot, "prod", "--user", "UDEV")
    ids["prod_v2"] = i.json("approve", str(pending["deployment_id"]), "--user", "ULEAD2")[
        "deployment_id"
    ]
    i.repo.commit("third version: broken build", files={"Dockerfile": BROKEN_DOCKERFILE})
    failed = i.json("deploy", i.bot, "staging")
    assert failed["state"] == "failed", failed
    ids["failed"] = failed["deployment_id"]
    back = i.json("rollback", i.bot, "prod", "--reason", "v2 leaks memory under load")
    assert (back["state"], back["version"]) == ("live", 1), back
    ids["rollback"] = back["deployment_id"]
    again = i.json("promote", i.bot, "prod", "--user", "UDEV")
    assert (again["state"], again["version"]) == ("pending_approval", 2), again
    ids["pending"] = again["deployment_id"]
    return ids


def _alert(served: Served, bot: str) -> None:
    labels = {"alertname": "BotHighErrorRate", "bot": bot, "env": "staging"}
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": f"{bot} in staging fails 12% of its requests"},
        "startsAt": datetime.now(UTC).isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "c0ffee00",
    }
    body = {
        "version": "4",
        "status": "firing",
        "receiver": "chatops",
        "groupLabels": {},
        "commonLabels": labels,
        "commonAnnotations": {},
        "alerts": [alert],
    }
    answer = served.post(
        "/alerts/alertmanager",
        json.dumps(body).encode(),
        {"Authorization": f"Bearer {ALERT_TOKEN}", "Content-Type": "application/json"},
    )
    assert answer.json().get("opened") == 1, answer.text


def _shot(driver: webdriver.Chrome, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def _wait_text(driver: webdriver.Chrome, css: str, text: str, timeout: float = 15) -> None:
    WebDriverWait(driver, timeout).until(
        lambda d: text in d.find_element(By.CSS_SELECTOR, css).text
    )


def test_every_page_in_a_real_browser(
    installation: Installation, browser: webdriver.Chrome
) -> None:
    i = installation
    secrets_file = i.path / "staging.env"
    secrets_file.write_text(f"API_KEY={SECRET}\n")
    i.document["bots"][i.bot]["environments"]["staging"]["env_file"] = str(secrets_file)
    ids = _story(i)
    with serving(IdentityProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)) as idp:
        i.document["web"] = {"auth": "slack", "team_id": "T0TEAM", "issuer": idp.url}
        i.write_config()
        served = Served(i.config, {**i.env, "CHATOPS_ALERT_TOKEN": ALERT_TOKEN})
        served.env.update(
            {
                "CHATOPS_SLACK_CLIENT_ID": CLIENT_ID,
                "CHATOPS_SLACK_CLIENT_SECRET": CLIENT_SECRET,
                "CHATOPS_PUBLIC_URL": served.url,
            }
        )
        served.start()
        try:
            _alert(served, i.bot)
            assert httpx.get(f"{served.url}/api/overview").status_code == 401
            sources = _browse(browser, served, i.bot, ids)
            _follow_a_build(browser, served, i)
        finally:
            served.stop()
    for name, source in sources.items():
        assert SECRET not in source, name
        assert CLIENT_SECRET not in source, name


def _browse(
    driver: webdriver.Chrome, served: Served, bot: str, ids: dict[str, int]
) -> dict[str, str]:
    sources: dict[str, str] = {}
    started = time.monotonic()
    # signing in: the overview sends the browser to the provider and back
    driver.get(f"{served.url}/ui/")
    WebDriverWait(driver, 15).until(lambda d: d.current_url.rstrip("/").endswith("/ui"))
    _wait_text(driver, "header", "signed in as ULEAD1")

    staging = driver.find_element(By.ID, f"row-{bot}-staging").text
    prod = driver.find_element(By.ID, f"row-{bot}-prod").text
    assert "v2" in staging and "unhealthy" in staging, staging
    assert "fails 12% of its requests" in staging
    assert "v1" in prod and "healthy" in prod, prod
    # the promotion on purpose lifted the rollback's hold, and waits for an approver
    assert "hold" not in prod and f"#{ids['pending']} v2" in prod, prod
    _shot(driver, "overview")
    sources["overview"] = driver.page_source

    driver.find_element(By.LINK_TEXT, bot).click()
    _wait_text(driver, "h1", bot)
    _wait_text(driver, "#upcoming", "third version: broken build")  # htmx loaded it
    timeline = driver.find_element(By.TAG_NAME, "main").text
    assert "reason: v2 leaks memory under load" in timeline
    assert "approved by ULEAD2" in timeline or "approved by ULEAD1" in timeline
    assert "second version: faster replies" in timeline
    assert "fails 12% of its requests" in timeline
    assert f"#{ids['failed']} deploy v3 to staging: failed" in timeline
    assert "COPY failed" in timeline
    driver.find_element(By.CSS_SELECTOR, "#v2 summary").click()
    _wait_text(driver, "#v2 .changes", "second version: faster replies")
    _shot(driver, "bot")
    sources["bot"] = driver.page_source

    driver.get(f"{served.url}/ui/deployments/{ids['rollback']}")
    main = driver.find_element(By.TAG_NAME, "main").text
    assert "rollback of" in main and "v2 leaks memory under load" in main
    assert "UDEV" in main  # who asked for it
    _shot(driver, "deployment-rollback")
    sources["rollback"] = driver.page_source

    driver.get(f"{served.url}/ui/deployments/{ids['failed']}")
    _wait_text(driver, "main", "failed")
    log = driver.find_element(By.ID, "build-log").text
    assert "no-such-file" in log, log
    _shot(driver, "deployment-failed")
    sources["failed"] = driver.page_source

    driver.get(f"{served.url}/ui/deployments/{ids['prod_v2']}")
    main = driver.find_element(By.TAG_NAME, "main").text
    assert "approved by ULEAD2" in main
    _shot(driver, "deployment-promotion")

    driver.get(f"{served.url}/ui/audit?action=rollback")
    rows = driver.find_elements(By.CSS_SELECTOR, "table.audit tbody tr")
    assert rows and all("rollback" in r.text for r in rows), [r.text for r in rows]
    driver.find_element(By.NAME, "action").clear()
    driver.find_element(By.NAME, "person").send_keys("ULEAD2")
    driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
    WebDriverWait(driver, 10).until(lambda d: "person=ULEAD2" in d.current_url)
    rows = driver.find_elements(By.CSS_SELECTOR, "table.audit tbody tr")
    assert rows and all("ULEAD2" in r.text for r in rows), [r.text for r in rows]
    _shot(driver, "audit")
    sources["audit"] = driver.page_source
    for path in ("/api/overview", f"/api/bots/{bot}", f"/api/deployments/{ids['failed']}"):
        driver.get(f"{served.url}{path}")
        sources[path] = driver.page_source
    assert time.monotonic() - started < 30
    return sources


def _follow_a_build(driver: webdriver.Chrome, served: Served, i: Installation) -> None:
    """A build's log appears in the page line by line while the build runs."""
    slow = DOCKERFILE.replace(
        "COPY www /www",
        'RUN for n in 1 2 3 4 5; do echo "slow step $n"; sleep 1; done\nCOPY www /www',
    )
    i.repo.commit("fourth version: slow build", files={"Dockerfile": slow})
    deploying = i.start("deploy", i.bot, "staging")
    try:
        database = sqlite3.connect(i.path / "chatops.db")
        deadline = time.monotonic() + 60
        found = None
        while found is None or found[1] != "building":
            assert time.monotonic() < deadline, f"no build started: {found}"
            time.sleep(0.2)
            found = database.execute(
                "SELECT id, state FROM deployments ORDER BY id DESC LIMIT 1"
            ).fetchone()
        driver.get(f"{served.url}/ui/deployments/{found[0]}")
        _wait_text(driver, "#build-log", "slow step 1", timeout=30)
        [(state,)] = database.execute("SELECT state FROM deployments WHERE id = ?", (found[0],))
        # while building the page holds an empty <pre>: what is in it came over the stream
        assert state == "building", "the first lines arrived while the build ran"
        _wait_text(driver, "#build-log", "slow step 5", timeout=30)
        _wait_text(driver, "#build-log-state", "build log complete", timeout=30)
        _shot(driver, "deployment-streamed")
        database.close()
    finally:
        deploying.communicate(timeout=120)
