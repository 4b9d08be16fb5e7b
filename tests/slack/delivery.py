"""chatops' Slack outbox on a real database, talking to the stand-in: for tests and benchmarks.

with SlackStandIn() as slack:
    slack.rate_limit("chat.postMessage")            # 1 per second per channel, as Slack
    outbox = Outbox.open(db_url, slack)             # notifier + sender, the sender started
    finals = burst(outbox.notifier, range(1, 11))   # 10 deployments through their states
    outbox.wait_until_shown(finals, timeout=60)     # every message shows its final state
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chatops.adapters.db import schema
from chatops.adapters.db.uow import SqlStore
from chatops.adapters.slack import SlackOutbox, delivery_client
from chatops.adapters.slack_sender import Pacing, SlackSender
from chatops.domain.alerts import Alert, AlertState
from chatops.domain.deployment import Deployment, Kind, State
from chatops.entrypoints.slack import blocks
from chatops.entrypoints.slack.notifier import ChannelNotifier
from chatops.services.views import AlertView, DeploymentView
from tests.slack.standin import SlackStandIn

CHANNEL = "C0DEPLOYS"
TOKEN = "xoxb-test"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STATES = (State.QUEUED, State.BUILDING, State.DEPLOYING, State.VERIFYING, State.LIVE)


def deployment_view(
    deployment_id: int, state: State, *, channel: str = CHANNEL, kind: Kind = Kind.DEPLOY
) -> DeploymentView:
    """What a notifier hears about deployment `deployment_id` in `state`."""
    deployment = Deployment(
        bot="mybot",
        env="prod" if kind is Kind.PROMOTE else "staging",
        kind=kind,
        state=state,
        requested_by="U0DEV",
        requested_at=T0,
        updated_at=T0 + timedelta(seconds=STATES.index(state) if state in STATES else 0),
        id=deployment_id,
        version=deployment_id,
        commit=f"{deployment_id:040x}",
    )
    return DeploymentView(deployment, channel, now=T0)


def alert_view(alert_id: int, state: AlertState, *, channel: str = CHANNEL) -> AlertView:
    alert = Alert(
        bot="mybot",
        env="prod",
        source="chatops",
        fingerprint="health",
        summary="mybot is unhealthy",
        first_seen=T0,
        last_seen=T0,
        state=state,
        id=alert_id,
        deployment_id=1,
        version=1,
        resolved_at=T0 if state is AlertState.RESOLVED else None,
    )
    return AlertView(alert, channel)


def shown_as(view: DeploymentView) -> blocks.Message:
    """The message Slack should show for `view`."""
    return blocks.deployment_message(view)


def notifier(
    store: SqlStore, *, wake: Callable[[], None] | None = None, remember: bool = False
) -> ChannelNotifier:
    """The channel notifier as `serve` wires it: rendering with blocks.py, queuing in `store`."""
    return ChannelNotifier(SlackOutbox(store.uow, wake=wake, remember=remember))


def sender(
    store: SqlStore,
    slack: SlackStandIn,
    *,
    owner: str = "sender-1",
    pacing: Pacing | None = None,
    timeout: int = 10,
    token: str = TOKEN,
) -> SlackSender:
    """A sender delivering `store`'s outbox to the stand-in (not started)."""
    client = delivery_client(token, slack.base_url, timeout=timeout)
    return SlackSender(client, store.uow, owner=owner, pacing=pacing)


@dataclass
class Outbox:
    """A database with the outbox, its notifier and a sender; close() stops and disposes."""

    store: SqlStore
    slack: SlackStandIn
    queue: SlackOutbox
    notifier: ChannelNotifier
    sender: SlackSender

    @classmethod
    def open(
        cls,
        db_url: str,
        slack: SlackStandIn,
        *,
        pacing: Pacing | None = None,
        timeout: int = 10,
        start: bool = True,
    ) -> Outbox:
        schema.upgrade(db_url)
        store = SqlStore(db_url)
        delivering = sender(store, slack, pacing=pacing, timeout=timeout)
        queue = SlackOutbox(store.uow, wake=delivering.wake if start else None, remember=True)
        if start:
            delivering.start()
        return cls(store, slack, queue, ChannelNotifier(queue), delivering)

    def close(self) -> None:
        self.sender.stop()
        self.store.dispose()

    def ref(self, subject: str) -> tuple[str, str] | None:
        """(channel, ts) of the subject's message, once posted."""
        with self.store.uow() as uow:
            found = uow.messages.get(subject)
        return (found.channel, found.ts) if found else None

    def shown(self, views: Iterable[DeploymentView]) -> dict[int, bool]:
        """Whether Slack shows each deployment's message exactly as `views` render."""
        messages = self.slack.messages()
        result = {}
        for view in views:
            assert view.deployment.id is not None
            ref = self.ref(f"deployment:{view.deployment.id}")
            message = messages.get(ref[1]) if ref else None
            expected = shown_as(view)
            result[view.deployment.id] = message is not None and (
                message.text,
                message.blocks,
            ) == (expected.text, expected.blocks)
        return result

    def wait_until_shown(self, views: Mapping[int, DeploymentView], *, timeout: float) -> float:
        """Wait until every message shows its view; the seconds it took."""
        started = time.monotonic()
        while True:
            shown = self.shown(views.values())
            if all(shown.values()):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                missing = sorted(i for i, ok in shown.items() if not ok)
                raise AssertionError(
                    f"after {timeout}s, Slack does not show the final state of #{missing}; "
                    f"queued: {self.sender.flush(timeout=0)}"
                )
            time.sleep(0.05)


def burst(
    told: ChannelNotifier,
    deployment_ids: Iterable[int],
    *,
    states: Sequence[State] = STATES,
    channel: str = CHANNEL,
) -> dict[int, DeploymentView]:
    """Each deployment goes through `states` at once, on a thread of its own (as concurrent
    deployments do in `serve`); returns each one's final view."""
    finals = {i: deployment_view(i, states[-1], channel=channel) for i in deployment_ids}
    start = threading.Barrier(len(finals))

    def run(deployment_id: int) -> None:
        start.wait()
        for state in states:
            told.deployment_changed(deployment_view(deployment_id, state, channel=channel))

    threads = [threading.Thread(target=run, args=(i,)) for i in finals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return finals


def main(argv: Sequence[str]) -> None:
    """`python -m tests.slack.delivery [N]`: N deployments (default 10) through their states at
    once, in one channel limited as Slack limits it; prints how long until every message shows
    its final state, and the calls it took."""
    import tempfile

    count = int(argv[0]) if argv else 10
    with SlackStandIn() as slack, tempfile.TemporaryDirectory() as tmp:
        slack.rate_limit("chat.postMessage")
        slack.rate_limit("chat.update")
        outbox = Outbox.open(f"sqlite:///{tmp}/chatops.db", slack)
        try:
            started = time.monotonic()
            finals = burst(outbox.notifier, range(1, count + 1))
            queued = time.monotonic() - started
            shown = outbox.wait_until_shown(finals, timeout=10 + 3 * count)
        finally:
            outbox.close()
        posts, updates = len(slack.calls("chat.postMessage")), len(slack.calls("chat.update"))
        print(
            f"{count} deployments x {len(STATES)} states queued in {queued:.2f}s; every final "
            f"state shown {shown:.1f}s later; chat.postMessage {posts}, chat.update {updates}, "
            f"messages {len(slack.messages())}"
        )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
