"""Block Kit rendering: recorded snapshots of every message, and the button contract of DESIGN §6.

Snapshots live in tests/unit/snapshots/blocks/<name>.json. A missing snapshot
fails; `UPDATE_SNAPSHOTS=1 pytest tests/unit/test_blocks.py` (re)records them —
read the diff before committing it. What the console shows of the same views is
pinned by tests/unit/test_terminal.py.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chatops.domain.alerts import Alert, AlertState
from chatops.domain.approvals import Tally
from chatops.domain.deployment import Commit, Deployment, Kind, Release, State
from chatops.domain.health import Health
from chatops.domain.policy import Lock, LockKind
from chatops.entrypoints.slack import blocks as b
from chatops.services.views import AlertView, DeploymentView, ReleaseRow, StatusRow
from tests.slack.reading import buttons, text_of

SNAPSHOTS = Path(__file__).parent / "snapshots" / "blocks"
T0 = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
DEV, LEAD1, LEAD2, ADMIN = "U0DEV1", "U0LEAD1", "U0LEAD2", "U0ADMIN"
SHA1, SHA2, SHA3, SHA4 = ("1a" * 20, "2b" * 20, "3c" * 20, "4d" * 20)
COMPARE = f"https://github.com/acme/mybot/compare/{SHA2}...{SHA3}"


# ── snapshots ────────────────────────────────────────────────────────────────


def _recorded(message: b.Message) -> str:
    data = {
        "text": message.text,
        "buttons": [list(button) for button in buttons(message)],
        "blocks": message.blocks,
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def assert_snapshot(name: str, message: b.Message) -> None:
    """Compare with tests/unit/snapshots/blocks/<name>.json; UPDATE_SNAPSHOTS=1 records it."""
    path = SNAPSHOTS / f"{name}.json"
    actual = _recorded(message)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(
            f"no recorded snapshot {path}; "
            "record it with UPDATE_SNAPSHOTS=1 and read it before committing",
            pytrace=False,
        )
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), "recorded", "rendered", lineterm=""
        )
        pytest.fail(
            f"{name} renders differently from {path.name} "
            "(UPDATE_SNAPSHOTS=1 records the new one):\n" + "\n".join(diff),
            pytrace=False,
        )


# ── realistic views ──────────────────────────────────────────────────────────


def release(version: int, sha: str, subject: str, *, at: datetime = T0) -> Release:
    return Release(
        bot="mybot",
        version=version,
        commit=sha,
        tag=f"mybot/v{version}",
        image=f"127.0.0.1:5000/mybot:v{version}",
        image_id="sha256:" + "e" * 64,
        digest="sha256:" + "f" * 64,
        created_by=DEV,
        created_at=at,
        deployment_id=10 + version,
        source="https://github.com/acme/mybot",
        subject=subject,
    )


V2 = release(2, SHA2, "Retry Slack API calls on 429", at=T0 - timedelta(days=2))
V3 = release(3, SHA3, "Greet new members in their own language")
CHANGES = (
    Commit(SHA3, "Greet new members in their own language", "Ada Dev"),
    Commit(SHA4, "Add Portuguese translations", "Grace Ops"),
    Commit("5e" * 20, "Bump slack-bolt to 1.30", "Ada Dev"),
)


def deployment(state: State, **changes: Any) -> Deployment:
    base = Deployment(
        bot="mybot",
        env="staging",
        kind=Kind.DEPLOY,
        state=state,
        requested_by=DEV,
        requested_at=T0,
        updated_at=T0 + timedelta(seconds=30),
        id=12,
        commit=SHA3,
        version=3,
        previous_version=2,
    )
    return dataclasses.replace(base, **changes)


def view(dep: Deployment, **changes: Any) -> DeploymentView:
    base = DeploymentView(
        deployment=dep,
        channel="C0DEPLOYS",
        release=V3 if dep.version == 3 else None,
        previous=V2 if dep.previous_version == 2 else None,
        # what the views service finds for a live release that moved forward from v2
        rollback_to=(
            2
            if dep.state is State.LIVE
            and dep.kind in (Kind.DEPLOY, Kind.PROMOTE)
            and dep.previous_version == 2
            else None
        ),
        changes=CHANGES,
        compare_url=COMPARE,
        now=T0 + timedelta(minutes=1, seconds=12),
    )
    return dataclasses.replace(base, **changes)


def live(**changes: Any) -> Deployment:
    at = T0 + timedelta(minutes=1, seconds=5)
    stamps: dict[str, Any] = {"live_at": at, "healthy_since": at, "updated_at": at}
    return deployment(State.LIVE, **(stamps | changes))


def pending(approved_by: tuple[str, ...]) -> DeploymentView:
    dep = deployment(State.PENDING_APPROVAL, kind=Kind.PROMOTE, env="prod", id=14)
    return view(dep, tally=Tally(needed=2, approved_by=approved_by, rejected_by=None))


def promotion(state: State, **changes: Any) -> Deployment:
    defaults: dict[str, Any] = {"kind": Kind.PROMOTE, "env": "prod", "id": 14}
    return deployment(state, **(defaults | changes))


LOG_TAIL = "\n".join(
    [f"step {n}/30: ok" for n in range(1, 25)]
    + [
        "Traceback (most recent call last):",
        '  File "/app/bot.py", line 12, in <module>',
        "    if members < 1 and greeting != '<none>':",
        "```not a fence```",
        "RuntimeError: SLACK_BOT_TOKEN=******** rejected & no retry",
        "health check: GET http://127.0.0.1:8080/healthz → connection refused",
    ]
)

DEPLOYMENT_VIEWS: dict[str, DeploymentView] = {
    "deploy_queued": view(
        deployment(State.QUEUED, version=None, commit=None, previous_version=None),
        changes=(),
        compare_url=None,
        now=T0 + timedelta(seconds=2),
    ),
    "deploy_building": view(
        deployment(State.BUILDING, ref="feature-x"),
        release=None,
        now=T0 + timedelta(seconds=42),
    ),
    "deploy_building_cancel_requested": view(
        deployment(State.BUILDING, cancel_requested_by=LEAD1, cancel_requested_at=T0),
        now=T0 + timedelta(seconds=50),
    ),
    "deploy_live_staging": view(live(), promote_to="prod"),
    "promote_pending_0_of_2": pending(()),
    "promote_pending_1_of_2": pending((LEAD1,)),
    "promote_approved_live_prod": view(
        promotion(
            State.LIVE,
            live_at=T0 + timedelta(minutes=20),
            healthy_since=T0 + timedelta(minutes=20),
        ),
        tally=Tally(needed=2, approved_by=(LEAD1, LEAD2), rejected_by=None),
        decided_by=LEAD2,
    ),
    "promote_approved_queued": view(
        promotion(State.QUEUED),
        tally=Tally(needed=1, approved_by=(LEAD1,), rejected_by=None),
        decided_by=LEAD1,
        now=T0 + timedelta(minutes=3),
    ),
    "promote_rejected": view(
        promotion(
            State.REJECTED,
            reason=f"rejected by {LEAD2}",
            finished_at=T0 + timedelta(minutes=7),
        ),
        tally=Tally(needed=2, approved_by=(LEAD1,), rejected_by=LEAD2),
        decided_by=LEAD2,
    ),
    "promote_expired": view(
        promotion(
            State.EXPIRED,
            reason="no decision within the approval time",
            finished_at=T0 + timedelta(hours=1),
        ),
        tally=Tally(needed=2, approved_by=(), rejected_by=None),
    ),
    "promote_superseded": view(
        promotion(
            State.SUPERSEDED,
            reason="staging now runs v4; promote again",
            finished_at=T0 + timedelta(minutes=9),
        ),
        tally=Tally(needed=2, approved_by=(LEAD1,), rejected_by=None),
    ),
    "deploy_failed": view(
        deployment(
            State.FAILED,
            reason="health check did not pass within 60s; v2 runs again",
            finished_at=T0 + timedelta(minutes=2, seconds=3),
            log_tail=LOG_TAIL,
        )
    ),
    "rollback_live_with_hold": view(
        deployment(
            State.LIVE,
            kind=Kind.ROLLBACK,
            env="prod",
            id=15,
            version=2,
            commit=SHA2,
            previous_version=3,
            requested_by=LEAD1,
            live_at=T0 + timedelta(seconds=25),
        ),
        release=V2,
        previous=V3,
        changes=(),
        compare_url=None,
        hold_note=(
            "automatic deploys to prod are held until someone deploys or promotes on purpose, "
            "or `/unlock mybot prod`"
        ),
    ),
    "auto_rollback_live": view(
        deployment(
            State.LIVE,
            kind=Kind.AUTO_ROLLBACK,
            id=16,
            version=2,
            commit=SHA2,
            previous_version=3,
            requested_by="chatops",
            live_at=T0 + timedelta(seconds=40),
            reason="v3 went unhealthy 2m after going live: its health check fails",
            request_reason="v3 went unhealthy 2m after going live: its health check fails",
        ),
        release=V2,
        previous=V3,
        changes=(),
        compare_url=None,
        promote_to="prod",
    ),
    "promote_forced_live": view(
        promotion(
            State.LIVE,
            requested_by=ADMIN,
            force_reason="hotfix for INC-42 during the freeze",
            live_at=T0 + timedelta(minutes=2),
        ),
        tally=None,
    ),
    "deploy_superseded_after_live": view(
        deployment(
            State.SUPERSEDED,
            live_at=T0 + timedelta(minutes=1),
            finished_at=T0 + timedelta(days=1),
        ),
        changes=(),
    ),
    "deploy_live_many_changes": view(
        live(),
        changes=tuple(
            Commit(f"{n:040x}", f"Change number {n} <with> & markup", "Ada Dev") for n in range(12)
        ),
        more_changes=30,
        promote_to="prod",
    ),
}


def alert(state: AlertState = AlertState.FIRING, **changes: Any) -> Alert:
    base = Alert(
        bot="mybot",
        env="prod",
        source="chatops",
        fingerprint="chatops:mybot:prod:health",
        summary="mybot is unhealthy: exited with code 137 (OOMKilled)",
        first_seen=T0,
        last_seen=T0 + timedelta(minutes=3),
        state=state,
        deployment_id=14,
        version=3,
        detail="the container restarted 3 times in 5 minutes; memory limit 256MiB",
        count=4,
        id=7,
    )
    return dataclasses.replace(base, **changes)


def alert_view(a: Alert, **changes: Any) -> AlertView:
    base = AlertView(
        alert=a,
        channel="C0PRODOPS",
        release=V3,
        deployed_by=LEAD1,
        rollback_to=2,
    )
    return dataclasses.replace(base, **changes)


RESOLVED = alert(AlertState.RESOLVED, resolved_at=T0 + timedelta(minutes=9, seconds=30))
ALERT_VIEWS: dict[str, AlertView] = {
    "alert_firing": alert_view(alert()),
    "alert_acknowledged": alert_view(
        alert(AlertState.ACKNOWLEDGED, acked_by=LEAD2, acked_at=T0 + timedelta(minutes=4))
    ),
    "alert_resolved": alert_view(RESOLVED),
    "alert_auto_rolled_back": alert_view(
        alert(
            source="alertmanager",
            fingerprint="3f9c0a1b2c3d4e5f",
            summary="BotErrorRate: more than 5% of Slack events failed",
            detail="rate 12% over 5m (threshold 5%)",
            count=1,
            action_taken="rolled back automatically to v2",
        ),
        rollback_to=None,
    ),
}


def status_rows() -> list[StatusRow]:
    staging = live()
    prod = promotion(State.LIVE, version=2, commit=SHA2, live_at=T0 - timedelta(days=2))
    return [
        StatusRow(bot="mybot", env="staging", deployment=staging, health=Health.HEALTHY),
        StatusRow(
            bot="mybot",
            env="prod",
            deployment=prod,
            health=Health.UNHEALTHY,
            lock=Lock(
                bot="mybot",
                env="prod",
                held_by=LEAD1,
                reason="database migration running",
                created_at=T0,
                expires_at=T0 + timedelta(hours=2),
            ),
            pending=(promotion(State.PENDING_APPROVAL, id=17),),
            open_alerts=(alert(AlertState.ACKNOWLEDGED, acked_by=LEAD2),),
        ),
        StatusRow(
            bot="greeter",
            env="staging",
            deployment=None,
            in_progress=deployment(State.BUILDING, bot="greeter", id=18, version=1),
        ),
        StatusRow(
            bot="digest",
            env="prod",
            deployment=deployment(
                State.LIVE, bot="digest", env="prod", version=5, id=3, commit=SHA1
            ),
            health=Health.HEALTHY,
            lock=Lock(
                bot="digest",
                env="prod",
                held_by=LEAD1,
                reason="rolled back to v5 by deployment #3",
                created_at=T0,
                kind=LockKind.ROLLBACK_HOLD,
            ),
        ),
    ]


def release_rows() -> list[ReleaseRow]:
    return [
        ReleaseRow(V3, live_in=("staging",)),
        ReleaseRow(V2, live_in=("prod",), was_live_in=("staging",), approved_by=(LEAD1,)),
        ReleaseRow(
            release(1, SHA1, "First version", at=T0 - timedelta(days=9)),
            was_live_in=("staging", "prod"),
        ),
    ]


OTHER_MESSAGES: dict[str, b.Message] = {
    "alert_resolved_reply": b.alert_resolved_reply(alert_view(RESOLVED)),
    "alert_resolved_reply_after_rollback": b.alert_resolved_reply(
        alert_view(dataclasses.replace(RESOLVED, action_taken="rolled back automatically to v2"))
    ),
    "soaked": b.soaked_message(
        view(
            live(healthy_since=T0 + timedelta(minutes=1)),
            promote_to="prod",
            now=T0 + timedelta(minutes=11, seconds=1),
        )
    ),
    "releases": b.releases_message("mybot", release_rows()),
    "releases_empty": b.releases_message("newbot", []),
    "status": b.status_message(status_rows()),
    "status_empty": b.status_message([]),
    "help": b.help_message(),
    "help_deploy": b.help_message("deploy"),
    "logs": b.logs_message(
        "mybot",
        "prod",
        "2025-06-02T09:30:01Z starting mybot v3\n"
        "2025-06-02T09:30:02Z connected to Slack as <@U0BOT>\n"
        "2025-06-02T09:30:05Z token=******** & ready\n",
    ),
    "logs_empty": b.logs_message("mybot", "prod", ""),
    "plain": b.plain_message(
        ":lock: mybot in prod is locked by U0LEAD1: db <migration> & backfill"
    ),
    "usage": b.usage_message("an argument is missing", "/deploy <bot> <env> [ref]"),
    "refusal": b.refusal_message(
        "U0DEV1 is not an approver for prod", "ask one of prod's approvers"
    ),
    "refusal_without_hint": b.refusal_message("something went wrong (ref E-4F2A)", None),
}


# ── snapshot tests ───────────────────────────────────────────────────────────


@pytest.mark.parametrize("name", sorted(DEPLOYMENT_VIEWS))
def test_deployment_message_snapshot(name: str) -> None:
    assert_snapshot(name, b.deployment_message(DEPLOYMENT_VIEWS[name]))


@pytest.mark.parametrize("name", sorted(ALERT_VIEWS))
def test_alert_message_snapshot(name: str) -> None:
    assert_snapshot(name, b.alert_message(ALERT_VIEWS[name]))


@pytest.mark.parametrize("name", sorted(OTHER_MESSAGES))
def test_other_message_snapshot(name: str) -> None:
    assert_snapshot(name, OTHER_MESSAGES[name])


def _all_messages() -> dict[str, b.Message]:
    rendered = {name: b.deployment_message(v) for name, v in DEPLOYMENT_VIEWS.items()}
    rendered.update({name: b.alert_message(v) for name, v in ALERT_VIEWS.items()})
    rendered.update(OTHER_MESSAGES)
    return rendered


def test_every_snapshot_is_used() -> None:
    recorded = {p.stem for p in SNAPSHOTS.glob("*.json")}
    assert recorded <= set(_all_messages()), "stale snapshots: delete them"


# ── the button contract (DESIGN §6) ──────────────────────────────────────────


def _buttons(message: b.Message) -> list[dict[str, Any]]:
    return [e for blk in message.blocks if blk["type"] == "actions" for e in blk["elements"]]


def _actions(message: b.Message) -> list[tuple[str, str]]:
    return [(action_id, value) for _, action_id, value in buttons(message)]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("deploy_queued", []),
        ("deploy_building", []),
        ("deploy_live_staging", [("promote", "12"), ("rollback", "12")]),
        ("promote_pending_0_of_2", [("approve", "14"), ("reject", "14")]),
        ("promote_pending_1_of_2", [("approve", "14"), ("reject", "14")]),
        ("promote_approved_live_prod", [("rollback", "14")]),
        ("promote_approved_queued", []),
        ("promote_rejected", []),
        ("promote_expired", []),
        ("promote_superseded", []),
        ("deploy_failed", []),
        ("rollback_live_with_hold", [("rollback", "15")]),
        ("auto_rollback_live", [("promote", "16"), ("rollback", "16")]),
        ("promote_forced_live", [("rollback", "14")]),
        ("deploy_superseded_after_live", []),
    ],
)
def test_deployment_buttons_per_state(name: str, expected: list[tuple[str, str]]) -> None:
    assert _actions(b.deployment_message(DEPLOYMENT_VIEWS[name])) == expected


def test_promote_button_names_the_target_and_is_primary() -> None:
    (promote, _) = _buttons(b.deployment_message(DEPLOYMENT_VIEWS["deploy_live_staging"]))
    assert promote["text"]["text"] == "Promote to prod"
    assert promote["style"] == "primary"
    assert "confirm" not in promote


def test_rollback_and_reject_are_danger_with_a_confirm_dialog() -> None:
    live_buttons = _buttons(b.deployment_message(DEPLOYMENT_VIEWS["deploy_live_staging"]))
    pending_buttons = _buttons(b.deployment_message(DEPLOYMENT_VIEWS["promote_pending_1_of_2"]))
    rollback, reject = live_buttons[1], pending_buttons[1]
    approve = pending_buttons[0]
    for button in (rollback, reject):
        assert button["style"] == "danger"
        assert button["confirm"]["style"] == "danger"
        assert button["confirm"]["deny"]["text"] == "Cancel"
    assert "to v2" in rollback["confirm"]["text"]["text"]
    assert approve["style"] == "primary"
    assert "confirm" not in approve


def test_rollback_confirm_does_not_guess_the_target_of_a_rollback() -> None:
    (rollback,) = _buttons(b.deployment_message(DEPLOYMENT_VIEWS["rollback_live_with_hold"]))
    text = rollback["confirm"]["text"]["text"]
    assert "the previous healthy release" in text
    assert "to v3" not in text


@pytest.mark.parametrize(
    ("name", "decided"),
    [
        ("promote_approved_live_prod", "Approved by <@U0LEAD1>, <@U0LEAD2>"),
        ("promote_approved_queued", "Approved by <@U0LEAD1>"),
        ("promote_rejected", "Rejected by <@U0LEAD2>"),
        ("promote_expired", "Expired after 1h"),
        ("promote_superseded", "Superseded"),
    ],
)
def test_no_votes_after_a_decision_but_who_decided(name: str, decided: str) -> None:
    message = b.deployment_message(DEPLOYMENT_VIEWS[name])
    action_ids = {action_id for action_id, _ in _actions(message)}
    assert not action_ids & {"approve", "reject"}
    contexts = [
        e["text"] for blk in message.blocks if blk["type"] == "context" for e in blk["elements"]
    ]
    assert any(decided in text for text in contexts), contexts


def test_pending_shows_the_count_and_the_approvers() -> None:
    console = text_of(b.deployment_message(DEPLOYMENT_VIEWS["promote_pending_1_of_2"]))
    assert "Approvals: 1 of 2: @U0LEAD1" in console
    assert "Waiting for 1 more approval" in console


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "alert_firing",
            [
                ("Roll back to v2", "rollback", "14"),
                ("Acknowledge", "ack_alert", "7"),
                ("Logs", "logs", "7"),
            ],
        ),
        ("alert_acknowledged", [("Roll back to v2", "rollback", "14"), ("Logs", "logs", "7")]),
        ("alert_resolved", [("Logs", "logs", "7")]),
        (
            "alert_auto_rolled_back",
            [
                ("Roll back", "rollback", "14"),
                ("Acknowledge", "ack_alert", "7"),
                ("Logs", "logs", "7"),
            ],
        ),
    ],
)
def test_alert_buttons_per_state(name: str, expected: list[tuple[str, str, str]]) -> None:
    message = b.alert_message(ALERT_VIEWS[name])
    assert buttons(message) == expected
    for button in _buttons(message):
        if button["action_id"] == "rollback":
            assert button["style"] == "danger"
            assert button["confirm"]["style"] == "danger"


def test_alert_without_deployment_has_no_rollback() -> None:
    message = b.alert_message(alert_view(alert(deployment_id=None)))
    assert buttons(message) == [("Acknowledge", "ack_alert", "7"), ("Logs", "logs", "7")]


def test_alert_messages_show_no_log_lines_in_the_channel() -> None:
    """Logs are for the environment's viewers: the channel gets a Logs button, not the lines."""
    for name, view in ALERT_VIEWS.items():
        message = b.alert_message(view)
        assert "log lines" not in text_of(message).lower(), name
        assert ("Logs", "logs", str(view.alert.id)) in buttons(message), name


def test_soaked_message_offers_promote() -> None:
    message = OTHER_MESSAGES["soaked"]
    assert buttons(message) == [("Promote to prod", "promote", "12")]
    assert message.text == "mybot v3 has soaked in staging — ready to promote to prod"


# ── limits and safety ────────────────────────────────────────────────────────

_ENTITY_OR_BARE = re.compile(r"&(?!amp;|lt;|gt;)")


def _texts(node: Any) -> list[str]:
    """Every `text` string of a text object anywhere in the blocks."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text"):
            found.append(node["text"])
        for value in node.values():
            found.extend(_texts(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_texts(item))
    return found


def assert_within_slack_limits(message: b.Message) -> None:
    blocks = message.blocks
    assert 0 < len(blocks) <= 50
    for block in blocks:
        if block["type"] == "section":
            if "text" in block:
                assert len(block["text"]["text"]) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
        if block["type"] == "actions":
            assert len(block["elements"]) <= 25
            for element in block["elements"]:
                assert len(element["value"]) <= 2000
                assert len(element["text"]["text"]) <= 75
    for text in _texts(blocks):
        assert text.strip()
        if text not in [blk["text"]["text"] for blk in blocks if blk["type"] == "header"]:
            assert not _ENTITY_OR_BARE.search(text), text[-80:]
    assert "None" not in json.dumps(blocks)
    assert "None" not in message.text


@pytest.mark.parametrize("name", sorted(_all_messages()))
def test_every_message_respects_slack_limits(name: str) -> None:
    assert_within_slack_limits(_all_messages()[name])


HUGE = "& <b>why</b> " * 800  # 10,400 characters, every one of them in need of escaping


@pytest.mark.parametrize("state", [State.FAILED, State.REJECTED, State.EXPIRED, State.SUPERSEDED])
def test_huge_reasons_logs_and_changes_are_cut_to_fit(state: State) -> None:
    dep = deployment(
        state,
        reason=HUGE,
        force_reason=HUGE,
        log_tail="\n".join(HUGE for _ in range(40)),
        finished_at=T0 + timedelta(minutes=5),
    )
    changes = tuple(Commit(f"{n:040x}", HUGE, HUGE) for n in range(200))
    the_view = view(dep, changes=changes, more_changes=1000, hold_note=HUGE, decided_by=LEAD2)
    message = b.deployment_message(the_view)
    assert_within_slack_limits(message)
    assert len(message.text) <= 1000
    # cut to fit, not cut to nothing
    longest = sorted((len(t) for t in _texts(message.blocks)), reverse=True)
    if state is State.FAILED:
        assert longest[1] > 2500  # the reason and the log each fill most of their section
    assert longest[0] > 1000
    assert "… and 1190 more" in text_of(message)


def test_huge_alerts_and_listings_are_cut_to_fit() -> None:
    huge_alert = alert(summary=HUGE, detail=HUGE, action_taken=HUGE)
    assert_within_slack_limits(b.alert_message(alert_view(huge_alert)))
    assert_within_slack_limits(b.alert_resolved_reply(alert_view(huge_alert)))
    rows = [ReleaseRow(release(n, f"{n:040x}", HUGE)) for n in range(1, 400)]
    assert_within_slack_limits(b.releases_message("mybot", rows))
    assert_within_slack_limits(b.status_message(status_rows() * 300))
    assert_within_slack_limits(b.refusal_message(HUGE, HUGE))
    assert_within_slack_limits(b.usage_message(HUGE, HUGE))


def test_text_from_people_cannot_ping_or_link() -> None:
    dep = live(force_reason="<!channel> see <https://evil.example|this>")
    subject = "Ping <!here> & <@U0BOSS>"
    message = b.deployment_message(
        view(dep, release=dataclasses.replace(V3, subject=subject), changes=())
    )
    dumped = json.dumps(message.blocks)
    assert "<!channel>" not in dumped
    assert "<!here>" not in dumped
    assert "<@U0BOSS>" not in dumped
    assert "Ping &lt;!here&gt; &amp; &lt;@U0BOSS&gt;" in dumped
    assert "Ping <!here> & <@U0BOSS>" in text_of(message)


def test_code_fences_in_logs_do_not_end_the_code_block() -> None:
    message = b.deployment_message(DEPLOYMENT_VIEWS["deploy_failed"])
    (log,) = [
        blk["text"]["text"]
        for blk in message.blocks
        if blk["type"] == "section" and "```" in blk.get("text", {}).get("text", "")
    ]
    assert log.count("```") == 2
    assert log.rstrip().endswith("```")
    assert len(log.split("```")[1].strip("\n").splitlines()) <= 10


# ── as a reader sees it ──────────────────────────────────────────────────────


def test_text_of_reads_like_the_message() -> None:
    message = b.deployment_message(DEPLOYMENT_VIEWS["deploy_live_staging"])
    console = text_of(message)
    assert console.splitlines()[0] == "✅ Deploy mybot v3 to staging: live"
    assert "Requested by: @U0DEV1" in console
    assert "Requested: 2025-06-02 09:30 UTC" in console
    assert "Took: 1m 5s" in console
    assert f"compare ({COMPARE})" in console
    assert "Promote to prod" not in console  # buttons are listed by buttons()
    assert buttons(message) == [
        ("Promote to prod", "promote", "12"),
        ("Roll back", "rollback", "12"),
    ]


def test_a_reject_reason_is_shown_once_and_escaped() -> None:
    rejected = view(
        promotion(
            State.REJECTED,
            reason=f"rejected by {LEAD2}: not on a Friday <!channel>",
            finished_at=T0 + timedelta(minutes=7),
        ),
        tally=Tally(needed=2, approved_by=(), rejected_by=LEAD2),
        decided_by=LEAD2,
    )
    message = b.deployment_message(rejected)
    console = text_of(message)
    [line] = [line for line in console.splitlines() if "Rejected by" in line]
    assert line.endswith(": not on a Friday <!channel>")
    assert console.count("not on a Friday") == 1
    assert "<!channel>" not in str(message.blocks)
    assert_within_slack_limits(message)


def test_help_lists_every_command() -> None:
    console = text_of(b.help_message())
    for command in (
        "/deploy <bot> <env> [ref]",
        "/promote <bot> [env]",
        "/rollback <bot> <env> [vN]",
        "/releases <bot> [env]",
        "/status [bot]",
        "/logs <bot> <env> [lines]",
        "/lock <bot> <env>",
        "/unlock <bot> <env>",
        "/approve <id>",
        "/reject <id> [reason]",
        "/cancel <bot> <env>",
        "/chatops help",
    ):
        assert command in console


def test_messages_are_frozen_values() -> None:
    message = b.usage_message("too many arguments", "/status [bot]")
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.text = "changed"  # type: ignore[misc]
    assert message == b.usage_message("too many arguments", "/status [bot]")


def test_without_a_clock_or_an_id_nothing_is_made_up() -> None:
    the_view = view(deployment(State.DEPLOYING, id=None), now=None)
    message = b.deployment_message(the_view)
    console = text_of(message)
    assert "Elapsed" not in console
    assert "Kind: deploy\n" in console
    assert buttons(message) == []
    assert_within_slack_limits(message)


def test_rollback_confirm_of_an_alert_without_release_names_no_version() -> None:
    message = b.alert_message(
        alert_view(alert(version=None), release=None, deployed_by=None, rollback_to=None)
    )
    (rollback, _, _) = _buttons(message)
    assert rollback["confirm"]["text"]["text"] == (
        "*mybot* in *prod* goes back to the previous healthy release, without rebuilding."
    )
    assert_within_slack_limits(message)


def test_long_logs_keep_their_end_and_say_what_was_left_out() -> None:
    lines = [f"line {n:04d} " + "x <y> & z " * 20 for n in range(500)]
    message = b.logs_message("mybot", "prod", "\n".join(lines))
    assert_within_slack_limits(message)
    console = text_of(message)
    assert console.endswith(lines[-1].rstrip())
    shown = [n for n in range(500) if f"line {n:04d} " in console]
    assert shown == list(range(500 - len(shown), 500))  # the newest lines, in order
    assert f"… {500 - len(shown)} earlier lines do not fit in one message" in console


def test_help_for_an_unknown_topic_is_the_whole_help() -> None:
    assert b.help_message("nonsense") == b.help_message()
