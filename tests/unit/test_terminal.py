"""The console's rendering: the views Slack shows, as a terminal shows them, with their buttons.

Snapshots live in tests/unit/snapshots/console/<name>.txt, one per message of
tests/unit/test_blocks.py, as the terminal prints it without colours (rich
markup rendered as plain text). A missing snapshot fails; `UPDATE_SNAPSHOTS=1`
records them. The `Console` tests drive the chat of the console with a stand-in
for ChatCommands: what was shown, and what pressing a number does.
"""

from __future__ import annotations

import dataclasses
import difflib
import io
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console as RichConsole

from chatops.domain.alerts import AlertState
from chatops.domain.deployment import State
from chatops.entrypoints import terminal
from chatops.entrypoints.chat import Reply
from chatops.entrypoints.console import Console, unless_serve_does
from chatops.entrypoints.render import alerts, deployments, listings, replies
from chatops.entrypoints.render.actions import deployment_actions
from chatops.entrypoints.render.document import Document
from chatops.entrypoints.render.replies import Logs, Said
from chatops.entrypoints.scheduler import LEASE
from chatops.entrypoints.terminal import TERMINAL
from chatops.services.context import Actor
from chatops.services.leases import Leases
from tests.fakes import FakeClock, FakeProcesses, FakeUnitOfWork, Tables
from tests.unit.test_blocks import (
    ALERT_VIEWS,
    DEPLOYMENT_VIEWS,
    RESOLVED,
    T0,
    alert,
    alert_view,
    deployment,
    live,
    release_rows,
    status_rows,
    view,
)
from tests.unit.test_safe_output import EVIL

SNAPSHOTS = Path(__file__).parent / "snapshots" / "console"
RICH_EVIL = "[bold red]alarm[/bold red] [link=https://evil.example]x[/link] [/] \\"


def _shown(document: Document) -> str:
    """`document` as the console prints it (without colours), buttons numbered from 1."""
    lines = [terminal.plain(markup) for markup in terminal.lines(document)]
    lines += [terminal.plain(terminal.button(n, a)) for n, a in enumerate(document.actions, 1)]
    return "\n".join(lines) + "\n"


def _visible(text: str) -> str:
    """`text` without the zero-width space that keeps a trailing backslash single."""
    return text.replace("\u200b", "")


DOCUMENTS: dict[str, Callable[[], Document]] = {
    **{
        name: (lambda v=v: deployments.deployment(v, TERMINAL))
        for name, v in DEPLOYMENT_VIEWS.items()
    },
    **{name: (lambda v=v: alerts.alert(v, TERMINAL)) for name, v in ALERT_VIEWS.items()},
    "alert_resolved_reply": lambda: alerts.resolved_reply(alert_view(RESOLVED), TERMINAL),
    "soaked": lambda: deployments.soaked(
        view(
            live(healthy_since=T0 + timedelta(minutes=1)),
            promote_to="prod",
            now=T0 + timedelta(minutes=11, seconds=1),
        ),
        TERMINAL,
    ),
    "releases": lambda: listings.releases("mybot", release_rows(), TERMINAL),
    "releases_empty": lambda: listings.releases("newbot", [], TERMINAL),
    "status": lambda: listings.status(status_rows(), TERMINAL),
    "status_empty": lambda: listings.status([], TERMINAL),
    "help": lambda: replies.help_(None, TERMINAL),
    "help_deploy": lambda: replies.help_("deploy", TERMINAL),
    "logs": lambda: listings.logs(
        "mybot", "prod", "2025-06-02T09:30:01Z starting mybot v3\nstatus :lock: [ok]\n", TERMINAL
    ),
    "plain": lambda: replies.said(":lock: mybot in prod is locked by U0LEAD1: db & [x]", TERMINAL),
    "usage": lambda: replies.usage("an argument is missing", "/deploy <bot> <env> [ref]", TERMINAL),
    "refusal": lambda: replies.refusal("U0DEV1 is not an approver for prod", None, TERMINAL),
}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_console_snapshot(name: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    actual = _shown(DOCUMENTS[name]())
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no recorded snapshot {path}; record it with UPDATE_SNAPSHOTS=1")
    expected = path.read_text(encoding="utf-8")
    diff = difflib.unified_diff(expected.splitlines(), actual.splitlines(), lineterm="")
    assert actual == expected, "\n".join(diff)


def test_every_console_snapshot_is_used() -> None:
    assert {p.stem for p in SNAPSHOTS.glob("*.txt")} <= set(DOCUMENTS), "stale snapshots"


# ── what the terminal shows ──────────────────────────────────────────────────


def test_a_deployment_reads_as_in_slack_with_the_same_buttons() -> None:
    the_view = DEPLOYMENT_VIEWS["deploy_live_staging"]
    document = deployments.deployment(the_view, TERMINAL)
    shown = _shown(document)
    assert shown.startswith("✅ Deploy mybot v3 to staging: live\n")
    assert "Requested by: @U0DEV1" in shown
    assert "Requested: 2025-06-02 09:30 UTC" in shown
    assert "compare (https://github.com/acme/mybot/compare/" in shown
    assert shown.endswith("  [1] Promote to prod\n  [2] Roll back\n")
    assert document.actions == deployment_actions(the_view)  # decided once, for every medium


def test_text_people_wrote_cannot_style_or_break_the_terminal() -> None:
    """rich markup in a reason, a subject or a lock shows as typed (and `[/]` cannot crash)."""
    base = DEPLOYMENT_VIEWS["deploy_failed"]
    poisoned = dataclasses.replace(
        base,
        deployment=dataclasses.replace(
            base.deployment, reason=RICH_EVIL, log_tail=RICH_EVIL, force_reason=RICH_EVIL
        ),
        hold_note=RICH_EVIL,
    )
    shown = _visible(_shown(deployments.deployment(poisoned, TERMINAL)))
    assert shown.count(RICH_EVIL + "\n") == 4  # reason, last output line, forced by, hold note
    assert _visible(_shown(replies.said(RICH_EVIL, TERMINAL))) == RICH_EVIL + "\n"
    assert EVIL in _shown(replies.refusal(EVIL, None, TERMINAL))  # Slack markup is text here too


def test_emoji_codes_become_characters_but_not_in_code_or_output() -> None:
    assert _shown(replies.said(":lock: mybot in prod is locked", TERMINAL)).startswith("🔒 mybot")
    assert _shown(replies.said(":unlock: :hourglass: slow down", TERMINAL)) == "🔓 ⌛ slow down\n"
    logs = _shown(listings.logs("mybot", "prod", "token:lock:x", TERMINAL))
    assert "token:lock:x" in logs
    ref = dataclasses.replace(deployment(State.QUEUED, version=None), ref="fix:lock:")
    assert "fix:lock: (not built yet)" in _shown(deployments.deployment(view(ref), TERMINAL))


def test_long_output_is_shown_whole_in_the_terminal() -> None:
    """/logs asks for N lines: the terminal has no message size to cut them to."""
    text = "\n".join(f"line {n}" for n in range(500))
    shown = _shown(listings.logs("mybot", "prod", text, TERMINAL)).splitlines()
    assert shown[1:] == [f"    line {n}" for n in range(500)]


# ── the console ──────────────────────────────────────────────────────────────


class Chat:
    """Stands in for ChatCommands: records the buttons pressed, answers plainly."""

    def __init__(self) -> None:
        self.pressed: list[tuple[str, str, str]] = []

    def press(self, actor: Actor, action_id: str, value: str) -> Reply:
        self.pressed.append((actor.user, action_id, value))
        return Reply(Said(f"pressed {action_id} {value}"))

    def command(self, actor: Actor, command: str, text: str) -> Reply:
        return Reply(Logs("mybot", "prod", "a :lock: in a log"))


@pytest.fixture
def chat() -> Chat:
    return Chat()


@pytest.fixture
def screen() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def console(chat: Chat, screen: io.StringIO) -> Console:
    out = RichConsole(file=screen, width=120, emoji=False, highlight=False, soft_wrap=True)
    return Console(chat, user="U0LEAD1", out=out)  # type: ignore[arg-type]


def _typed(console: Console, screen: io.StringIO, line: str) -> str:
    """What the console printed in answer to `line`."""
    start = len(screen.getvalue())
    console.handle(line)
    return screen.getvalue()[start:]


def test_nothing_to_press_says_no_buttons(console: Console, screen: io.StringIO) -> None:
    assert _typed(console, screen, "press 1") == "there are no buttons to press now\n"
    assert _typed(console, screen, "buttons") == "no buttons\n"
    console.deployment_changed(DEPLOYMENT_VIEWS["deploy_building"])  # a message without buttons
    assert _typed(console, screen, "press 1") == "there are no buttons to press now\n"


def test_a_message_that_moved_on_drops_its_old_buttons(
    console: Console, screen: io.StringIO, chat: Chat
) -> None:
    """Approve on a request that went live is gone: its number says so and presses nothing."""
    pending = DEPLOYMENT_VIEWS["promote_pending_1_of_2"]
    console.deployment_changed(pending)
    assert "  [1] Approve\n  [2] Reject\n" in screen.getvalue()
    went_live = DEPLOYMENT_VIEWS["promote_approved_live_prod"]
    console.deployment_changed(went_live)
    assert screen.getvalue().endswith("  [3] Roll back\n")

    said = _typed(console, screen, "press 1")
    assert said == (
        "button 1 (Approve) was on an earlier version of that message, which now has "
        "[3] Roll back\n"
    )
    assert chat.pressed == []
    assert _typed(console, screen, "buttons") == "  [3] Roll back (rollback 14)\n"
    assert "pressed rollback 14" in _typed(console, screen, "press 3")
    assert chat.pressed == [("U0LEAD1", "rollback", "14")]


def test_other_messages_keep_their_buttons(console: Console, screen: io.StringIO) -> None:
    console.deployment_changed(DEPLOYMENT_VIEWS["deploy_live_staging"])  # [1] Promote [2] Roll back
    console.alert_changed(ALERT_VIEWS["alert_firing"])  # [3] Roll back to v2 [4] Ack [5] Logs
    console.alert_changed(ALERT_VIEWS["alert_acknowledged"])  # [6] Roll back to v2 [7] Logs
    listed = _typed(console, screen, "buttons")
    assert [line.split(" (")[0] for line in listed.splitlines()] == [
        "  [1] Promote to prod",
        "  [2] Roll back",
        "  [6] Roll back to v2",
        "  [7] Logs",
    ]
    assert "which now has [6] Roll back to v2, [7] Logs" in _typed(console, screen, "press 4")
    assert _typed(console, screen, "press 9") == (
        "there is no button 9; `buttons` lists those you can press\n"
    )
    assert "press takes the number of a button" in _typed(console, screen, "press x")


def test_an_alert_shows_its_buttons_and_resolution_in_the_console(
    console: Console, screen: io.StringIO
) -> None:
    console.alert_changed(ALERT_VIEWS["alert_firing"])
    shown = screen.getvalue()
    assert "🚨 Alert: mybot in prod" in shown
    assert "  [1] Roll back to v2\n  [2] Acknowledge\n  [3] Logs\n" in shown
    resolved = alert_view(alert(AlertState.RESOLVED, resolved_at=T0 + timedelta(minutes=9)))
    console.alert_changed(resolved)
    after = screen.getvalue()[len(shown) :]
    assert "✅ Resolved: mybot in prod" in after
    assert "in the alert's thread" in after
    assert "✅ Resolved: mybot in prod is healthy again (after 9m, seen 4 times)" in after
    assert "which now has [4] Logs" in _typed(console, screen, "press 2")


def test_said_and_answered_emoji_codes_are_characters(
    console: Console, screen: io.StringIO
) -> None:
    console.say("C0DEPLOYS", ":lock: mybot in prod is locked by U0LEAD1 (1h): [migration]")
    assert screen.getvalue() == (
        "── [C0DEPLOYS] ────────────────────────────────────────\n"
        "🔒 mybot in prod is locked by U0LEAD1 (1h): [migration]\n"
    )
    answer = _typed(console, screen, "/logs mybot prod")
    assert answer.startswith("── [only you see this] ")
    assert "    a :lock: in a log" in answer  # program output is shown exactly


def test_the_console_leaves_health_checks_to_a_serve_that_runs_them() -> None:
    """With a `serve` on the same database holding the scheduler lease, the console's checks
    wait; once the lease has expired (serve stopped), they run."""
    tables, clock = Tables(), FakeClock()
    runs: list[int] = []
    leases = Leases(lambda: FakeUnitOfWork(tables), clock, FakeProcesses())
    check = unless_serve_does(lambda: runs.append(1), leases=leases)
    check()
    assert runs == [1]
    with FakeUnitOfWork(tables) as uow:
        assert uow.leases.acquire(LEASE, owner="serve", now=clock.now(), ttl_seconds=15)
        uow.commit()
    check()
    assert runs == [1]
    clock.advance(seconds=16)
    check()
    assert runs == [1, 1]
