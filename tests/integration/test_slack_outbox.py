"""The Slack outbox on a real database, delivering to the Slack stand-in through slack_sdk.

No message is lost: what the notifier queues survives Slack's errors, rate limits,
timeouts and restarts, and is delivered in order, newest content only, once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chatops.adapters.db import schema
from chatops.adapters.db.uow import SqlStore
from chatops.adapters.metrics import PrometheusMetrics
from chatops.adapters.slack_sender import Pacing, SlackSender, describe_waiting
from chatops.domain.alerts import AlertState
from chatops.domain.deployment import Kind, State
from chatops.entrypoints.slack import blocks
from tests.slack import delivery
from tests.slack.delivery import CHANNEL, Outbox, alert_view, burst, deployment_view
from tests.slack.standin import SlackStandIn

FAST = Pacing(
    post_seconds=0.05,
    update_seconds=0.05,
    first_retry_seconds=0.1,
    max_retry_seconds=0.3,
    idle_seconds=0.2,
)
POST, UPDATE = "chat.postMessage", "chat.update"
NO_PACE = {POST: timedelta(0), UPDATE: timedelta(0)}


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        yield standin


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'chatops.db'}"


@pytest.fixture
def outbox(db_url: str, slack: SlackStandIn) -> Iterator[Outbox]:
    opened = Outbox.open(db_url, slack, pacing=FAST)
    yield opened
    opened.close()


def _until(probe: object, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def test_a_pending_promotion_queued_while_slack_answers_500_arrives_with_its_buttons(
    outbox: Outbox, slack: SlackStandIn
) -> None:
    """Guards the review finding: a failed chat.postMessage was logged and dropped, so the
    promotion had no Approve button and blocked prod until it expired."""
    slack.fail_always(POST, "internal_error", status=500)
    pending = deployment_view(7, State.PENDING_APPROVAL, kind=Kind.PROMOTE)

    started = time.monotonic()
    outbox.notifier.deployment_changed(pending)
    assert time.monotonic() - started < 0.5, "the notifier waited for Slack"
    slack.wait_for_count(POST, 3)  # failed, retried, failed again
    assert slack.messages() == {}
    slack.recover()

    outbox.wait_until_shown({7: pending}, timeout=15)
    [message] = slack.messages().values()
    assert {b["action_id"] for b in message.blocks[-1]["elements"]} >= {"approve", "reject"}
    assert len([c for c in slack.calls(POST) if c.body.get("ts") is None]) >= 4


def test_ten_quick_updates_of_one_message_become_one_post_with_the_last(
    db_url: str, slack: SlackStandIn
) -> None:
    idle = Outbox.open(db_url, slack, pacing=FAST, start=False)
    try:
        for state in (*delivery.STATES, State.LIVE, State.LIVE, State.LIVE, State.LIVE, State.LIVE):
            idle.notifier.deployment_changed(deployment_view(3, state))
        idle.sender.start()
        idle.wait_until_shown({3: deployment_view(3, State.LIVE)}, timeout=10)
        assert idle.sender.flush(timeout=5) == []
        assert (len(slack.calls(POST)), len(slack.calls(UPDATE))) == (1, 0)

        # a later change edits that message in place
        failed = deployment_view(3, State.FAILED)
        idle.notifier.deployment_changed(failed)
        idle.wait_until_shown({3: failed}, timeout=10)
        [update] = slack.calls(UPDATE)
        assert (update.body["channel"], update.body["ts"]) == idle.ref("deployment:3")
        assert len(slack.messages()) == 1
    finally:
        idle.close()


def test_an_update_never_overtakes_the_post_that_creates_the_message(
    outbox: Outbox, slack: SlackStandIn
) -> None:
    slack.fail_next(POST, "internal_error", status=500)
    slack.fail_next(POST, "ratelimited", status=429, retry_after=1)
    for state in delivery.STATES:
        outbox.notifier.deployment_changed(deployment_view(4, state))
        time.sleep(0.05)  # changes arrive while the post is being retried

    outbox.wait_until_shown({4: deployment_view(4, State.LIVE)}, timeout=15)
    calls = [c for c in slack.calls() if c.method in (POST, UPDATE)]
    first_success = 2  # two failed posts, then the one that created the message
    assert [c.method for c in calls[: first_success + 1]] == [POST, POST, POST]
    assert all(c.method == UPDATE for c in calls[first_success + 1 :])
    assert len(slack.messages()) == 1


def test_retry_after_is_honoured_for_the_message_and_its_channel(
    outbox: Outbox, slack: SlackStandIn
) -> None:
    slack.fail_next(POST, "ratelimited", status=429, retry_after=1)  # FAST retries in 0.1 s
    outbox.notifier.say(CHANNEL, "first")
    outbox.notifier.say(CHANNEL, "second")

    calls = slack.wait_for_count(POST, 3, timeout=10)
    assert calls[1].at - calls[0].at >= 1.0, "posted to the channel again before Retry-After"
    assert sorted(m.text for m in slack.messages().values()) == ["first", "second"]


def test_a_call_that_hangs_past_the_client_timeout_is_retried_and_lands_once(
    db_url: str, slack: SlackStandIn
) -> None:
    hasty = Outbox.open(db_url, slack, pacing=FAST, timeout=1)
    try:
        slack.hang_next(POST, 2.5)
        hasty.notifier.deployment_changed(deployment_view(5, State.QUEUED))

        hasty.wait_until_shown({5: deployment_view(5, State.QUEUED)}, timeout=15)
        assert len(slack.calls(POST)) == 2
        assert len(slack.messages()) == 1
    finally:
        hasty.close()


def test_a_permanent_error_is_given_up_once_with_a_log_line_an_audit_event_and_a_metric(
    db_url: str, slack: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    schema.upgrade(db_url)
    store = SqlStore(db_url)
    metrics = PrometheusMetrics()
    client = delivery.delivery_client(delivery.TOKEN, slack.base_url)
    sender = SlackSender(client, store.uow, owner="s1", pacing=FAST, metrics=metrics)
    notifier = delivery.notifier(store, wake=sender.wake)
    slack.fail_next(POST, "channel_not_found", status=200, retry_after=None)
    try:
        with caplog.at_level(logging.WARNING, logger="chatops"):
            notifier.deployment_changed(deployment_view(9, State.QUEUED, channel="C0GONE"))
            notifier.say(CHANNEL, "the channel after it still hears")
            slack.wait_for(lambda c: c.body.get("text") == "the channel after it still hears")
            assert sender.flush(timeout=5) == []
    finally:
        sender.stop()
    with store.uow() as uow:
        [event] = [e for e in uow.audit.list() if e.action == "slack_message"]
    store.dispose()

    assert len([c for c in slack.calls(POST) if c.body["channel"] == "C0GONE"]) == 1
    [line] = [r.getMessage() for r in caplog.records if "given up" in r.getMessage()]
    assert "deployment:9 in C0GONE given up: channel_not_found" in line
    assert "check the channel id" in line
    assert (event.outcome, event.deployment_id, event.source) == ("failed", 9, "slack")
    assert "channel_not_found" in event.detail
    exposition = metrics.exposition().decode()
    assert 'chatops_slack_messages_total{result="given_up"} 1.0' in exposition
    assert 'chatops_slack_messages_total{result="sent"} 1.0' in exposition


def test_a_resolved_reply_waits_for_its_alert_message_and_its_last_edit_and_comes_once(
    db_url: str, slack: SlackStandIn
) -> None:
    slow_edits = Pacing(
        post_seconds=0.05, update_seconds=1.0, first_retry_seconds=0.1, idle_seconds=0.2
    )
    outbox = Outbox.open(db_url, slack, pacing=slow_edits)
    told = outbox.notifier
    slack.fail_always(POST, "internal_error", status=503)
    told.alert_changed(alert_view(2, AlertState.FIRING))
    told.alert_changed(alert_view(3, AlertState.FIRING))
    told.alert_changed(alert_view(3, AlertState.RESOLVED))  # resolved before it was posted
    slack.wait_for_count(POST, 2)
    slack.recover()
    _until(lambda: outbox.ref("alert:2") and outbox.ref("alert-resolved:3"), "alert messages")
    told.alert_changed(alert_view(2, AlertState.ACKNOWLEDGED))  # an edit: the next waits 1 s
    slack.wait_for(method=UPDATE)
    told.alert_changed(alert_view(2, AlertState.RESOLVED))  # an edit, and a reply
    _until(lambda: outbox.ref("alert-resolved:2"), "the reply to #2")
    told.alert_changed(alert_view(2, AlertState.RESOLVED))  # told twice
    assert outbox.sender.flush(timeout=5) == []
    outbox.close()

    refs = {n: outbox.ref(f"alert:{n}") for n in (2, 3)}
    for n, ref in refs.items():
        assert ref is not None
        message = slack.messages()[ref[1]]
        assert message.text == blocks.alert_message(alert_view(n, AlertState.RESOLVED)).text
        assert len(slack.thread(ref[1])) == 1
    assert slack.messages()[refs[3][1]].edits == 0  # type: ignore[index]  (posted as resolved)
    resolved = blocks.alert_message(alert_view(2, AlertState.RESOLVED)).text
    calls = [
        (c.method, c.body.get("ts") or c.body.get("thread_ts"), c.body["text"])
        for c in slack.calls()
    ]
    ts2 = refs[2][1]  # type: ignore[index]
    edit = calls.index((UPDATE, ts2, resolved))
    reply = next(n for n, (method, ts, _) in enumerate(calls) if (method, ts) == (POST, ts2))
    assert edit < reply, "the reply overtook the edit"


def test_what_was_queued_is_delivered_after_a_restart(db_url: str, slack: SlackStandIn) -> None:
    """Rows survive the process: a sender that starts later (another owner) delivers them,
    including one a dead sender had claimed, once its claim expires."""
    schema.upgrade(db_url)
    before = SqlStore(db_url)
    told = delivery.notifier(before)  # nothing delivers in this "process"
    for n in (1, 2, 3):
        told.deployment_changed(deployment_view(n, State.LIVE))
    with before.uow() as uow:  # a sender had claimed #1 when the process died
        claimed, _ = uow.outbox.claim(
            "dead", now=datetime.now(UTC), hold=timedelta(seconds=1), pace=NO_PACE
        )
        uow.commit()
    assert claimed is not None and claimed.message.subject == "deployment:1"
    before.dispose()
    assert slack.calls() == []

    after = Outbox.open(db_url, slack, pacing=FAST)
    try:
        finals = {n: deployment_view(n, State.LIVE) for n in (1, 2, 3)}
        after.wait_until_shown(finals, timeout=15)
    finally:
        after.close()
    assert len(slack.calls(POST)) == 3
    first = [c for c in slack.calls(POST) if "#1" in str(c.body["blocks"])]
    assert len(first) == 1


def test_a_burst_of_ten_deployments_under_the_rate_limit_ends_with_every_final_state(
    db_url: str, slack: SlackStandIn
) -> None:
    """Guards the review finding: bursts of updates under Slack's rate limits were dropped
    after two retries (4 of 10 final states shown on the code as found). Now they are
    paced, coalesced and all delivered."""
    slack.rate_limit(POST, per_second=1.0)
    slack.rate_limit(UPDATE, per_second=1.0)
    paced = Outbox.open(db_url, slack, pacing=Pacing(first_retry_seconds=0.2))
    try:
        finals = burst(paced.notifier, range(1, 11))
        paced.wait_until_shown(finals, timeout=60)
    finally:
        paced.close()
    posts = [c for c in slack.calls(POST) if c.body.get("blocks")]
    assert len(slack.messages()) == 10, "a deployment got two messages"
    assert len(posts) <= 12, f"{len(posts)} posts for 10 messages: the pacing does not hold"
    assert len(slack.calls(UPDATE)) <= 12, "the updates were not coalesced"


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_two_senders_on_one_database_deliver_each_message_once(
    backend: str, request: pytest.FixtureRequest, db_url: str, slack: SlackStandIn
) -> None:
    url = db_url if backend == "sqlite" else request.getfixturevalue("postgres_url")
    schema.upgrade(url)
    stores = [SqlStore(url), SqlStore(url)]
    pacing = Pacing(post_seconds=0.02, update_seconds=0.02, idle_seconds=0.05)
    senders = [
        delivery.sender(store, slack, owner=f"replica-{n}", pacing=pacing, token=f"xoxb-{n}")
        for n, store in enumerate(stores)
    ]
    told = delivery.notifier(stores[0])
    channels = ["C0A", "C0B", "C0C"]
    for n in range(30):
        told.deployment_changed(deployment_view(n + 1, State.LIVE, channel=channels[n % 3]))

    threads = [threading.Thread(target=s.flush, kwargs={"timeout": 30}) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        posted = [c.body["blocks"] for c in slack.calls(POST)]
        by_token = {c.headers["authorization"] for c in slack.calls(POST)}
        assert len(slack.messages()) == 30
        assert len(posted) == 30, "a message was posted twice"
        assert by_token <= {"Bearer xoxb-0", "Bearer xoxb-1"}
    finally:
        for store in stores:
            store.dispose()


def test_flush_is_bounded_and_says_what_stays_queued(outbox: Outbox, slack: SlackStandIn) -> None:
    slack.fail_always(POST, "internal_error", status=500)
    outbox.notifier.say(CHANNEL, "the lock is lifted")
    slack.wait_for(method=POST)

    started = time.monotonic()
    left = outbox.sender.stop(flush_seconds=0.5, subjects=outbox.queue.queued)
    assert 0.4 <= time.monotonic() - started < 5
    [waiting] = left
    assert waiting.subject.startswith("say:")
    assert "HTTP 500 internal_error" in describe_waiting(left)
    assert describe_waiting(left).startswith("1 message (say:")
