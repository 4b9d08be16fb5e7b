"""A small Slack Web API stand-in on 127.0.0.1 that records every call.

Point the real slack_sdk at it with ``WebClient(token="xoxb-…", base_url=standin.base_url)``
and give signed test payloads ``standin.response_url()`` as their response_url. It keeps
Slack's state that chatops relies on (posted messages, edited in place by ``chat.update``)
and answers the few Web API methods chatops calls; everything else is ``unknown_method``.

Asked to, it misbehaves as Slack does on a bad day: it enforces a rate limit per
channel (``rate_limit``: 429 with ``Retry-After``), fails the next call or every
call of a method (``fail_next``, ``fail_always``) and hangs past a client's
timeout (``hang_next``).

    with SlackStandIn() as slack:
        slack.usergroups["S0LEADS"] = ["U0LEAD1"]
        ...  # drive the app
        call = slack.wait_for(lambda c: "live" in c.body.get("text", ""), method="chat.update")
        assert slack.messages()[call.body["ts"]].text == "..."
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

TEAM_ID = "T0TEST"
TEAM_DOMAIN = "test"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
RESPONSE_URL = "response_url"  # the Call.method of a post to a response_url

Body = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One request the stand-in received (header names lower-cased, `at` from time.monotonic)."""

    method: str
    body: Body
    headers: dict[str, str]
    at: float
    auth_ok: bool
    path: str = ""


@dataclass(frozen=True)
class Message:
    """A channel message as Slack holds it now: posted, then edited `edits` times."""

    channel: str
    ts: str
    text: str
    blocks: list[Any]
    thread_ts: str | None = None
    edits: int = 0


@dataclass(frozen=True)
class _Failure:
    error: str
    status: int
    retry_after: int | None


class SlackStandIn:
    """The stand-in server; start()/stop() or use it as a context manager."""

    def __init__(self) -> None:
        self.usergroups: dict[str, list[str]] = {}
        self._cond = threading.Condition()
        self._calls: list[Call] = []
        self._messages: dict[str, Message] = {}
        self._failures: dict[str, deque[_Failure]] = {}
        self._outages: dict[str, _Failure] = {}
        self._hangs: dict[str, deque[float]] = {}
        self._limits: dict[str, float] = {}  # method → seconds between calls in one channel
        self._last_accepted: dict[tuple[str, str], float] = {}
        self._ts_counter = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> SlackStandIn:
        if self._server is not None:
            raise RuntimeError("the Slack stand-in is already running")
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="slack-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join()

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the Slack stand-in is not running")
        return cast(int, self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The Web API base URL for WebClient(base_url=...); ends in '/' for urljoin."""
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str = "x") -> str:
        """A response_url whose posts are recorded as Call(method="response_url")."""
        return f"http://127.0.0.1:{self.port}/response/{name}"

    # -- configuration -------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        error: str = "ratelimited",
        status: int = 429,
        retry_after: int | None = 1,
    ) -> None:
        """Make the next call of `method` fail with `error` (the call is still recorded)."""
        with self._cond:
            queue = self._failures.setdefault(method, deque())
            queue.append(_Failure(error, status, retry_after))

    def fail_always(
        self,
        method: str,
        error: str = "internal_error",
        status: int = 500,
        retry_after: int | None = None,
    ) -> None:
        """Make every call of `method` fail until `recover()` (calls are still recorded)."""
        with self._cond:
            self._outages[method] = _Failure(error, status, retry_after)

    def recover(self, method: str | None = None) -> None:
        """End `fail_always` for `method` (default: every method)."""
        with self._cond:
            if method is None:
                self._outages.clear()
            else:
                self._outages.pop(method, None)

    def hang_next(self, method: str, seconds: float) -> None:
        """Make the next call of `method` wait `seconds` before answering, then not take effect.

        (As Slack does when it times out: the call is recorded when it arrives; longer
        than the client's timeout, nobody reads the late `request_timeout` answer.)
        """
        with self._cond:
            self._hangs.setdefault(method, deque()).append(seconds)

    def rate_limit(self, method: str, per_second: float | None = 1.0) -> None:
        """Allow `per_second` calls of `method` per channel (None: no limit), as Slack does for
        chat.postMessage; faster calls are answered 429 `ratelimited` with `Retry-After`."""
        with self._cond:
            if per_second is None:
                self._limits.pop(method, None)
            else:
                self._limits[method] = 1.0 / per_second

    # -- what was recorded ---------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        with self._cond:
            return [c for c in self._calls if method is None or c.method == method]

    def clear(self) -> None:
        """Forget the recorded calls; Slack's state (messages, ts counter) is kept."""
        with self._cond:
            self._calls.clear()

    def messages(self) -> dict[str, Message]:
        """Every posted message (thread replies too) by ts, with all updates applied."""
        with self._cond:
            return dict(self._messages)

    def thread(self, ts: str) -> list[Message]:
        """The replies posted with thread_ts=ts, oldest first."""
        with self._cond:
            return [m for m in self._messages.values() if m.thread_ts == ts]

    def wait_for(
        self,
        predicate: Callable[[Call], bool] | None = None,
        *,
        method: str | None = None,
        timeout: float = 15.0,
    ) -> Call:
        """The first recorded call (of `method`) satisfying predicate; waits up to `timeout`."""

        def match() -> Call | None:
            for call in self._calls:
                if (method is None or call.method == method) and (
                    predicate is None or predicate(call)
                ):
                    return call
            return None

        with self._cond:
            if (found := self._cond.wait_for(match, timeout)) is None:
                wanted = f"{method} call" if method else "call"
                raise AssertionError(f"no {wanted} matched within {timeout}s; {self._describe()}")
            return found

    def wait_for_count(self, method: str, n: int, timeout: float = 15.0) -> list[Call]:
        """Wait until at least n calls of `method` were recorded; returns them all."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.calls(method)) >= n, timeout):
                raise AssertionError(
                    f"expected {n} {method} call(s) within {timeout}s; {self._describe()}"
                )
            return self.calls(method)

    def _describe(self) -> str:
        if not self._calls:
            return "nothing was recorded"
        lines = [f"recorded {len(self._calls)} call(s):"]
        for call in self._calls:
            body = json.dumps(call.body, default=str)
            lines.append(f"  - {call.method} {body[:300]}{'…' if len(body) > 300 else ''}")
        return "\n".join(lines)

    # -- serving -------------------------------------------------------------------------------

    def _handle(self, path: str, body: Body, headers: dict[str, str]) -> tuple[int, Any, dict]:
        """Record one request and answer it: (status, JSON-able body or text, extra headers)."""
        if path.startswith("/response/"):
            method, auth = RESPONSE_URL, None
        elif path.startswith("/api/") and len(path) > len("/api/"):
            method, auth = path.removeprefix("/api/"), headers.get("authorization")
        else:
            return 404, {"ok": False, "error": "not_found"}, {}
        auth_ok = method == RESPONSE_URL or (auth or "").startswith("Bearer xoxb-")
        with self._cond:
            hangs = self._hangs.get(method)
            hang = hangs.popleft() if hangs else None
            if hang is not None:
                self._calls.append(Call(method, body, headers, time.monotonic(), auth_ok, path))
                self._cond.notify_all()
        if hang is not None:
            time.sleep(hang)
            return 200, {"ok": False, "error": "request_timeout"}, {}
        with self._cond:
            status, answer, extra = self._answer(method, body, auth, auth_ok)
            self._calls.append(Call(method, body, headers, time.monotonic(), auth_ok, path))
            self._cond.notify_all()
        return status, answer, extra

    def _limited(self, method: str, body: Body) -> int | None:
        """Seconds to wait when a call of `method` in its channel comes too soon, else None."""
        interval = self._limits.get(method)
        if interval is None:
            return None
        key, now = (method, str(body.get("channel", ""))), time.monotonic()
        last = self._last_accepted.get(key)
        if last is not None and now - last < interval:
            return max(1, math.ceil(interval - (now - last)))
        self._last_accepted[key] = now
        return None

    def _answer(
        self, method: str, body: Body, auth: str | None, auth_ok: bool
    ) -> tuple[int, Any, dict]:
        queue = self._failures.get(method)
        failure = queue.popleft() if queue else self._outages.get(method)
        if failure is not None:
            extra = {} if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
            return failure.status, {"ok": False, "error": failure.error}, extra
        if (wait := self._limited(method, body)) is not None:
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)}
        if method == RESPONSE_URL:
            return 200, "ok", {}
        if not auth_ok:
            return 200, {"ok": False, "error": "invalid_auth" if auth else "not_authed"}, {}
        handler = self._METHODS.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        return 200, handler(self, body), {}

    def _next_ts(self) -> str:
        self._ts_counter += 1
        seconds, micros = divmod(self._ts_counter * 100, 1_000_000)
        return f"{1_700_000_000 + seconds}.{micros:06d}"

    def _auth_test(self, body: Body) -> Body:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_DOMAIN,
            "user": "chatops",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _post_message(self, body: Body) -> Body:
        channel = body.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not any(body.get(k) for k in ("text", "blocks", "attachments")):
            return {"ok": False, "error": "no_text"}
        message = Message(
            channel=channel,
            ts=self._next_ts(),
            text=body.get("text", ""),
            blocks=_json_list(body.get("blocks")),
            thread_ts=body.get("thread_ts") or None,
        )
        self._messages[message.ts] = message
        return {"ok": True, "channel": channel, "ts": message.ts, "message": _as_slack(message)}

    def _update(self, body: Body) -> Body:
        old = self._messages.get(body.get("ts", ""))
        if old is None or old.channel != body.get("channel"):
            return {"ok": False, "error": "message_not_found"}
        new = replace(
            old,
            text=body.get("text", old.text),
            blocks=_json_list(body["blocks"]) if "blocks" in body else old.blocks,
            edits=old.edits + 1,
        )
        self._messages[new.ts] = new
        return {
            "ok": True,
            "channel": new.channel,
            "ts": new.ts,
            "text": new.text,
            "message": _as_slack(new),
        }

    def _post_ephemeral(self, body: Body) -> Body:
        if not body.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not body.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _usergroup_users(self, body: Body) -> Body:
        users = self.usergroups.get(body.get("usergroup", ""))
        if users is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(users)}

    def _reactions_add(self, body: Body) -> Body:
        return {"ok": True}

    def _permalink(self, body: Body) -> Body:
        channel, ts = body.get("channel", ""), body.get("message_ts", "")
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p"
            + ts.replace(".", ""),
        }

    _METHODS: dict[str, Callable[[SlackStandIn, Body], Body]] = {
        "auth.test": _auth_test,
        "chat.postMessage": _post_message,
        "chat.update": _update,
        "chat.postEphemeral": _post_ephemeral,
        "usergroups.users.list": _usergroup_users,
        "reactions.add": _reactions_add,
        "chat.getPermalink": _permalink,
    }


def _json_list(value: Any) -> list[Any]:
    """Blocks arrive as a list (JSON bodies) or as a JSON string (form bodies)."""
    if isinstance(value, str):
        value = json.loads(value) if value else []
    return list(value or [])


def _as_slack(message: Message) -> Body:
    shown: Body = {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "text": message.text,
        "blocks": message.blocks,
        "ts": message.ts,
    }
    if message.thread_ts:
        shown["thread_ts"] = message.thread_ts
    return shown


def parse_body(raw: bytes, content_type: str, query: str = "") -> Body:
    """Query fields plus the JSON or form body; single-valued form fields are flattened."""
    body = _form(query)
    if not raw:
        return body
    text = raw.decode("utf-8", "replace")
    if "json" in content_type:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = {"_raw": text}
        body.update(parsed if isinstance(parsed, dict) else {"_json": parsed})
    elif "x-www-form-urlencoded" in content_type:
        body.update(_form(text))
    else:
        body["_raw"] = text
    return body


def _form(text: str) -> Body:
    fields = parse_qs(text, keep_blank_values=True)
    return {k: v[0] if len(v) == 1 else v for k, v in fields.items()}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, standin: SlackStandIn) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.standin = standin


class _Handler(BaseHTTPRequestHandler):
    server_version = "SlackStandIn/1"
    timeout = 30  # a silent client cannot hold a handler thread forever

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        body = parse_body(raw, headers.get("content-type", ""), url.query)
        standin = cast(_Server, self.server).standin
        status, answer, extra = standin._handle(url.path, body, headers)
        if isinstance(answer, str):
            data, content_type = answer.encode(), "text/plain; charset=utf-8"
        else:
            data, content_type = json.dumps(answer).encode(), "application/json; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the recorded calls are the log."""
