"""The slack-bolt app: listeners that ack at once, then hand the request to ChatCommands."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.error import BoltError
from slack_sdk import WebClient

from chatops.domain.commands import COMMANDS
from chatops.entrypoints.chat import ChatCommands, Reply
from chatops.entrypoints.slack.blocks import reply_message
from chatops.errors import ChatOpsError, ConfigError, NotifierError
from chatops.services.context import Actor
from chatops.services.deliveries import Deliveries
from chatops.services.logcontext import carried
from chatops.services.throttle import Throttle

__all__ = ["BUTTONS", "create_bolt_app", "register"]

log = logging.getLogger(__name__)

BUTTONS = ("promote", "approve", "reject", "rollback", "ack_alert", "logs", "promote_anyway")
SLOW_DOWN = (
    ":hourglass: Slow down: you sent more commands than chatops takes at once "
    "({burst}, then one every {every:g} s). Nothing ran; try again in a moment."
)


def _delivery_key(body: dict[str, Any]) -> str | None:
    """What identifies one user action across Slack's retries."""
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("trigger_id"):
        return f"trigger:{body['trigger_id']}"
    return None


def create_bolt_app(
    *,
    client: WebClient,
    signing_secret: str | None,
    chat: ChatCommands,
    work: Executor,
    deliveries: Deliveries,
    throttle: Throttle,
    socket_mode: bool = False,
) -> App:
    """The bolt App, with its Web API client pointing wherever SLACK_API_URL says.

    `signing_secret` verifies every request that arrives over HTTP. Only in Socket
    Mode, where requests arrive over chatops' own connection to Slack and never
    over HTTP, is verification off (with no made-up key standing in).

    Listeners only acknowledge and hand the request to `work`, so bolt's own
    threads are free again at once and every request is answered within
    milliseconds, however slow the work behind it. bolt checks the token with
    `auth.test` while the App is built.

    Raises:
        ConfigError: Slack does not accept SLACK_BOT_TOKEN, or the signing secret is blank.
        NotifierError: the Slack Web API cannot be reached.
    """
    if not socket_mode and not (signing_secret or "").strip():
        raise ConfigError(
            "SLACK_SIGNING_SECRET is not set: Slack requests over HTTP cannot be verified",
            hint="copy it from the app's Basic Information page, or use --socket-mode",
        )
    _quiet_token_warning()
    try:
        app = App(
            client=client,
            signing_secret="" if socket_mode else signing_secret,
            request_verification_enabled=not socket_mode,
            process_before_response=False,
        )
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
    register(app, chat, work, deliveries=deliveries, throttle=throttle)
    return app


class _TokenUnused(logging.Filter):
    """bolt reads SLACK_BOT_TOKEN itself and warns that the client we give wins: it is ours."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def _quiet_token_warning() -> None:
    logger = logging.getLogger("slack_bolt.App")
    if not any(isinstance(f, _TokenUnused) for f in logger.filters):
        logger.addFilter(_TokenUnused())


def _once(deliveries: Deliveries) -> Callable[..., Any]:
    """A bolt middleware that acknowledges and skips a delivery handled before (by any replica)."""

    def first_time(key: str) -> bool:
        try:
            return deliveries.first_time(key)
        except ChatOpsError as exc:  # better a rare repeat than a lost request
            log.warning("cannot check whether %s was handled before: %s", key, exc)
            return True

    def once(req: Any, resp: Any, next: Callable[[], Any]) -> Any:
        key = _delivery_key(req.body if isinstance(req.body, dict) else {})
        if key is not None and not first_time(f"slack:{key}"):
            log.info(
                "skipping a repeated delivery (%s, retry %s)",
                key,
                req.headers.get("x-slack-retry-num"),
            )
            return BoltResponse(status=200, body="")
        return next()

    return once


def register(
    app: App, chat: ChatCommands, work: Executor, *, deliveries: Deliveries, throttle: Throttle
) -> None:
    """Attach every command, button and event listener of DESIGN §6 to `app`."""
    slow_down = SLOW_DOWN.format(burst=throttle.rate.burst, every=1 / throttle.rate.per_second)

    def later(job: Callable[[], None]) -> None:
        def run() -> None:
            try:
                job()
            except Exception:
                log.exception("a Slack request failed after it was acknowledged")

        work.submit(carried(run))  # its lines name the request that asked for it

    app.middleware(_once(deliveries))

    def admitted(actor: Actor, what: str) -> bool:
        try:
            return throttle.admit(actor, what)
        except ChatOpsError as exc:  # the refusal stands; only its audit event is missing
            log.warning("could not audit the rate limit of %s: %s", actor.user, exc)
            return False

    def reply(respond: Callable[..., Any], answer: Reply) -> None:
        message = reply_message(answer.content)
        respond(
            text=message.text,
            blocks=message.blocks,
            response_type="ephemeral" if answer.ephemeral else "in_channel",
            replace_original=False,
        )

    def on_command(
        ack: Callable[..., Any], command: dict[str, Any], respond: Callable[..., Any]
    ) -> None:
        actor = Actor(str(command["user_id"]), "slack")
        name, text = str(command["command"]), str(command.get("text") or "")
        if not admitted(actor, name):
            ack(text=slow_down)  # a slash command's acknowledgement is shown to its sender only
            return
        ack()
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
        if not admitted(actor, f"the {action_id} button"):
            later(
                lambda: respond(text=slow_down, response_type="ephemeral", replace_original=False)
            )
            return
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
                message = reply_message(answer.content)
                client.chat_postEphemeral(
                    channel=channel, user=user, text=message.text, blocks=message.blocks
                )

        later(approve)

    for name in COMMANDS:
        app.command(name)(on_command)
    for action_id in BUTTONS:
        app.action(action_id)(on_button)
    app.event("reaction_added")(on_reaction)
