"""Requests built and signed exactly as Slack sends them to an app's Request URL.

Each builder returns ``(body, headers)`` ready for ``httpx.post(url, content=body,
headers=headers)``. The signature is Slack's v0 scheme: ``X-Slack-Signature:
v0=hex(HMAC-SHA256(secret, "v0:{timestamp}:{raw body}"))`` next to
``X-Slack-Request-Timestamp`` (Slack rejects timestamps more than 300 s off).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

from tests.slack.standin import BOT_USER_ID, TEAM_DOMAIN, TEAM_ID

APP_ID = "A0CHATOPS"
VERIFICATION_TOKEN = "legacy-verification-token"  # deprecated by Slack, still sent
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

Signed = tuple[bytes, dict[str, str]]

_serial = itertools.count(1)


def sign(
    body: bytes, secret: str, timestamp: int | None = None, *, content_type: str | None = None
) -> dict[str, str]:
    """Slack's request headers for `body`; the content type is guessed (JSON or form)."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    if content_type is None:
        content_type = JSON if body.lstrip().startswith(b"{") else FORM
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": f"v0={digest}",
    }


def slash_command(
    command: str,
    text: str,
    *,
    user: str,
    channel: str = "C0DEPLOYS",
    response_url: str,
    secret: str,
    team: str = TEAM_ID,
    channel_name: str = "deploys",
    timestamp: int | None = None,
) -> Signed:
    """A slash command (`command` starts with '/'), form-encoded as Slack posts it."""
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel,
        "channel_name": channel_name,
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": _trigger_id(),
    }
    return _form(fields, secret, timestamp)


def block_action(
    action_id: str,
    value: str,
    *,
    user: str,
    channel: str,
    message_ts: str,
    message: dict[str, Any] | None = None,
    response_url: str,
    secret: str,
    block_id: str = "b",
    channel_name: str = "deploys",
    timestamp: int | None = None,
) -> Signed:
    """A button press on the message `message_ts` (its `message` as Slack shows it, if given)."""
    shown = {"type": "message", "ts": message_ts, "text": "", "blocks": [], **(message or {})}
    payload = {
        "type": "block_actions",
        "token": VERIFICATION_TOKEN,
        "api_app_id": APP_ID,
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM_ID},
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": channel_name},
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "message": shown,
        "state": {"values": {}},
        "response_url": response_url,
        "trigger_id": _trigger_id(),
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "type": "button",
                "text": {"type": "plain_text", "text": action_id, "emoji": True},
                "action_ts": _event_ts(),
            }
        ],
    }
    return _form({"payload": json.dumps(payload)}, secret, timestamp)


def reaction_added(
    reaction: str,
    *,
    user: str,
    channel: str,
    ts: str,
    secret: str,
    item_user: str = BOT_USER_ID,
    event_id: str | None = None,
    timestamp: int | None = None,
) -> Signed:
    """A `reaction_added` event on the message `ts`, in its event_callback envelope."""
    envelope = {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": {
            "type": "reaction_added",
            "user": user,
            "reaction": reaction,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "item_user": item_user,
            "event_ts": _event_ts(),
        },
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_serial):010d}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
    return _json(envelope, secret, timestamp)


def url_verification(challenge: str, secret: str, timestamp: int | None = None) -> Signed:
    """The first request Slack sends to a new Events Request URL."""
    body = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    return _json(body, secret, timestamp)


def _form(fields: dict[str, str], secret: str, timestamp: int | None) -> Signed:
    body = urlencode(fields).encode()
    return body, sign(body, secret, timestamp, content_type=FORM)


def _json(document: dict[str, Any], secret: str, timestamp: int | None) -> Signed:
    body = json.dumps(document).encode()
    return body, sign(body, secret, timestamp, content_type=JSON)


def _trigger_id() -> str:
    return f"{next(_serial)}.{TEAM_ID[1:]}.0123456789abcdef"


def _event_ts() -> str:
    return f"{time.time():.6f}"
