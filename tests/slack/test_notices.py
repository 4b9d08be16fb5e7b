"""Lock and unlock notices reach the channel as text: a reason cannot ping or disguise a link.

The real channel notifier (as `serve` wires it) queues in the outbox of a SQLite database and
its sender posts through slack_sdk to the Slack stand-in; the services run over the fakes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chatops.domain.mrkdwn import unescape
from chatops.services.context import Actor
from tests.fakes import World, catalog
from tests.slack.delivery import Outbox
from tests.slack.standin import SlackStandIn

# as Slack sends `/lock` text: `@channel` became `<!channel>`, a typed `<…>` came escaped
REASON = "db migration <!channel> <@U123> <https://evil.example|click> &lt;!here&gt;"
LIVE = ("<!channel>", "<@U123>", "<https://evil.example|click>", "<!here>")


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        yield standin


def test_lock_and_unlock_notices_cannot_ping_or_link(slack: SlackStandIn, tmp_path: Path) -> None:
    world = World(catalog(staging={"channel": "C0DEPLOYS"}))
    outbox = Outbox.open(f"sqlite:///{tmp_path / 'outbox.db'}", slack)
    locks = world.services(notifier=outbox.notifier).locks
    try:
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
    finally:
        outbox.close()
