"""The Slack stand-in and the signing helpers, checked against the real slack_sdk and slack-bolt."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
from slack_bolt import Ack, App, Respond
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from tests.slack import signing
from tests.slack.standin import SlackStandIn

SECRET = "test-signing-secret"
TS = re.compile(r"^\d{10}\.\d{6}$")
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*deploying*"}}]


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        yield standin


@pytest.fixture
def client(slack: SlackStandIn) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack.base_url)


# -- the stand-in through the real WebClient ----------------------------------------------------


def test_auth_test_answers_what_bolt_needs(slack: SlackStandIn, client: WebClient) -> None:
    answer = client.auth_test()

    assert (answer["team_id"], answer["user_id"], answer["bot_id"]) == ("T0TEST", "U0BOT", "B0BOT")
    assert answer["url"] == "https://test.slack.com/"
    [call] = slack.calls("auth.test")
    assert call.auth_ok
    assert call.headers["authorization"] == "Bearer xoxb-test"


def test_a_posted_message_is_updated_in_place(slack: SlackStandIn, client: WebClient) -> None:
    first = client.chat_postMessage(channel="C0DEPLOYS", text="deploying", blocks=BLOCKS)
    second = client.chat_postMessage(channel="C0DEPLOYS", text="another")
    done = [{"type": "section", "text": {"type": "mrkdwn", "text": "*live*"}}]
    client.chat_update(channel="C0DEPLOYS", ts=first["ts"], text="live", blocks=done)

    assert TS.match(first["ts"])
    assert second["ts"] > first["ts"]
    assert first["message"]["text"] == "deploying"
    assert slack.calls("chat.postMessage")[0].body["blocks"] == BLOCKS
    message = slack.messages()[first["ts"]]
    assert (message.channel, message.text, message.blocks, message.edits) == (
        "C0DEPLOYS",
        "live",
        done,
        1,
    )
    assert slack.messages()[second["ts"]].text == "another"


def test_an_update_without_blocks_keeps_them(slack: SlackStandIn, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C0DEPLOYS", text="deploying", blocks=BLOCKS)
    answer = client.chat_update(channel="C0DEPLOYS", ts=posted["ts"], text="still deploying")

    assert answer["text"] == "still deploying"
    assert slack.messages()[posted["ts"]].blocks == BLOCKS


def test_updating_a_message_never_posted_fails(slack: SlackStandIn, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C0DEPLOYS", text="deploying")

    for channel, ts in [("C0DEPLOYS", "1600000000.000100"), ("C0OTHER", posted["ts"])]:
        with pytest.raises(SlackApiError) as failure:
            client.chat_update(channel=channel, ts=ts, text="live")
        assert failure.value.response["error"] == "message_not_found"
    assert slack.messages()[posted["ts"]].text == "deploying"


def test_thread_replies(slack: SlackStandIn, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C0DEPLOYS", text="deploy v3")["ts"]
    client.chat_postMessage(channel="C0DEPLOYS", text="unrelated")
    for text in ("build log", "health ok"):
        client.chat_postMessage(channel="C0DEPLOYS", text=text, thread_ts=parent)

    assert [m.text for m in slack.thread(parent)] == ["build log", "health ok"]
    assert len(slack.messages()) == 4


def test_form_encoded_blocks_are_recorded_as_sent(slack: SlackStandIn, client: WebClient) -> None:
    fields = {"channel": "C0DEPLOYS", "text": "hi", "blocks": json.dumps(BLOCKS)}
    ts = client.api_call("chat.postMessage", params=fields)["ts"]

    assert slack.calls("chat.postMessage")[0].body["blocks"] == json.dumps(BLOCKS)
    assert slack.messages()[ts].blocks == BLOCKS


def test_post_ephemeral(slack: SlackStandIn, client: WebClient) -> None:
    answer = client.chat_postEphemeral(channel="C0DEPLOYS", user="U0ADA", text="usage: /deploy")

    assert TS.match(answer["message_ts"])
    [call] = slack.calls("chat.postEphemeral")
    assert (call.body["user"], call.body["text"]) == ("U0ADA", "usage: /deploy")
    assert slack.messages() == {}


def test_usergroup_members(slack: SlackStandIn, client: WebClient) -> None:
    slack.usergroups["S0LEADS"] = ["U0LEAD1", "U0LEAD2"]

    assert client.usergroups_users_list(usergroup="S0LEADS")["users"] == ["U0LEAD1", "U0LEAD2"]
    with pytest.raises(SlackApiError) as failure:
        client.usergroups_users_list(usergroup="S0NOPE")
    assert failure.value.response["error"] == "no_such_subteam"
    assert [c.body["usergroup"] for c in slack.calls()] == ["S0LEADS", "S0NOPE"]


def test_reactions_permalinks_and_unknown_methods(slack: SlackStandIn, client: WebClient) -> None:
    assert client.reactions_add(channel="C0DEPLOYS", name="rocket", timestamp="1700000000.000100")
    link = client.chat_getPermalink(channel="C0DEPLOYS", message_ts="1700000000.000100")
    assert link["permalink"] == "https://test.slack.com/archives/C0DEPLOYS/p1700000000000100"
    with pytest.raises(SlackApiError) as failure:
        client.conversations_list()

    assert failure.value.response["error"] == "unknown_method"
    assert [c.method for c in slack.calls()] == [
        "reactions.add",
        "chat.getPermalink",
        "conversations.list",
    ]


@pytest.mark.parametrize(("token", "error"), [(None, "not_authed"), ("xoxp-user", "invalid_auth")])
def test_calls_without_a_bot_token_are_refused(
    slack: SlackStandIn, token: str | None, error: str
) -> None:
    with pytest.raises(SlackApiError) as failure:
        WebClient(token=token, base_url=slack.base_url).chat_postMessage(channel="C0X", text="x")

    assert failure.value.response["error"] == error
    assert not slack.calls()[0].auth_ok
    assert slack.messages() == {}


def test_response_url_posts_are_recorded(slack: SlackStandIn) -> None:
    url = slack.response_url("r1")
    answer = WebhookClient(url).send(text="done", response_type="ephemeral")

    assert (answer.status_code, answer.body) == (200, "ok")
    [call] = slack.calls("response_url")
    assert call.body == {"text": "done", "response_type": "ephemeral"}
    assert call.path == "/response/r1"
    assert url.startswith("http://127.0.0.1:")


def test_fail_next_fails_once(slack: SlackStandIn, client: WebClient) -> None:
    slack.fail_next("chat.postMessage")
    slack.fail_next("chat.postMessage", error="channel_not_found", status=200, retry_after=None)

    with pytest.raises(SlackApiError) as limited:
        client.chat_postMessage(channel="C0DEPLOYS", text="x")
    with pytest.raises(SlackApiError) as missing:
        client.chat_postMessage(channel="C0DEPLOYS", text="x")
    posted = client.chat_postMessage(channel="C0DEPLOYS", text="x")

    assert limited.value.response.status_code == 429
    assert limited.value.response["error"] == "ratelimited"
    assert limited.value.response.headers["Retry-After"] == "1"
    assert missing.value.response["error"] == "channel_not_found"
    assert list(slack.messages()) == [posted["ts"]]
    assert len(slack.calls("chat.postMessage")) == 3


def test_fail_always_fails_every_call_until_recovered(
    slack: SlackStandIn, client: WebClient
) -> None:
    slack.fail_always("chat.postMessage", "internal_error", status=500)

    for _ in range(2):
        with pytest.raises(SlackApiError) as failed:
            client.chat_postMessage(channel="C0DEPLOYS", text="x")
        assert (failed.value.response.status_code, failed.value.response["error"]) == (
            500,
            "internal_error",
        )
    client.auth_test()  # other methods are unaffected
    slack.recover()
    posted = client.chat_postMessage(channel="C0DEPLOYS", text="x")

    assert list(slack.messages()) == [posted["ts"]]
    assert [c.method for c in slack.calls()].count("chat.postMessage") == 3


def test_rate_limit_allows_one_post_per_second_per_channel(
    slack: SlackStandIn, client: WebClient
) -> None:
    slack.rate_limit("chat.postMessage", per_second=1.0)

    client.chat_postMessage(channel="C0DEPLOYS", text="first")
    client.chat_postMessage(channel="C0OTHER", text="another channel")
    with pytest.raises(SlackApiError) as limited:
        client.chat_postMessage(channel="C0DEPLOYS", text="too soon")
    first = slack.calls("chat.postMessage")[0]
    time.sleep(max(0.0, first.at + 1.0 - time.monotonic()))  # the limit is the point here
    client.chat_postMessage(channel="C0DEPLOYS", text="a second later")

    assert limited.value.response.status_code == 429
    assert limited.value.response["error"] == "ratelimited"
    assert limited.value.response.headers["Retry-After"] == "1"
    assert sorted(m.text for m in slack.messages().values()) == [
        "a second later",
        "another channel",
        "first",
    ]


def test_a_hung_call_outlasts_the_client_timeout_and_takes_no_effect(
    slack: SlackStandIn,
) -> None:
    hasty = WebClient(token="xoxb-test", base_url=slack.base_url, timeout=1)
    slack.hang_next("chat.postMessage", 1.5)

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        hasty.chat_postMessage(channel="C0DEPLOYS", text="lost")
    assert time.monotonic() - started < 1.5
    [call] = slack.calls("chat.postMessage")
    assert call.body["text"] == "lost"
    posted = hasty.chat_postMessage(channel="C0DEPLOYS", text="again")
    assert list(slack.messages()) == [posted["ts"]]


def test_wait_for_sees_calls_from_other_threads(slack: SlackStandIn, client: WebClient) -> None:
    def post() -> None:
        for n in range(3):
            client.chat_postMessage(channel="C0DEPLOYS", text=f"message {n}")

    worker = threading.Thread(target=post)
    worker.start()
    call = slack.wait_for(lambda c: c.body.get("text") == "message 1")
    calls = slack.wait_for_count("chat.postMessage", 3)
    worker.join()

    assert call.method == "chat.postMessage"
    assert [c.body["text"] for c in calls] == ["message 0", "message 1", "message 2"]
    assert calls[0].at <= calls[1].at <= calls[2].at


def test_wait_for_times_out_saying_what_was_recorded(
    slack: SlackStandIn, client: WebClient
) -> None:
    with pytest.raises(AssertionError, match="nothing was recorded"):
        slack.wait_for(method="chat.update", timeout=0.1)
    client.chat_postMessage(channel="C0DEPLOYS", text="deploying mybot")

    started = time.monotonic()
    with pytest.raises(AssertionError) as failure:
        slack.wait_for(method="chat.update", timeout=0.5)
    assert time.monotonic() - started >= 0.5
    assert "no chat.update call matched within 0.5s" in str(failure.value)
    assert "chat.postMessage" in str(failure.value)
    assert "deploying mybot" in str(failure.value)
    with pytest.raises(AssertionError, match=r"expected 2 chat\.postMessage"):
        slack.wait_for_count("chat.postMessage", 2, timeout=0.1)


def test_clear_forgets_calls_but_not_messages(slack: SlackStandIn, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C0DEPLOYS", text="deploying")["ts"]
    slack.clear()

    assert slack.calls() == []
    client.chat_update(channel="C0DEPLOYS", ts=ts, text="live")
    assert [c.method for c in slack.calls()] == ["chat.update"]
    assert slack.messages()[ts].text == "live"


# -- signing ------------------------------------------------------------------------------------


def test_signatures_are_what_slack_sdk_verifies() -> None:
    verifier = SignatureVerifier(SECRET)
    body, headers = signing.slash_command(
        "/deploy", "mybot staging", user="U0ADA", response_url="http://x/", secret=SECRET
    )
    old = signing.sign(body, SECRET, timestamp=int(time.time()) - 301)

    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body.replace(b"staging", b"prod"), headers)
    assert not verifier.is_valid_request(body, old)
    assert not SignatureVerifier("another-secret").is_valid_request(body, headers)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert signing.sign(b'{"a": 1}', SECRET)["Content-Type"] == "application/json"


def test_slash_command_has_every_field_slack_sends() -> None:
    body, _ = signing.slash_command(
        "/deploy", "mybot staging", user="U0ADA", response_url="http://x/r", secret=SECRET
    )
    fields = {k: v for k, [v] in parse_qs(body.decode(), keep_blank_values=True).items()}

    assert set(fields) == {
        "token", "team_id", "team_domain", "channel_id", "channel_name", "user_id", "user_name",
        "command", "text", "api_app_id", "response_url", "trigger_id", "is_enterprise_install",
    }  # fmt: skip
    assert (fields["command"], fields["text"], fields["user_id"]) == (
        "/deploy",
        "mybot staging",
        "U0ADA",
    )
    assert (fields["channel_id"], fields["team_id"]) == ("C0DEPLOYS", "T0TEST")


def test_block_action_and_event_payloads() -> None:
    body, _ = signing.block_action(
        "approve", "12", user="U0LEAD1", channel="C0DEPLOYS", message_ts="1700000000.000100",
        response_url="http://x/r", secret=SECRET,
    )  # fmt: skip
    [raw] = parse_qs(body.decode())["payload"]
    payload = json.loads(raw)
    event_body, _ = signing.reaction_added(
        "white_check_mark", user="U0LEAD1", channel="C0DEPLOYS", ts="1.2", secret=SECRET
    )
    envelope = json.loads(event_body)

    assert payload["type"] == "block_actions"
    assert payload["actions"][0] | {"action_ts": ""} == {
        "action_id": "approve", "block_id": "b", "value": "12", "type": "button",
        "text": {"type": "plain_text", "text": "approve", "emoji": True}, "action_ts": "",
    }  # fmt: skip
    assert payload["container"]["message_ts"] == payload["message"]["ts"] == "1700000000.000100"
    assert payload["user"]["id"] == "U0LEAD1"
    assert envelope["type"] == "event_callback"
    assert envelope["event"]["item"] == {"type": "message", "channel": "C0DEPLOYS", "ts": "1.2"}


# -- the real bolt app, over HTTP ---------------------------------------------------------------


class _QuietWSGIHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log in test output."""


def _hello_app(slack: SlackStandIn) -> App:
    app = App(client=WebClient(token="xoxb-test", base_url=slack.base_url), signing_secret=SECRET)

    @app.command("/hello")
    def hello(ack: Ack, command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        client.chat_postMessage(channel=command["channel_id"], text=f"hello {command['text']}")
        respond(text=f"said hello to {command['text']}")

    @app.action("approve")
    def approve(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        text = f"deployment {action['value']} approved by {body['user']['id']}"
        client.chat_update(channel=body["channel"]["id"], ts=body["message"]["ts"], text=text)

    @app.event("reaction_added")
    def reacted(event: dict[str, Any], client: WebClient) -> None:
        item = event["item"]
        text = f":{event['reaction']}: from {event['user']}"
        client.chat_postMessage(channel=item["channel"], thread_ts=item["ts"], text=text)

    return app


@pytest.fixture
def bolt_url(slack: SlackStandIn) -> Iterator[str]:
    """The real bolt app behind its WSGI adapter, served on loopback; its Request URL."""
    server: WSGIServer = make_server(
        "127.0.0.1", 0, SlackRequestHandler(_hello_app(slack)), handler_class=_QuietWSGIHandler
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="bolt", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/slack/events"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _post(url: str, signed: tuple[bytes, dict[str, str]]) -> httpx.Response:
    body, headers = signed
    return httpx.post(url, content=body, headers=headers, timeout=10)


def test_a_signed_slash_command_reaches_the_bolt_app(slack: SlackStandIn, bolt_url: str) -> None:
    command = signing.slash_command(
        "/hello", "world", user="U0ADA", response_url=slack.response_url("hello"), secret=SECRET
    )

    assert _post(bolt_url, command).status_code == 200
    reply = slack.wait_for(method="response_url")
    post = slack.wait_for(method="chat.postMessage")
    [auth] = slack.calls("auth.test")  # bolt verifies its token once, when the App is built

    assert reply.body["text"] == "said hello to world"
    assert reply.path == "/response/hello"
    assert (post.body["channel"], post.body["text"]) == ("C0DEPLOYS", "hello world")
    assert post.auth_ok
    assert auth.at <= post.at


def test_a_button_and_a_reaction_reach_the_bolt_app(slack: SlackStandIn, bolt_url: str) -> None:
    ts = WebClient(token="xoxb-test", base_url=slack.base_url).chat_postMessage(
        channel="C0DEPLOYS", text="promote deployment 12?"
    )["ts"]
    press = signing.block_action(
        "approve", "12", user="U0LEAD1", channel="C0DEPLOYS", message_ts=ts,
        response_url=slack.response_url("press"), secret=SECRET,
    )  # fmt: skip
    reaction = signing.reaction_added(
        "white_check_mark", user="U0LEAD2", channel="C0DEPLOYS", ts=ts, secret=SECRET
    )
    verification = signing.url_verification("c4allenge", SECRET)

    assert _post(bolt_url, press).status_code == 200
    assert _post(bolt_url, reaction).status_code == 200
    answer = _post(bolt_url, verification)
    slack.wait_for(method="chat.update")
    slack.wait_for(lambda c: c.body.get("thread_ts") == ts, method="chat.postMessage")

    assert (answer.status_code, answer.json()) == (200, {"challenge": "c4allenge"})
    assert slack.messages()[ts].text == "deployment 12 approved by U0LEAD1"
    assert [m.text for m in slack.thread(ts)] == [":white_check_mark: from U0LEAD2"]


def test_badly_signed_requests_are_refused(slack: SlackStandIn, bolt_url: str) -> None:
    def hello(text: str, **kwargs: Any) -> tuple[bytes, dict[str, str]]:
        return signing.slash_command(
            "/hello", text, user="U0ADA", response_url=slack.response_url(text), **kwargs
        )

    forged = hello("forged", secret="not-the-secret")
    stale = hello("stale", secret=SECRET, timestamp=int(time.time()) - 600)
    body, headers = hello("original", secret=SECRET)
    tampered = (body.replace(b"original", b"tampered"), headers)

    for request in (forged, stale, tampered):
        assert _post(bolt_url, request).status_code == 401
    assert [c.method for c in slack.calls()] == ["auth.test"]  # made when the App was built
    assert _post(bolt_url, hello("genuine", secret=SECRET)).status_code == 200
    slack.wait_for(method="response_url")
    slack.wait_for(method="chat.postMessage")
    assert [c.path for c in slack.calls("response_url")] == ["/response/genuine"]
    assert [c.body["text"] for c in slack.calls("chat.postMessage")] == ["hello genuine"]
