"""Lock and unlock notices reach the channel as text: a reason cannot ping or disguise a link.

The real channel notifier (as `serve` wires it) posts through slack_sdk to the Slack
stand-in; the services run over the fakes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from chatops.domain.mrkdwn import unescape
from chatops.entrypoints.slack.wiring import notifier_for
from chatops.services.context import Actor
from chatops.services.locks import LockService
from tests.fakes import World, catalog
from tests.slack.standin import SlackStandIn

# as Slack sends `/lock` text: `@channel` became `<!channel>`, a typed `<…>` came escaped
REASON = "db migration <!channel> <@U123> <https://evil.example|click> &lt;!here&gt;"
LIVE = ("<!channel>", "<@U123>", "<https://evil.example|click>", "<!here>")


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        yield standin


def test_lock_and_unlock_notices_cannot_ping_or_link(slack: SlackStandIn) -> None:
    world = World(catalog(staging={"channel": "C0DEPLOYS"}))
    client = WebClient(token="xoxb-test", base_url=slack.base_url)
    deps = dataclasses.replace(world.deps(), notifier=notifier_for(client, world.deps().uow))
    locks = LockService(deps)

    locks.lock(Actor("UDEV", "slack"), "mybot", "staging", reason=REASON)
    locks.unlock(Actor("<!channel>", "cli"), "mybot", "staging")  # a CLI --user, typed freely

    posted = [c.body["text"] for c in slack.wait_for_count("chat.postMessage", 2)]
    assert [c.body["channel"] for c in slack.calls("chat.postMessage")] == ["C0DEPLOYS"] * 2
    for text in posted:
        for live in LIVE:
            assert live not in text, text
    # shown as it was written
    assert unescape(posted[0]) == f":lock: mybot in staging is locked by UDEV: {REASON}"
    assert unescape(posted[1]) == ":unlock: mybot in staging unlocked by <!channel>"
