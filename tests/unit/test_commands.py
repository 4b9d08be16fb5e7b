"""Slash command parsing: what people type becomes a typed command, or a usage error."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chatops.domain import commands as c
from chatops.errors import BadInput


@pytest.mark.parametrize(
    ("command", "text", "expected"),
    [
        ("/deploy", "mybot staging", c.Deploy("mybot", "staging")),
        ("/deploy", "  mybot   staging  feature-x ", c.Deploy("mybot", "staging", "feature-x")),
        (
            "/deploy",
            "mybot staging --force fixing the outage",
            c.Deploy("mybot", "staging", None, "fixing the outage"),
        ),
        ("/promote", "mybot", c.Promote("mybot")),
        ("/promote", "mybot prod", c.Promote("mybot", "prod")),
        ("/rollback", "mybot prod", c.Rollback("mybot", "prod")),
        ("/rollback", "mybot prod v3", c.Rollback("mybot", "prod", 3)),
        (
            "/rollback",
            "mybot prod v3 login  is broken, it's &lt;!channel&gt;",
            c.Rollback("mybot", "prod", 3, None, "login  is broken, it's <!channel>"),
        ),
        (
            "/rollback",
            "mybot prod it's broken",
            c.Rollback("mybot", "prod", None, None, "it's broken"),
        ),
        ("/rollback", "mybot prod 2", c.Rollback("mybot", "prod", 2)),
        (
            "/rollback",
            "mybot prod v2 --force outage now",
            c.Rollback("mybot", "prod", 2, "outage now"),
        ),
        ("/chatops", "rollback mybot prod v2 bad", c.Rollback("mybot", "prod", 2, None, "bad")),
        ("/releases", "mybot", c.Releases("mybot")),
        ("/releases", "mybot prod", c.Releases("mybot", "prod")),
        ("/status", "", c.Status()),
        ("/status", "mybot", c.Status("mybot")),
        ("/logs", "mybot prod", c.Logs("mybot", "prod", 50)),
        ("/logs", "mybot prod 200", c.Logs("mybot", "prod", 200)),
        (
            "/lock",
            "mybot prod db migration running",
            c.Lock("mybot", "prod", "db migration running"),
        ),
        (
            "/lock",
            "mybot prod --for 2h investigating",
            c.Lock("mybot", "prod", "investigating", 7200),
        ),
        ("/unlock", "mybot prod", c.Unlock("mybot", "prod")),
        ("/approve", "12", c.Approve(12)),
        ("/approve", "#12", c.Approve(12)),
        ("/reject", "12", c.Reject(12)),
        (
            "/reject",
            " #12  it's Friday, &lt;!channel&gt; ",
            c.Reject(12, "it's Friday, <!channel>"),
        ),
        ("/reject", "help", c.Help("reject")),
        ("/chatops", "approve 7", c.Approve(7)),
        ("/cancel", "mybot prod", c.Cancel("mybot", "prod")),
        ("/chatops", "cancel mybot staging", c.Cancel("mybot", "staging")),
        ("/chatops", "help", c.Help()),
        ("/chatops", "", c.Help()),
        ("/chatops", "deploy mybot staging", c.Deploy("mybot", "staging")),
        ("/deploy", "help", c.Help("deploy")),
        ("/deploy", "mybot staging &lt;x&gt;", c.Deploy("mybot", "staging", "<x>")),
        # typed already escaped: Slack escapes the `&`, and it is undone once only
        (
            "/lock",
            "mybot prod &amp;lt;!here&amp;gt;",
            c.Lock("mybot", "prod", "&lt;!here&gt;"),
        ),
        (
            "/chatops",
            "lock mybot prod &amp;lt;!here&amp;gt; &lt;!channel&gt;",
            c.Lock("mybot", "prod", "&lt;!here&gt; <!channel>"),
        ),
        ("/lock", "mybot prod --for 365d long", c.Lock("mybot", "prod", "long", 365 * 86400)),
    ],
)
def test_commands_parse(command: str, text: str, expected: c.Command | None) -> None:
    if expected is None:
        with pytest.raises(BadInput):
            c.parse(command, text)
    else:
        assert c.parse(command, text) == expected


@pytest.mark.parametrize(
    ("command", "text", "problem"),
    [
        ("/deploy", "", "arguments are missing"),
        ("/deploy", "mybot", "an argument is missing"),
        ("/deploy", "mybot staging main extra", "too many arguments"),
        ("/deploy", "mybot staging --upload-pack=touch", "not a valid git ref"),
        ("/deploy", "mybot staging a..b", "not a valid git ref"),
        ("/deploy", "MyBot staging", "bot name 'MyBot' is not valid"),
        ("/deploy", "mybot staging --force", "--force needs a reason"),
        ("/deploy", 'mybot "staging', "could not read the arguments"),
        ("/rollback", "mybot prod v3x broke", "not a release version"),
        ("/logs", "mybot prod 9999", "lines must be a number"),
        ("/lock", "mybot prod", "needs a bot, an environment and a reason"),
        ("/lock", "mybot prod --for soon reason", "not a duration"),
        ("/lock", "mybot prod --for 99999999d reason", "may be at most 365d"),
        ("/lock", "mybot prod --for 366d reason", "may be at most 365d"),
        ("/lock", f"mybot prod --for {'9' * 5000}s reason", "may be at most 365d"),
        ("/logs", "mybot prod ²", "lines must be a number"),
        ("/logs", f"mybot prod {'1' * 5000}", "lines must be a number"),
        ("/unlock", "mybot", "an argument is missing"),
        ("/approve", "", "an argument is missing"),
        ("/approve", "12 13", "too many arguments"),
        ("/approve", "twelve", "'twelve' is not a deployment id"),
        ("/approve", "0", "'0' is not a deployment id"),
        ("/approve", "9" * 5000, "is not a deployment id"),
        ("/approve", "99999999999", "is not a deployment id"),
        ("/reject", "", "an argument is missing"),
        ("/reject", "-3 no", "'-3' is not a deployment id"),
        ("/reject", "12 " + "x" * 1001, "longer than 1000 characters"),
        ("/cancel", "mybot", "an argument is missing"),
        ("/cancel", "mybot prod now", "too many arguments"),
        ("/frobnicate", "x", "unknown command"),
        ("/chatops", "frobnicate", "unknown command"),
    ],
)
def test_mistakes_say_what_was_wrong_and_the_usage(command: str, text: str, problem: str) -> None:
    with pytest.raises(BadInput) as caught:
        c.parse(command, text)
    assert problem in caught.value.message
    assert caught.value.usage and caught.value.usage.startswith("/")


@settings(max_examples=400)
@given(command=st.sampled_from([*c.COMMANDS, "/nope"]), text=st.text(max_size=80))
def test_any_text_parses_or_is_a_usage_error(command: str, text: str) -> None:
    try:
        parsed = c.parse(command, text)
    except BadInput as exc:
        usage = exc.usage
        assert usage
    else:
        assert isinstance(
            parsed,
            c.Deploy
            | c.Promote
            | c.Rollback
            | c.Releases
            | c.Status
            | c.Logs
            | c.Lock
            | c.Unlock
            | c.Approve
            | c.Reject
            | c.Cancel
            | c.Help,
        )


names = st.from_regex(r"[a-z0-9]{1,8}(-[a-z0-9]{1,8})?", fullmatch=True)


@given(
    bot=names,
    env=names,
    ref=st.one_of(st.none(), st.from_regex(r"[a-z][a-z0-9._/-]{0,20}[a-z0-9]", fullmatch=True)),
)
def test_deploy_round_trips(bot: str, env: str, ref: str | None) -> None:
    text = f"{bot} {env}" + (f" {ref}" if ref else "")
    try:
        parsed = c.parse("/deploy", text)
    except BadInput:
        assert ref is not None  # only a ref can be refused here (e.g. `a..b`, `x.lock`)
        return
    assert parsed == c.Deploy(bot, env, ref)


# words people type, and words an attacker or a slip of the finger adds
_NAMES = st.sampled_from(["mybot", "staging", "prod"] * 3 + ["a_b", "Prod", "-x", "mybot;"])
_TOKENS = st.sampled_from(
    [
        "mybot", "staging", "v3", "3", "500", "501", "main", "feature/x", "help", "--force",
        "--force because", "--force=", "--for", "--for 2h", "--for 99999999d",
        f"--for {'9' * 5000}s", "--for 0s", "--for -1h", "--for 1d2h3m4s", "--for ²h",
        "--upload-pack=x", "-x", "--", "..", "@{", "a..b", "x.lock", "/", "&amp;",
        "&lt;!here&gt;", "&amp;lt;!here&amp;gt;", "<!channel>", "<@U123>",
        "<https://evil|click>", "`", "```", "$(reboot)", "`id`", ";", "&&", "|", ">", "<",
        "'", '"', "\\", "\x00", "\x1b[31m", "\u202e", "\n", "\r\n", "\t", "²",
        "\uff11\uff12", "٣", "é", "💥", "x" * 300, "9" * 5000,
    ]
)  # fmt: skip
_TEXTS = st.one_of(
    # the shape of a command: two names, then anything
    st.tuples(_NAMES, _NAMES, st.lists(st.one_of(_TOKENS, st.text(max_size=12)), max_size=5)).map(
        lambda t: " ".join([t[0], t[1], *t[2]])
    ),
    st.lists(st.one_of(_TOKENS, st.text(max_size=12)), max_size=8).map(" ".join),
    st.text(max_size=200),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1000, max_size=4000),
)


@settings(max_examples=600, deadline=None)
@given(command=st.sampled_from([*c.COMMANDS, "/nope", "chatops", "/DEPLOY"]), text=_TEXTS)
# what broke before: a date overflow, and int() of '²' and of 5000 digits
@example(command="/lock", text="mybot prod --for 99999999d why")
@example(command="/logs", text="mybot prod ²")
@example(command="/chatops", text=f"logs mybot prod {'9' * 5000}")
def test_hostile_text_is_a_command_or_a_usage_error(command: str, text: str) -> None:
    """Whatever follows a command: a Command, or BadInput with usage; never another error,
    never a ref git could read as an option, never a duration that overflows a date."""
    try:
        parsed = c.parse(command, text)
    except BadInput as exc:
        usage = exc.usage or ""
        assert usage.startswith("/")
        return
    if isinstance(parsed, c.Deploy) and parsed.ref is not None:
        assert not parsed.ref.startswith("-")
    if isinstance(parsed, c.Lock) and parsed.duration_seconds is not None:
        assert 0 < parsed.duration_seconds <= 365 * 86400
    if isinstance(parsed, c.Logs):
        assert 1 <= parsed.lines <= c.MAX_LOG_LINES
    for name in ("bot", "env"):
        value = getattr(parsed, name, None)
        assert value is None or re.fullmatch(r"[a-z0-9]+(?:[-_][a-z0-9]+)*", value)
