"""Slack's "done means", end to end: `chatops serve` over HTTP, reached with signed requests.

`chatops serve` runs as a real process; its Web API calls go to the Slack stand-in
(SLACK_API_URL), which records them and keeps the channel's messages as Slack
would. Requests are built and signed exactly as Slack sends them. bolt answers
after `ack()` and works on in the background, so every check polls what the
stand-in recorded (with generous timeouts) instead of sleeping.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest

from chatops.adapters.local_services import free_port
from chatops.domain.commands import USAGE
from chatops.domain.redact import MASK
from chatops.entrypoints.sample import DOCKERFILE
from tests.e2e.conftest import Installation
from tests.e2e.serving import ALERT_TOKEN, BOT_TOKEN, SIGNING_SECRET, Served
from tests.slack import reading, signing
from tests.slack.standin import RESPONSE_URL, Message, SlackStandIn

pytestmark = pytest.mark.slow

CHANNEL = "C0DEPLOYS"
DEV = "UDEV"  # a deployer in both environments; requests everything below
LEAD = "U0LEAD1"  # a prod approver only through the user group
LEADS = "S0LEADS"
SLACK_ACK_LIMIT = 3.0  # seconds Slack waits for the HTTP answer
DEPLOY_TIMEOUT = 120.0
SECRET_VALUE = "hunter2-staging-token-9f8e7d"
STUCK_DOCKERFILE = (  # `RUN sleep infinity`
    'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sleep", "3600"]\n'
)
# the sample bot, printing its secret on start, so that /logs has something to redact
TALKATIVE_DOCKERFILE = DOCKERFILE.replace(
    "CMD exec httpd", 'CMD echo "starting with API_TOKEN=$API_TOKEN" \\\n  && exec httpd'
)
PHRASES = ["queued", "building the image", "deploying", "checking health", "live"]

T = TypeVar("T")


def _until(probe: Callable[[], T | None], what: str, timeout: float = DEPLOY_TIMEOUT) -> T:
    """The first truthy value of `probe`, polled until `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# ── reading Slack messages ───────────────────────────────────────────────────


def _lines(message_blocks: list[Any]) -> list[str]:
    return reading.text_of(list(message_blocks)).splitlines()


def deployment_id_of(message_blocks: list[Any] | None) -> int | None:
    """The deployment a channel message is about, from its `Kind: deploy · #12` field."""
    for line in _lines(message_blocks or []):
        if line.startswith("Kind: ") and (found := re.search(r"#(\d+)$", line)):
            return int(found[1])
    return None


def headline(message: Message) -> str:
    return _lines(message.blocks)[0]


def shown(message: Message) -> str:
    """The message as a reader sees it."""
    return "\n".join(_lines(message.blocks))


def buttons(message: Message) -> dict[str, str]:
    """action_id → value of the message's buttons."""
    found = reading.buttons(list(message.blocks))
    return {action_id: value for _, action_id, value in found}


def reply_text(reply: dict[str, Any]) -> str:
    """The fallback text of a reply, mrkdwn escapes undone."""
    text = str(reply.get("text", ""))
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _shown(reply: dict[str, Any]) -> str:
    """A reply's blocks as a reader sees them."""
    return "\n".join(_lines(reply.get("blocks") or []))


def started_id(reply: dict[str, Any]) -> int:
    """The deployment id of `#12 deploy of … started` / `#12 waits for approval`."""
    found = re.match(r"#(\d+) ", reply_text(reply))
    assert found, f"not a started deployment: {reply_text(reply)!r}"
    return int(found[1])


# ── a served installation, driven as Slack drives it ─────────────────────────


@dataclass
class Workspace:
    """`chatops serve` for one installation, and the Slack stand-in it talks to."""

    i: Installation
    slack: SlackStandIn
    served: Served
    _names: Iterator[int] = field(default_factory=itertools.count)

    # requests from Slack

    def post(self, body: bytes, headers: dict[str, str], *, status: int = 200) -> httpx.Response:
        started = time.monotonic()
        response = self.served.post("/slack/events", body, headers)
        took = time.monotonic() - started
        assert response.status_code == status, f"{response.status_code}: {response.text}"
        assert took < SLACK_ACK_LIMIT, f"answered after {took:.2f}s; Slack gives up after 3s"
        return response

    def slash(self, user: str, command: str, text: str) -> tuple[str, bytes, dict[str, str]]:
        """A signed slash command: (its response_url name, body, headers), not sent yet."""
        name = f"r{next(self._names)}"
        body, headers = signing.slash_command(
            command,
            text,
            user=user,
            channel=CHANNEL,
            response_url=self.slack.response_url(name),
            secret=SIGNING_SECRET,
        )
        return name, body, headers

    def command(self, user: str, command: str, text: str) -> str:
        """Send a slash command; returns the name of its response_url."""
        name, body, headers = self.slash(user, command, text)
        self.post(body, headers)
        return name

    def press(self, user: str, action_id: str, message: Message) -> str:
        """Press a button of a channel message; returns the name of its response_url."""
        value = buttons(message).get(action_id)
        assert value is not None, f"no {action_id} button on: {shown(message)}"
        name = f"r{next(self._names)}"
        body, headers = signing.block_action(
            action_id,
            value,
            user=user,
            channel=message.channel,
            message_ts=message.ts,
            message={"text": message.text, "blocks": message.blocks},
            response_url=self.slack.response_url(name),
            secret=SIGNING_SECRET,
        )
        self.post(body, headers)
        return name

    def react(self, user: str, message: Message) -> tuple[bytes, dict[str, str]]:
        """A ✅ reaction on a channel message; returns what was sent, for a re-delivery."""
        body, headers = signing.reaction_added(
            "white_check_mark", user=user, channel=message.channel, ts=message.ts,
            secret=SIGNING_SECRET,
        )  # fmt: skip
        self.post(body, headers)
        return body, headers

    # what Slack received

    def replies(self, name: str) -> list[dict[str, Any]]:
        return [c.body for c in self.slack.calls(RESPONSE_URL) if c.path == f"/response/{name}"]

    def reply(self, name: str, timeout: float = 30.0) -> dict[str, Any]:
        call = self.slack.wait_for(
            lambda c: c.path == f"/response/{name}", method=RESPONSE_URL, timeout=timeout
        )
        return call.body

    def message_of(self, deployment_id: int) -> Message | None:
        for message in self.slack.messages().values():
            if message.thread_ts is None and deployment_id_of(message.blocks) == deployment_id:
                return message
        return None

    def wait_message(self, deployment_id: int, phrase: str) -> Message:
        """The channel message of a deployment once its headline ends with `: <phrase>`."""

        def probe() -> Message | None:
            message = self.message_of(deployment_id)
            if message is not None and headline(message).endswith(f": {phrase}"):
                return message
            return None

        try:
            return _until(probe, f"#{deployment_id} to be {phrase}")
        except AssertionError:
            current = self.message_of(deployment_id)
            state = shown(current) if current else "no message"
            raise AssertionError(
                f"#{deployment_id} did not become {phrase}; its message:\n{state}\n"
                f"serve log:\n{self.served.output()[-3000:]}"
            ) from None

    def headlines(self, deployment_id: int) -> list[str]:
        """The headline of every post and edit of a deployment's message, in order."""
        return [
            _lines(c.body["blocks"])[0]
            for c in self.slack.calls()
            if c.method in ("chat.postMessage", "chat.update")
            and deployment_id_of(c.body.get("blocks")) == deployment_id
        ]

    # what chatops recorded, through its CLI

    def row(self, env: str) -> dict[str, Any]:
        """`chatops status --json` for the bot in `env`."""
        [row] = [r for r in self.i.json("status", self.i.bot) if r["env"] == env]
        return row

    def audit(self, action: str, outcome: str = "ok") -> list[dict[str, Any]]:
        events = self.i.json("audit", "--bot", self.i.bot, "--limit", "1000")
        return [e for e in events if e["action"] == action and e["outcome"] == outcome]


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        standin.usergroups[LEADS] = [LEAD]
        yield standin


@pytest.fixture
def workspace(installation: Installation, slack: SlackStandIn) -> Iterator[Workspace]:
    """serve (started after the stand-in: bolt calls auth.test while it is built), then stopped."""
    i = installation
    secrets = i.path / "secrets" / "staging.env"
    secrets.parent.mkdir()
    secrets.write_text(f"API_TOKEN={SECRET_VALUE}\n")
    i.document["slack"]["channel"] = CHANNEL
    i.document["environments"]["prod"].update(approvers=[LEADS], soak_seconds=0)
    i.document["bots"][i.bot]["environments"]["staging"]["env_file"] = str(secrets)
    i.write_config()
    env = {
        **i.env,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.base_url,
        "CHATOPS_ALERT_TOKEN": ALERT_TOKEN,
    }
    served = Served(i.config, env)
    try:
        served.start()
        yield Workspace(i, slack, served)
    finally:
        served.stop()


# ── the pipeline from Slack ──────────────────────────────────────────────────


def _deploy_to_staging(w: Workspace, version: int) -> Message:
    """`/deploy <bot> staging` (sent twice, the second as Slack's retry) until it is live."""
    name, body, headers = w.slash(DEV, "/deploy", f"{w.i.bot} staging")
    w.post(body, headers)
    w.post(body, {**headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    reply = w.reply(name)
    assert reply["response_type"] == "ephemeral"
    assert f"deploy of {w.i.bot} to staging started" in reply_text(reply)
    live = w.wait_message(started_id(reply), "live")
    assert headline(live) == f"✅ Deploy {w.i.bot} v{version} to staging: live"
    assert w.i.running_release("staging") == f"v{version}"
    assert len(w.replies(name)) == 1, "the retried delivery was handled a second time"
    return live


def _approved_in_prod(w: Workspace, deployment_id: int, version: int) -> Message:
    live = w.wait_message(deployment_id, "live")
    assert headline(live) == f"✅ Promote {w.i.bot} v{version} to prod: live"
    assert f"Approved by @{LEAD}" in shown(live)
    assert w.i.running_release("prod") == f"v{version}"
    staging, prod = w.i.container("staging"), w.i.container("prod")
    assert prod.attrs["Image"] == staging.attrs["Image"], "prod runs the image staging ran"
    approvals = [e for e in w.audit("approve") if e["deployment_id"] == deployment_id]
    assert [e["actor"] for e in approvals] == [LEAD], "exactly one approval was counted"
    return live


def test_deploy_promote_approve_and_roll_back_from_slack(workspace: Workspace) -> None:
    w, bot = workspace, workspace.i.bot

    # /deploy: acknowledged at once, then one channel message updated in place until live
    staging = _deploy_to_staging(w, 1)
    first = deployment_id_of(staging.blocks)
    [posted] = [
        c
        for c in w.slack.calls("chat.postMessage")
        if deployment_id_of(c.body.get("blocks")) == first
    ]
    assert posted.body["channel"] == CHANNEL
    updates = [
        c for c in w.slack.calls("chat.update") if deployment_id_of(c.body.get("blocks")) == first
    ]
    assert updates and {c.body["ts"] for c in updates} == {staging.ts}
    assert staging.edits == len(updates)
    phrases = [h.rpartition(": ")[2] for h in w.headlines(first)]
    assert "building the image" in phrases and phrases[-1] == "live"
    assert phrases == sorted(phrases, key=PHRASES.index), "states went backwards"
    assert buttons(staging)["promote"] == str(first)

    # Promote, pressed twice by the requester: one pending promotion with Approve/Reject
    clicks = [w.press(DEV, "promote", staging) for _ in range(2)]
    answers = [w.reply(name) for name in clicks]
    [waiting] = [a for a in answers if "waits for approval" in reply_text(a)]
    promotion = started_id(waiting)
    [busy] = [reply_text(a) for a in answers if a is not waiting]
    assert f"#{promotion}" in busy and "busy" in busy
    pending = w.wait_message(promotion, "waiting for approval")
    assert buttons(pending) == {"approve": str(promotion), "reject": str(promotion)}
    assert w.row("prod")["pending_approval"] == [promotion]

    # the requester's own approval is refused, ephemerally, and changes nothing
    refusal = w.reply(w.press(DEV, "approve", pending))
    assert refusal["response_type"] == "ephemeral"
    assert "requested this deployment and cannot approve" in reply_text(refusal)
    assert w.slack.messages()[pending.ts] == pending
    prod = w.row("prod")
    assert (prod["pending_approval"], prod["version"]) == ([promotion], None)
    assert w.i.running_release("prod") is None

    # a lead (a member of S0LEADS) double-clicks Approve: one approval, one deployment
    clicks = [w.press(LEAD, "approve", pending) for _ in range(2)]
    texts = [reply_text(w.reply(name)) for name in clicks]
    assert sorted("you approved" in t for t in texts) == [False, True], texts
    assert any(c.body.get("usergroup") == LEADS for c in w.slack.calls("usergroups.users.list"))
    _approved_in_prod(w, promotion, 1)

    # v2: deployed, promoted by command while Slack answers 500, approved by a ✅ reaction
    w.i.repo.commit("second version")
    staging = _deploy_to_staging(w, 2)
    assert len(w.audit("deploy")) == 2, "the retried /deploy started a second deployment"
    w.slack.fail_always("chat.postMessage", "internal_error", status=500)
    promotion = started_id(w.reply(w.command(DEV, "/promote", bot)))
    w.slack.wait_for(
        lambda c: deployment_id_of(c.body.get("blocks")) == promotion, method="chat.postMessage"
    )
    w.slack.recover()
    pending = w.wait_message(promotion, "waiting for approval")  # its post was not dropped
    assert buttons(pending) == {"approve": str(promotion), "reject": str(promotion)}

    typed = w.reply(w.command(DEV, "/approve", str(promotion)))  # the same rules as the button
    assert "requested this deployment and cannot approve" in reply_text(typed)
    w.react(DEV, pending)
    refused = w.slack.wait_for(lambda c: c.body.get("user") == DEV, method="chat.postEphemeral")
    assert refused.body["channel"] == CHANNEL
    assert "requested this deployment and cannot approve" in refused.body["text"]
    assert w.slack.messages()[pending.ts] == pending
    prod = w.row("prod")
    assert (prod["pending_approval"], prod["version"]) == ([promotion], 1)
    assert w.i.running_release("prod") == "v1"

    body, headers = w.react(LEAD, pending)
    w.post(body, {**headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    _approved_in_prod(w, promotion, 2)
    to_lead = [
        c.body["text"] for c in w.slack.calls("chat.postEphemeral") if c.body["user"] == LEAD
    ]
    assert to_lead == [f"you approved #{promotion}"], "the retried reaction was handled twice"

    # Roll back, pressed on the prod message: v1 runs in prod again
    prod_message = w.wait_message(promotion, "live")
    rollback = w.reply(w.press(DEV, "rollback", prod_message))
    assert f"rollback of {bot} to prod started" in reply_text(rollback)
    back = w.wait_message(started_id(rollback), "live")
    assert headline(back) == f"✅ Roll back {bot} in prod to v1: live"
    assert w.i.running_release("prod") == "v1"
    assert w.row("prod")["version"] == 1

    # promoted again, and rejected by typing /reject with a reason
    again = started_id(w.reply(w.command(DEV, "/promote", bot)))
    w.wait_message(again, "waiting for approval")
    answer = w.reply(w.command(LEAD, "/reject", f"#{again} not on a Friday <!channel>"))
    assert reply_text(answer) == f"you rejected #{again}: not on a Friday <!channel>"
    rejected = w.wait_message(again, "rejected")
    assert f"Rejected by @{LEAD}" in shown(rejected)
    assert shown(rejected).count("not on a Friday <!channel>") == 1
    assert "<!channel>" not in json.dumps(rejected.blocks)
    [event] = [e for e in w.audit("reject") if e["deployment_id"] == again]
    assert event["actor"] == LEAD
    assert event["detail"].endswith("reason: not on a Friday <!channel>")
    assert w.row("prod")["version"] == 1

    # one channel message per deployment, each only ever edited after that
    posted_ids = [deployment_id_of(m.blocks) for m in w.slack.messages().values()]
    assert sorted(i for i in posted_ids if i) == list(range(1, again + 1))


# ── what Slack must not be able to do, and mistakes people make ─────────────


def test_forged_stale_or_altered_requests_get_401_and_change_nothing(
    workspace: Workspace,
) -> None:
    w, bot = workspace, workspace.i.bot
    now = int(time.time())
    _, body, good = w.slash(DEV, "/deploy", f"{bot} staging")
    forged = {**good, "X-Slack-Signature": "v0=" + "0" * 64}
    _, stale_body, _ = w.slash(DEV, "/deploy", f"{bot} staging")
    stale = signing.sign(stale_body, SIGNING_SECRET, timestamp=now - 6 * 60)
    altered = body.replace(f"user_id={DEV}".encode(), b"user_id=UADMIN")
    assert altered != body
    w.slack.clear()

    for sent, headers in [(body, forged), (stale_body, stale), (altered, good)]:
        w.post(sent, headers, status=401)

    # a genuine request afterwards is answered, and it is the only thing Slack hears
    name = w.command(DEV, "/status", "")
    assert "Nothing is deployed yet" in reply_text(w.reply(name))
    assert [(c.method, c.path) for c in w.slack.calls()] == [(RESPONSE_URL, f"/response/{name}")]
    assert w.audit("deploy") == [] and w.audit("deploy", "refused") == []
    assert w.i.json("status", bot) == []

    # and Slack's first request to a new Events URL is answered
    body, headers = signing.url_verification("challenge-4f2a", SIGNING_SECRET)
    assert w.post(body, headers).json() == {"challenge": "challenge-4f2a"}


MISTYPED = [
    ("/deploy", "", "arguments are missing"),
    ("/deploy", "{bot} staging a..b", "'..'"),
    ("/rollback", "{bot} prod v2.0 broken", "version"),
    ("/logs", "{bot} staging lots", "lines must be a number"),
    ("/lock", "{bot} prod", "reason"),
    ("/unlock", "{bot}", "an argument is missing"),
    ("/cancel", "{bot}", "an argument is missing"),
    ("/promote", "{bot} prod now please", "too many arguments"),
    ("/releases", "", "an argument is missing"),
    ("/chatops", "frobnicate", "unknown command 'frobnicate'"),
]


def test_every_mistyped_command_gets_an_ephemeral_usage_reply(workspace: Workspace) -> None:
    w = workspace

    sent = [(w.command(DEV, c, text.format(bot=w.i.bot)), c, p) for c, text, p in MISTYPED]

    for name, command, problem in sent:
        reply = w.reply(name)
        assert reply["response_type"] == "ephemeral", command
        assert problem in reply_text(reply), (command, reply_text(reply))
        assert f"usage: {USAGE[command]}" in reply_text(reply), (command, reply_text(reply))
        assert "Usage:" in _shown(reply)
    assert w.audit("deploy") == [] and w.i.json("status") == []
    assert "Traceback" not in w.served.output()


# ── queries, locks, secrets, shutdown ────────────────────────────────────────


def test_status_releases_logs_and_locks_and_sigterm_stops_serve(workspace: Workspace) -> None:
    w, bot = workspace, workspace.i.bot
    w.i.repo.commit("prints its token", files={"Dockerfile": TALKATIVE_DOCKERFILE})
    deployed = started_id(w.reply(w.command(DEV, "/deploy", f"{bot} staging")))
    w.wait_message(deployed, "live")

    status = w.reply(w.command(DEV, "/status", ""))
    assert status["response_type"] == "ephemeral"
    assert re.search(rf"{bot} in staging: v1 `[0-9a-f]{{8}}` · healthy", _shown(status))
    releases = w.reply(w.command(DEV, "/releases", bot))
    assert reply_text(releases) == f"1 release of {bot}, newest v1"
    assert "live in staging" in _shown(releases)

    logs = w.reply(w.command(DEV, "/logs", f"{bot} staging 20"))
    assert logs["response_type"] == "ephemeral"
    assert f"starting with API_TOKEN={MASK}" in _shown(logs)
    # prod's logs are for its deployers and approvers (viewers by default) and admins
    refused_logs = w.reply(w.command("U0OUTSIDER", "/logs", f"{bot} prod"))
    assert refused_logs["response_type"] == "ephemeral"
    assert reply_text(refused_logs) == (
        "U0OUTSIDER may not read the logs of prod — the logs of prod are for S0LEADS, UDEV, "
        "ULEAD1, ULEAD2 and admins; ask one of them, or an admin to add you to "
        "`environments.prod.viewers`"
    )
    assert len(w.audit("logs")) == 1 and len(w.audit("logs", "refused")) == 1

    # /lock holds staging: a /deploy is refused saying who holds it, until /unlock; its
    # reason (as Slack sends it: `@channel` typed, a `<…>` and an `&lt;` typed as text)
    # is shown in the channel and the replies as written, and never pings or links
    typed = "incident 42 <!channel> &lt;https://evil.example|see&gt; &amp;lt;!here&amp;gt;"
    reason = "incident 42 <!channel> <https://evil.example|see> &lt;!here&gt;"
    locked = w.reply(w.command(DEV, "/lock", f"{bot} staging {typed}"))
    assert f"{bot} in staging is locked by {DEV}: {reason}" in reply_text(locked)
    notice = w.slack.wait_for(
        lambda c: ":lock:" in c.body.get("text", ""), method="chat.postMessage"
    )
    assert reply_text(notice.body) == f":lock: {bot} in staging is locked by {DEV}: {reason}"
    refused = w.reply(w.command(LEAD, "/deploy", f"{bot} staging"))
    assert refused["response_type"] == "ephemeral"
    assert f"locked by {DEV}: {reason}" in reply_text(refused)
    assert f"/unlock {bot} staging" in reply_text(refused)
    for said in (locked, notice.body, refused):
        for live in ("<!channel>", "<https://evil.example|see>", "<!here>"):
            assert live not in json.dumps(said), (live, said)
    assert len(w.audit("deploy")) == 1 and len(w.audit("deploy", "refused")) == 1
    unlocked = w.reply(w.command(DEV, "/unlock", f"{bot} staging"))
    assert f"{bot} in staging is unlocked" in reply_text(unlocked)
    assert w.row("staging")["lock"] is None
    nothing = w.reply(w.command(DEV, "/cancel", f"{bot} staging"))
    assert nothing["response_type"] == "ephemeral"
    assert f"nothing to cancel: no deployment of {bot} runs or waits in staging" in (
        reply_text(nothing)
    )

    # a build that never ends: another deployer's /cancel stops it, and the message says who
    w.i.repo.commit("never builds", files={"Dockerfile": STUCK_DOCKERFILE})
    stuck = started_id(w.reply(w.command(DEV, "/deploy", f"{bot} staging")))
    w.wait_message(stuck, "building the image")
    asked = w.reply(w.command(LEAD, "/cancel", f"{bot} staging"))
    assert asked["response_type"] == "ephemeral"
    assert reply_text(asked).startswith(f"#{stuck} (building) is asked to stop")
    ended = w.wait_message(stuck, "failed")
    assert f"cancelled by {LEAD}" in shown(ended)
    assert w.i.running_release("staging") == "v1"

    # SIGTERM: serve finishes in order and exits 0
    assert w.served.stop(signal.SIGTERM) == 0, w.served.output()[-3000:]

    # the secret reached the container, yet never Slack nor the log
    assert "Traceback" not in w.served.output()
    for call in w.slack.calls():
        assert SECRET_VALUE not in json.dumps(call.body), f"{call.method} leaked the secret"
    assert SECRET_VALUE not in w.served.output()
    assert w.i.container("staging").attrs["Config"]["Env"].count(f"API_TOKEN={SECRET_VALUE}") == 1


@pytest.mark.parametrize(
    ("token", "api", "code", "message"),
    [
        ("xoxp-a-user-token", "standin", 2, "Slack did not accept SLACK_BOT_TOKEN"),
        (BOT_TOKEN, "closed port", 1, "cannot reach the Slack Web API at http://127.0.0.1:"),
    ],
)
def test_serve_says_why_it_cannot_start_when_slack_refuses_the_token_or_is_unreachable(
    installation: Installation, slack: SlackStandIn, token: str, api: str, code: int, message: str
) -> None:
    url = slack.base_url if api == "standin" else f"http://127.0.0.1:{free_port()}/api/"
    env = {
        **installation.env,
        "SLACK_BOT_TOKEN": token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": url,
        "CHATOPS_HTTP_PORT": str(free_port()),
    }

    result = subprocess.run(
        installation.command("serve"),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert token not in result.stderr + result.stdout


def test_a_cli_command_without_serve_sends_its_messages_before_it_exits(
    installation: Installation, slack: SlackStandIn
) -> None:
    """The CLI delivers its own messages before it exits; when Slack is down it waits a while,
    says what stays queued, and a later command delivers it."""
    i = installation
    env = {**i.env, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": slack.base_url}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            i.command(*args), env=env, capture_output=True, text=True, timeout=60, check=False
        )

    locked = run("lock", i.bot, "staging", "--reason", "db migration")
    assert locked.returncode == 0, locked.stderr
    [said] = slack.messages().values()  # there before the command exited
    assert (said.channel, said.text) == (
        CHANNEL,
        f":lock: {i.bot} in staging is locked by UDEV: db migration",
    )

    slack.fail_always("chat.postMessage", "internal_error", status=500)
    started = time.monotonic()
    unlocked = run("unlock", i.bot, "staging")
    assert unlocked.returncode == 0, unlocked.stderr
    assert time.monotonic() - started < 20
    assert "Slack has not received 1 message (say:" in unlocked.stderr
    assert "HTTP 500 internal_error" in unlocked.stderr
    assert "stay queued" in unlocked.stderr
    assert "Traceback" not in unlocked.stderr

    slack.recover()
    assert run("status").returncode == 0
    assert any("unlocked" in m.text for m in slack.messages().values())
