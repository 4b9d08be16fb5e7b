"""The slack-bolt app: listeners that ack at once, then hand the request to ChatCommands."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.error import BoltError
from slack_sdk import WebClient

from chatops.domain.commands import COMMANDS
from chatops.entrypoints.chat import ChatCommands, Reply
from chatops.errors import ConfigError, NotifierError
from chatops.services.context import Actor

__all__ = ["BUTTONS", "create_bolt_app", "register"]

log = logging.getLogger(__name__)

BUTTONS = ("promote", "approve", "reject", "rollback", "ack_alert", "logs")


class _Seen:
    """Delivery ids already handled, so a retried delivery is acknowledged and skipped."""

    def __init__(self, size: int = 5000, ttl: float = 3600.0) -> None:
        self._ids: OrderedDict[str, float] = OrderedDict()
        self._size = size
        self._ttl = ttl
        self._guard = threading.Lock()

    def first_time(self, key: str) -> bool:
        now = time.monotonic()
        with self._guard:
            while self._ids and (
                len(self._ids) > self._size or next(iter(self._ids.values())) < now - self._ttl
            ):
                self._ids.popitem(last=False)
            if key in self._ids:
                return False
            self._ids[key] = now
            return True


def _delivery_key(body: dict[str, Any]) -> str | None:
    """What identifies one user action across Slack's retries."""
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("trigger_id"):
        return f"trigger:{body['trigger_id']}"
    return None


def create_bolt_app(
    *, client: WebClient, signing_secret: str, chat: ChatCommands, work: Executor
) -> App:
    """The bolt App, with its Web API client pointing wherever SLACK_API_URL says.

    Listeners only acknowledge and hand the request to `work`, so bolt's own
    threads are free again at once and every request is answered within
    milliseconds, however slow the work behind it. bolt checks the token with
    `auth.test` while the App is built.

    Raises:
        ConfigError: Slack does not accept SLACK_BOT_TOKEN.
        NotifierError: the Slack Web API cannot be reached.
    """
    try:
        app = App(client=client, signing_secret=signing_secret, process_before_response=False)
    except BoltError as exc:
        raise ConfigError(
            f"Slack did not accept SLACK_BOT_TOKEN: {exc}",
            hint="copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page",
        ) from None
    except OSError as exc:  # urllib's URLError, timeouts, refused connections
        raise NotifierError(
            f"cannot reach the Slack Web API at {client.base_url} to check SLACK_BOT_TOKEN: "
            f"{getattr(exc, 'reason', exc)}",
            hint="check the network (or SLACK_API_URL, when set) and start again",
        ) from None
    register(app, chat, work)
    return app


def register(app: App, chat: ChatCommands, work: Executor) -> None:
    """Attach every command, button and event listener of DESIGN §6 to `app`."""
    seen = _Seen()

    def later(job: Callable[[], None]) -> None:
        def run() -> None:
            try:
                job()
            except Exception:
                log.exception("a Slack request failed after it was acknowledged")

        work.submit(run)

    def once(req: Any, resp: Any, next: Callable[[], Any]) -> Any:
        key = _delivery_key(req.body if isinstance(req.body, dict) else {})
        if key is not None and not seen.first_time(key):
            log.info(
                "skipping a repeated delivery (%s, retry %s)",
                key,
                req.headers.get("x-slack-retry-num"),
            )
            return BoltResponse(status=200, body="")
        return next()

    app.middleware(once)

    def reply(respond: Callable[..., Any], answer: Reply) -> None:
        respond(
            text=answer.message.text,
            blocks=answer.message.blocks,
            response_type="ephemeral" if answer.ephemeral else "in_channel",
            replace_original=False,
        )

    def on_command(
        ack: Callable[..., Any], command: dict[str, Any], respond: Callable[..., Any]
    ) -> None:
        ack()
        actor = Actor(str(command["user_id"]), "slack")
        name, text = str(command["command"]), str(command.get("text") or "")
        later(lambda: reply(respond, chat.command(actor, name, text)))

    def on_button(
        ack: Callable[..., Any],
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Callable[..., Any],
    ) -> None:
        ack()
        actor = Actor(str(body["user"]["id"]), "slack")
        action_id, value = str(action["action_id"]), str(action.get("value") or "")
        later(lambda: reply(respond, chat.press(actor, action_id, value)))

    def on_reaction(event: dict[str, Any], client: WebClient) -> None:
        item = event.get("item") or {}
        if item.get("type") != "message":
            return
        channel, ts, user = str(item.get("channel")), str(item.get("ts")), str(event.get("user"))
        reaction = str(event.get("reaction"))

        def approve() -> None:
            answer = chat.react(Actor(user, "slack"), reaction, channel, ts)
            if answer is not None:
                client.chat_postEphemeral(
                    channel=channel,
                    user=user,
                    text=answer.message.text,
                    blocks=answer.message.blocks,
                )

        later(approve)

    for name in COMMANDS:
        app.command(name)(on_command)
    for action_id in BUTTONS:
        app.action(action_id)(on_button)
    app.event("reaction_added")(on_reaction)
