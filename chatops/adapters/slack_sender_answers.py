"""What Slack's answers mean for a message: try again when, or never (and what to fix)."""

from __future__ import annotations

import http.client
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

__all__ = ["HINTS", "Failure", "error_of", "failure_of"]

# ok:false answers that say "not now" rather than "never"
_TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
_TOKEN_HINT = "check SLACK_BOT_TOKEN (the app's Bot User OAuth Token, xoxb-…)"  # noqa: S105
HINTS = {
    "channel_not_found": "check the channel id in chatops.yaml (slack.channel, or the "
    "environment's channel)",
    "not_in_channel": "invite the bot to the channel (/invite @chatops), or give the app "
    "the chat:write.public scope",
    "is_archived": "the channel is archived: unarchive it or configure another channel",
    "invalid_auth": _TOKEN_HINT,
    "not_authed": _TOKEN_HINT,
    "token_revoked": _TOKEN_HINT,
    "token_expired": _TOKEN_HINT,
    "account_inactive": _TOKEN_HINT,
    "missing_scope": "add the scope Slack names to the app (deploy/slack-app-manifest.yaml) "
    "and reinstall it",
}


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed call: what went wrong, and when (or whether) to try again."""

    error: str
    retry_after: float | None = None  # Slack said when (429)
    permanent: bool = False


def _retry_after(exc: SlackApiError) -> float:
    headers = exc.response.headers or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(1.0, float(raw))
            except ValueError:
                break
    return 1.0


def error_of(exc: SlackApiError) -> str:
    """The `error` of Slack's ok:false answer (`channel_not_found`, …)."""
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    return str(data.get("error") or "unknown error")


def failure_of(exc: Exception) -> Failure:
    """What a failed call means: when to try again, or that it never will succeed."""
    if isinstance(exc, SlackApiError):
        status, error = exc.response.status_code, error_of(exc)
        if status == 429:
            return Failure(f"HTTP 429 {error}", retry_after=_retry_after(exc))
        if status >= 500 or error in _TRANSIENT:
            return Failure(f"HTTP {status} {error}")
        return Failure(error, permanent=True)
    if isinstance(exc, OSError | http.client.HTTPException):
        return Failure(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}")
    return Failure(f"{type(exc).__name__}: {exc}", permanent=True)
