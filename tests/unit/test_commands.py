"""Slash command parsing: what people type becomes a typed command, or a usage error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
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
        ("/cancel", "mybot prod", c.Cancel("mybot", "prod")),
        ("/chatops", "cancel mybot staging", c.Cancel("mybot", "staging")),
        ("/chatops", "help", c.Help()),
        ("/chatops", "", c.Help()),
        ("/chatops", "deploy mybot staging", c.Deploy("mybot", "staging")),
        ("/deploy", "help", c.Help("deploy")),
        ("/deploy", "mybot staging &lt;x&gt;", c.Deploy("mybot", "staging", "<x>")),
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
        ("/rollback", "mybot prod three", "not a release version"),
        ("/logs", "mybot prod 9999", "lines must be a number"),
        ("/lock", "mybot prod", "needs a bot, an environment and a reason"),
        ("/lock", "mybot prod --for soon reason", "not a duration"),
        ("/unlock", "mybot", "an argument is missing"),
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
