"""Text people or programs wrote never comes alive in Slack (DESIGN §6, escaping paragraph).

Every message kind is rendered with hostile text in every field a person, a commit, a
bot's output or Alertmanager fills (reasons, refs, subjects, authors, log lines, alert
summaries, lock reasons, user names typed on the CLI, usage echoes). What Slack reads as
mrkdwn — the fallback `text`, every `mrkdwn` text object, confirm dialogs included — must
not carry a live mention or link. (`plain_text` objects, such as headers and button
labels, are never parsed by Slack, so they show the text as it is.)
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from chatops.domain.alerts import AlertState
from chatops.domain.deployment import Commit, State
from chatops.domain.mrkdwn import code, escape, unescape
from chatops.domain.policy import Lock, LockKind
from chatops.entrypoints.slack import blocks as b
from chatops.services.views import AlertView, DeploymentView, ReleaseRow, StatusRow
from tests.unit.test_blocks import (
    ALERT_VIEWS,
    DEPLOYMENT_VIEWS,
    T0,
    V2,
    V3,
    alert,
    alert_view,
    deployment,
    status_rows,
)

# what a person could type to ping everyone, impersonate a mention or disguise a link;
# the last one arrives already escaped by Slack and must stay text too
LIVE = ("<!channel>", "<@U123>", "<https://evil.example|click>", "<!here>")
EVIL = "<!channel> <@U123> <https://evil.example|click> &lt;!here&gt; `x` ```y``` *z*"
# chatops' own markup: dates, mentions of people chatops knows, and the compare link
_OWN = re.compile(
    r"<!date\^\d+\^[^|>]*\|[^<>]*>|<@U0[A-Z0-9]+>|<https://github\.com/[^|<>]+\|compare>"
)


def _poison_deployment(view: DeploymentView) -> DeploymentView:
    dep = view.deployment
    return dataclasses.replace(
        view,
        deployment=dataclasses.replace(
            dep,
            ref=EVIL,
            reason=EVIL if dep.reason else None,
            force_reason=EVIL,
            log_tail="\n".join([EVIL] * 3),
            requested_by=EVIL if dep.requested_by != "chatops" else dep.requested_by,
        ),
        release=(
            dataclasses.replace(view.release, subject=EVIL, created_by=EVIL)
            if view.release
            else None
        ),
        changes=(Commit("9f" * 20, EVIL, EVIL), *view.changes),
        hold_note=EVIL,
        decided_by=EVIL if view.decided_by else None,
    )


def _poison_alert(view: AlertView) -> AlertView:
    poisoned = dataclasses.replace(
        view.alert,
        summary=EVIL,
        detail=EVIL,
        action_taken=EVIL if view.alert.action_taken else "",
        acked_by=EVIL if view.alert.acked_by else None,
        source=EVIL,
    )
    return dataclasses.replace(
        view,
        alert=poisoned,
        release=dataclasses.replace(V3, subject=EVIL),
        deployed_by=EVIL,
    )


def _evil_lock(kind: LockKind = LockKind.MANUAL) -> Lock:
    return Lock(
        bot="mybot",
        env="prod",
        held_by=EVIL,
        reason=EVIL,
        created_at=T0,
        expires_at=T0 + timedelta(hours=1),
        kind=kind,
    )


def _every_message() -> Iterator[tuple[str, b.Message]]:
    for name, view in DEPLOYMENT_VIEWS.items():
        yield f"deployment:{name}", b.deployment_message(_poison_deployment(view))
    live = _poison_deployment(DEPLOYMENT_VIEWS["deploy_live_staging"])
    yield "soaked", b.soaked_message(live)
    for state in State:  # every state, including those without a recorded example
        the_view = dataclasses.replace(
            live, deployment=dataclasses.replace(live.deployment, state=state)
        )
        yield f"deployment:{state}", b.deployment_message(the_view)
    for name, view in ALERT_VIEWS.items():
        yield f"alert:{name}", b.alert_message(_poison_alert(view))
        yield f"resolved:{name}", b.alert_resolved_reply(_poison_alert(view))
    resolved = alert(AlertState.RESOLVED, resolved_at=T0 + timedelta(minutes=5))
    yield "resolved", b.alert_resolved_reply(_poison_alert(alert_view(resolved)))
    rows = [
        ReleaseRow(dataclasses.replace(V3, subject=EVIL, created_by=EVIL), live_in=("staging",)),
        ReleaseRow(dataclasses.replace(V2, subject=EVIL), approved_by=(EVIL,)),
    ]
    yield "releases", b.releases_message("mybot", rows)
    evil_alert = alert(summary=EVIL, acked_by=EVIL)
    status = [
        dataclasses.replace(
            row,
            lock=_evil_lock(),
            open_alerts=(evil_alert,),
            pending=tuple(dataclasses.replace(p, ref=EVIL, version=None) for p in row.pending),
        )
        for row in status_rows()
    ]
    status.append(
        StatusRow(
            bot="mybot",
            env="staging",
            deployment=None,
            lock=_evil_lock(LockKind.ROLLBACK_HOLD),
            in_progress=deployment(State.BUILDING, ref=EVIL, version=None),
        )
    )
    yield "status", b.status_message(status)
    yield "logs", b.logs_message("mybot", "prod", "\n".join([EVIL] * 5))
    yield "refusal", b.refusal_message(EVIL, EVIL)
    yield "usage", b.usage_message(f"too many arguments: {EVIL!r}", EVIL)
    yield "plain (lock/unlock replies)", b.plain_message(f":lock: mybot in prod is {EVIL}")
    yield "help", b.help_message(EVIL)


def _mrkdwn(node: Any) -> Iterator[str]:
    """Every string Slack parses as mrkdwn in the blocks."""
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield node["text"]
        for value in node.values():
            yield from _mrkdwn(value)
    elif isinstance(node, list):
        for item in node:
            yield from _mrkdwn(item)


MESSAGES = dict(_every_message())


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_no_mention_or_link_comes_alive(name: str) -> None:
    message = MESSAGES[name]
    for markup in [message.text, *_mrkdwn(message.blocks)]:
        for live in LIVE:
            assert live not in markup, (live, markup)
        # nothing but chatops' own markup opens a `<…>`
        assert "<" not in _OWN.sub("", markup), markup


def test_text_reads_back_as_it_was_written() -> None:
    (section,) = [
        blk["text"]["text"]
        for blk in b.refusal_message(EVIL, "x").blocks
        if EVIL[:10] in unescape(blk["text"]["text"])
    ]
    assert section == "🚫 " + escape(EVIL)
    assert "&amp;lt;!here&amp;gt;" in section  # typed escaped, shown escaped: never `<!here>`
    assert unescape(escape(EVIL)) == EVIL


@pytest.mark.parametrize(
    "text", ["main", "feat/`rm -rf`", "a`b", "```", "<!channel>", "x\ny", "`*bold*`"]
)
def test_a_code_span_cannot_be_ended_from_inside(text: str) -> None:
    span = code(text)
    assert span.startswith("`") and span.endswith("`")
    assert span.count("`") == 2  # nothing inside ends it
    assert "\n" not in span and "<" not in span


def test_a_ref_with_backticks_stays_inside_its_code_span() -> None:
    view = DEPLOYMENT_VIEWS["deploy_queued"]
    ref = "x`*not-bold*`<!here>"
    message = b.deployment_message(
        dataclasses.replace(view, deployment=dataclasses.replace(view.deployment, ref=ref))
    )
    (version,) = [
        f["text"]
        for blk in message.blocks
        for f in blk.get("fields", ())
        if f["text"].startswith("*Version*")
    ]
    grave = "\u02cb"  # looks like a backtick, ends no code span
    assert version == f"*Version*\n`x{grave}*not-bold*{grave}&lt;!here&gt;` (not built yet)"
