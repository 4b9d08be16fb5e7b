"""`serve` says once at start what is on and off, and nothing it need not say."""

from __future__ import annotations

from tests.e2e.conftest import Installation
from tests.e2e.serving import ALERT_TOKEN, BOT_TOKEN, SIGNING_SECRET, Served
from tests.slack.standin import SlackStandIn


def test_serve_says_what_is_on_and_off_once_without_bolts_token_warning(
    installation: Installation,
) -> None:
    i = installation
    i.document["slack"]["channel"] = "C0DEPLOYS"
    i.document["environments"]["staging"].update(auto_deploy="main", poll_seconds=300)
    i.write_config()
    with SlackStandIn() as slack:
        env = {
            **i.env,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.base_url,
            "CHATOPS_ALERT_TOKEN": ALERT_TOKEN,
        }
        served = Served(i.config, env)
        try:
            served.start()
        finally:
            served.stop()
    said = served.output()
    for line in (
        "Slack: on, over HTTP at POST /slack/events (signed requests only)",
        "alert webhook POST /alerts/alertmanager: on (bearer CHATOPS_ALERT_TOKEN)",
        "git webhook POST /webhooks/git: off (set CHATOPS_GIT_WEBHOOK_SECRET)",
        "auto-deploy: staging ← main (polled every 300s)",
        "scheduler: this process holds the lease and runs the scheduled jobs",
    ):
        assert said.count(line) == 1, (line, said)
    assert "will be unused" not in said
    for secret in (BOT_TOKEN, SIGNING_SECRET, ALERT_TOKEN):
        assert secret not in said
