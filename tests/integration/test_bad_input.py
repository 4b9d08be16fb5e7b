"""Hostile text in every slash command and button, through the real bolt app: a clear refusal.

hypothesis writes what an attacker or a careless paste would: unicode (right-to-left
overrides, zero-width and combining characters), control characters, very long text, and
injection attempts (shell, SQL, git options, path traversal, Slack mentions and links,
format strings, header splitting). Each goes where a name, an environment, a ref or an id
belongs, from people who may not act there, on ids of deployments that are not theirs.
Every request is acknowledged (200), answered with an ephemeral reply that says what was
wrong (never a traceback nor the internal-error apology), and changes nothing but the
audit log.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatops.domain.deployment import Deployment, Kind, State
from tests.integration.edge import BOT, DELIVERY_TABLES, SIGNING_SECRET, Edge, serving
from tests.slack import signing
from tests.slack.standin import RESPONSE_URL, SlackStandIn

HOSTILE = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# bookkeeping a refused request may write: its audit event, the Slack retry ledger, the outbox
BOOKKEEPING = DELIVERY_TABLES | {"audit_events", "deliveries"}
NAMES = {BOT, "staging", "prod"}

injections = st.sampled_from(
    [
        "; rm -rf / #",
        "$(touch /tmp/pwned)",
        "`id`",
        "--upload-pack=touch /tmp/pwned",
        "-c core.sshCommand=touch",
        "../../../../etc/passwd",
        "refs/heads/../../x",
        "' OR 1=1 --",
        '"; DROP TABLE deployments; --',
        "<!channel>",
        "<!here|here>",
        "<@U0ADMIN>",
        "<https://evil.example|click me>",
        "&lt;!channel&gt;",
        "{{7*7}}",
        "%s%s%n",
        "{0.__class__}",
        "\r\nX-Injected: 1",
        "\x00",
        "\u202eevil\u202c",
        "\u200b",
        "e\u0301\u0301\u0301",
        "🚀" * 50,
        "v" + "9" * 40,
        "#1",
        "-1",
        "1e3",
        "0x10",
        "9" * 30,
    ]
)
control = st.text(st.characters(max_codepoint=0x9F, categories=["Cc"]), min_size=1, max_size=8)
unicode = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\n"), min_size=1, max_size=40
)
very_long = st.integers(min_value=300, max_value=5000).map(lambda n: ("a-" * n)[:n])
hostile = injections | control | unicode | very_long | st.tuples(injections, unicode).map("".join)

# where the hostile text goes: `{x}` in every command's grammar
templates = st.sampled_from(
    [
        "/deploy {x} staging",
        f"/deploy {BOT} {{x}}",
        f"/deploy {BOT} prod {{x}}",
        "/promote {x}",
        f"/promote {BOT} {{x}}",
        "/rollback {x} staging",
        f"/rollback {BOT} {{x}}",
        f"/rollback {BOT} prod {{x}}",
        "/lock {x} staging because",
        f"/lock {BOT} {{x}} because",
        f"/unlock {BOT} {{x}}",
        "/approve {x}",
        "/reject {x} no",
        "/cancel {x} staging",
        f"/cancel {BOT} {{x}}",
        "/logs {x} staging",
        f"/logs {BOT} staging {{x}}",
        "/releases {x}",
        "/status {x}",
        "/chatops {x}",
        "{x}",
    ]
)
_names = itertools.count()
# a new stranger each time, so the per-person rate limit (tested on its own) never answers
strangers = st.builds(lambda: f"USTRANGER{next(_names)}")


def _clean(x: str) -> bool:
    """`x` can never complete a valid request by itself (it names no bot or environment)."""
    return bool(x.strip()) and not (set(x.split()) & NAMES)


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    root = tmp_path_factory.mktemp("bad-input")
    with SlackStandIn() as slack, serving(root, slack) as served:
        now = datetime.now(UTC)
        with served.application.uow() as uow:
            for env, state in (("staging", State.LIVE), ("prod", State.PENDING_APPROVAL)):
                uow.deployments.add(
                    Deployment(
                        bot=BOT,
                        env=env,
                        kind=Kind.DEPLOY if env == "staging" else Kind.PROMOTE,
                        state=state,
                        requested_by="ULEAD",
                        requested_at=now,
                        updated_at=now,
                        ref="main",
                        commit=served.repo.head(),
                        version=1,
                        live_at=now if state == State.LIVE else None,
                        healthy_since=now if state == State.LIVE else None,
                    )
                )
            uow.commit()
        yield served


def _state(edge: Edge) -> dict[str, int]:
    return {k: v for k, v in edge.rows().items() if k not in BOOKKEEPING}


def _refused_clearly(edge: Edge, name: str) -> str:
    """The reply posted to response_url `name`: ephemeral, worded, no internals."""
    call = edge.slack.wait_for(
        lambda c: c.path == f"/response/{name}", method=RESPONSE_URL, timeout=15
    )
    reply: dict[str, Any] = call.body
    text = str(reply.get("text") or "")
    assert reply.get("response_type") == "ephemeral", reply
    assert text.strip(), reply
    assert len(text) <= 3000, "Slack refuses a text longer than a section holds"
    for internal in ("Traceback", 'File "', "hit an internal error"):
        assert internal not in str(reply), reply
    return text


@HOSTILE
@given(template=templates, x=hostile.filter(_clean), user=strangers)
def test_hostile_text_in_any_command_is_refused_clearly(
    edge: Edge, template: str, x: str, user: str
) -> None:
    command, _, text = template.replace("{x}", x).partition(" ")
    if not command.startswith("/"):  # the hostile text is the command itself
        command, text = "/chatops", template.replace("{x}", x)
    name = f"bad{next(_names)}"
    before = _state(edge)
    body, headers = signing.slash_command(
        command,
        text,
        user=user,
        response_url=edge.slack.response_url(name),
        secret=SIGNING_SECRET,
    )

    answer = edge.client.post("/slack/events", content=body, headers=headers)

    assert answer.status_code == 200, answer.text
    said = _refused_clearly(edge, name)
    assert "<!channel>" not in said and "<@U0ADMIN>" not in said  # echoes are escaped
    assert not re.search(r"<https?://evil", said)
    assert _state(edge) == before


@HOSTILE
@given(
    action=st.sampled_from(["promote", "approve", "reject", "rollback", "ack_alert"]),
    value=st.sampled_from(["1", "2", "3", "999999", "9" * 30, " 1", "1_0", "+1", "\u0661"])
    | hostile,
    user=strangers,
)
def test_buttons_pressed_by_strangers_or_on_other_ids_are_refused_clearly(
    edge: Edge, action: str, value: str, user: str
) -> None:
    """#1 is live in staging, #2 waits for approval in prod; a stranger may act on neither,
    and any other value names nothing."""
    name = f"bad{next(_names)}"
    before = _state(edge)
    body, headers = signing.block_action(
        action,
        value,
        user=user,
        channel="C0DEPLOYS",
        message_ts="1.000001",
        response_url=edge.slack.response_url(name),
        secret=SIGNING_SECRET,
    )

    answer = edge.client.post("/slack/events", content=body, headers=headers)

    assert answer.status_code == 200, answer.text
    _refused_clearly(edge, name)
    assert _state(edge) == before
