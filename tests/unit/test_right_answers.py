"""Answers a newcomer relies on: the diff an approver sees, the soak, locks versus holds, hints."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from chatops.domain.deployment import State
from chatops.domain.health import Health
from chatops.entrypoints.hints import for_cli
from chatops.entrypoints.output import release_json, status_json
from chatops.entrypoints.render.actions import deployment_actions
from chatops.entrypoints.render.document import spans
from chatops.entrypoints.terminal import TERMINAL, plain
from chatops.errors import NotFound, NotPromotable
from chatops.services.context import Actor
from tests.fakes import World, catalog
from tests.unit.test_services import ADMIN, DEV, LEAD1, LEAD2, App, make_app, soak


@pytest.fixture
def app() -> App:
    application = make_app()
    application.commit("a" * 40, "first")
    return application


@pytest.fixture
def auto_app() -> App:
    """staging follows `main` (`auto_deploy`): a rollback there holds automatic deploys."""
    application = make_app(World(catalog(staging={"auto_deploy": "main"})))
    application.commit("a" * 40, "first")
    return application


def test_a_pending_promotion_lists_only_what_prod_does_not_run_yet(app: App) -> None:
    app.deploy()
    soak(app)
    app.requests.approve(LEAD2, app.requests.promote(LEAD1, "mybot").id or 0)
    app.commit("b" * 40, "second")
    app.deploy()
    soak(app)

    pending = app.requests.promote(LEAD1, "mybot")

    assert pending.state is State.PENDING_APPROVAL
    view = app.queries.view(pending.id or 0)
    assert [c.subject for c in view.changes] == ["second"]
    assert view.previous is not None and view.previous.version == 1
    live = app.requests.approve(LEAD2, pending.id or 0)
    assert [c.subject for c in app.queries.view(live.id or 0).changes] == ["second"]


def test_a_first_promotion_lists_everything_up_to_the_release(app: App) -> None:
    app.deploy()
    soak(app)
    pending = app.requests.promote(LEAD1, "mybot")
    view = app.queries.view(pending.id or 0)
    assert [c.subject for c in view.changes] == ["first"]
    assert view.previous is None


@pytest.mark.parametrize("forced", [False, True])
def test_redeploying_the_same_version_continues_the_soak(app: App, forced: bool) -> None:
    first = app.deploy()
    app.world.clock.advance(minutes=8)
    if forced:
        app.locks.lock(DEV, "mybot", "staging", reason="hands off")
        again = app.deploy(actor=ADMIN, force_reason="redeploy to pick up the env file")
    else:
        again = app.deploy()
    assert (again.state, again.version) == (State.LIVE, first.version)
    assert again.healthy_since == first.healthy_since

    app.world.clock.advance(minutes=3)
    assert app.requests.promote(LEAD1, "mybot").state is State.PENDING_APPROVAL


def test_a_new_version_starts_its_own_soak(app: App) -> None:
    app.deploy()
    app.world.clock.advance(minutes=8)
    app.commit("b" * 40)
    second = app.deploy()
    assert second.healthy_since == app.world.clock.now()


def test_status_tells_a_persons_lock_from_the_hold_a_rollback_leaves(auto_app: App) -> None:
    app = auto_app
    app.deploy()
    app.commit("b" * 40)
    app.deploy()
    back = app.requests.rollback(DEV, "mybot", "staging")

    [row] = [status_json(r) for r in app.queries.status("mybot", probe=False)]
    assert row["lock"] is None
    assert row["hold"]["reason"] == f"rolled back to v1 by deployment #{back.id} (rollback)"
    assert row["hold"]["since"] == app.world.clock.now().isoformat()

    app.locks.unlock(DEV, "mybot", "staging")
    app.locks.lock(LEAD1, "mybot", "staging", reason="db migration", duration=timedelta(hours=2))
    [row] = [status_json(r) for r in app.queries.status("mybot", probe=False)]
    assert row["hold"] is None
    until = (app.world.clock.now() + timedelta(hours=2)).isoformat()
    assert row["lock"] == {"by": "ULEAD1", "reason": "db migration", "until": until}


def test_a_rollback_to_a_newer_version_says_rolled_forward(auto_app: App) -> None:
    app = auto_app
    app.deploy()
    app.commit("b" * 40)
    app.deploy()
    app.requests.rollback(DEV, "mybot", "staging")

    ahead = app.requests.rollback(DEV, "mybot", "staging", to_version=2)

    hold = app.world.tables.locks[("mybot", "staging")]
    assert hold.reason == f"rolled forward to v2 by deployment #{ahead.id} (rollback)"


def test_logs_where_nothing_runs_suggest_only_what_policy_allows(app: App) -> None:
    with pytest.raises(NotFound) as prod:
        app.queries.logs(LEAD1, "mybot", "prod")
    assert prod.value.hint == "`/promote mybot prod` puts it there"
    with pytest.raises(NotFound) as staging:
        app.queries.logs(DEV, "mybot", "staging")
    assert staging.value.hint == "`/deploy mybot staging` puts it there"


def test_promoting_what_is_live_nowhere_names_an_environment_deploy_can_reach(app: App) -> None:
    with pytest.raises(NotPromotable) as refused:
        app.requests.promote(Actor("ULEAD1"), "mybot")
    assert refused.value.hint == "deploy it first, e.g. `/deploy mybot staging`"


@pytest.mark.parametrize(
    ("slack", "cli"),
    [
        ("`/unlock mybot staging` first", "`chatops unlock mybot staging` first"),
        ("`/releases mybot prod` lists it", "`chatops releases mybot prod` lists it"),
        ("usage: /promote <bot> [env]", "usage: chatops promote <bot> [env]"),
        ("`/lock mybot prod db migration`", "`chatops lock mybot prod --reason 'db migration'`"),
        ("`/reject 12 <reason>`", "`chatops reject 12 --reason <reason>`"),
        ("`/logs mybot prod 100`", "`chatops logs mybot prod --lines 100`"),
        ("`/chatops help` lists what you can do", "`chatops --help` lists what you can do"),
        ("hold it until `/unlock`", "hold it until `chatops unlock`"),
        ("POST /slack/events at https://x.example/deploy", None),
    ],
)
def test_hints_in_the_terminal_speak_the_cli(slack: str, cli: str | None) -> None:
    assert for_cli(slack) == (cli if cli is not None else slack)


def test_a_rollback_reason_is_on_its_message_in_releases_and_the_audit_log(app: App) -> None:
    from chatops.entrypoints.slack import blocks as b
    from tests.slack.reading import text_of

    app.deploy()
    app.commit("b" * 40)
    app.deploy()

    back = app.requests.rollback(DEV, "mybot", "staging", reason="login is <!channel> broken")

    message = b.deployment_message(app.queries.view(back.id or 0))
    assert "Why: login is <!channel> broken" in text_of(message)
    assert "<!channel>" not in json.dumps(message.blocks), "escaped: it never mentions anyone"
    [row] = [r for r in app.queries.releases("mybot") if r.release.version == 2]
    assert [(x.env, x.by, x.reason) for x in row.rolled_back] == [
        ("staging", "UDEV", "login is <!channel> broken")
    ]
    listing = text_of(b.releases_message("mybot", app.queries.releases("mybot")))
    assert "rolled back in staging by" in listing
    [event] = [e for e in app.world.tables.audit if e.action == "rollback"]
    assert event.detail == "to v1: login is <!channel> broken"


def test_a_rollback_that_fails_or_is_rejected_keeps_the_reason_given(app: App) -> None:
    from chatops.entrypoints.slack import blocks as b
    from chatops.errors import RuntimeFailure
    from tests.slack.reading import text_of

    app.deploy()
    app.commit("b" * 40)
    app.deploy()

    def unreachable(spec: object) -> object:
        raise RuntimeFailure("cannot reach the Docker Engine at unix:///nowhere.sock")

    start = app.world.runtime.start
    app.world.runtime.start = unreachable  # type: ignore[method-assign]
    failed = app.requests.rollback(DEV, "mybot", "staging", reason="login is broken")
    app.world.runtime.start = start  # type: ignore[method-assign]

    assert failed.state is State.FAILED
    assert failed.reason is not None and "cannot reach the Docker Engine" in failed.reason
    stored = app.world.tables.deployments[failed.id or 0]
    assert stored.request_reason == "login is broken"
    text = text_of(b.deployment_message(app.queries.view(failed.id or 0)))
    assert "Why: login is broken" in text
    assert "Why it failed: cannot reach the Docker Engine" in text


def test_a_rejected_rollback_still_says_why_it_was_asked_for() -> None:
    from chatops.entrypoints.slack import blocks as b
    from tests.slack.reading import text_of

    world = World(catalog(staging={"rollback_approvals": 1, "approvers": frozenset({"ULEAD1"})}))
    app = make_app(world)
    app.commit("a" * 40)
    app.deploy()
    app.commit("b" * 40)
    app.deploy()
    pending = app.requests.rollback(DEV, "mybot", "staging", reason="login is broken")

    rejected = app.requests.reject(LEAD1, pending.id or 0, reason="it is fine")

    assert rejected.state is State.REJECTED
    assert rejected.reason == "rejected by ULEAD1: it is fine"
    assert rejected.request_reason == "login is broken"
    assert "Why: login is broken" in text_of(
        b.deployment_message(app.queries.view(pending.id or 0))
    )


def test_releases_json_gives_the_reason_of_a_rollback_after_it_is_superseded(app: App) -> None:
    app.deploy()
    app.commit("b" * 40)
    app.deploy()
    app.requests.rollback(DEV, "mybot", "staging", reason="login is broken")
    app.commit("c" * 40)
    app.deploy()

    releases = [release_json(r) for r in app.queries.releases("mybot")]
    [v2] = [r for r in releases if r["version"] == 2]
    assert [(x["env"], x["reason"]) for x in v2["rolled_back"]] == [("staging", "login is broken")]


def test_the_web_view_shows_health_as_status_does(app: App) -> None:
    """One rule for recorded health: an open alert is unhealthy, a deployment the checks
    found healthy is healthy, and one they have not (yet, or not since a failure) is unknown."""
    app.deploy()
    services = app.world.services()
    with app.world.uow() as uow:
        live = uow.deployments.live("mybot", "staging")
        assert live is not None
        uow.deployments.save(replace(live, healthy_since=None))  # a failing check cleared it
        uow.commit()

    def healths() -> tuple[list[Health], list[Health]]:
        status = [row.health for row in services.status.status(probe=False)]
        return status, [row.health for row in services.board.overview()]

    assert healths() == ([Health.UNKNOWN], [Health.UNKNOWN])
    with app.world.uow() as uow:
        live = uow.deployments.live("mybot", "staging")
        assert live is not None
        uow.deployments.save(replace(live, healthy_since=app.world.clock.now()))
        uow.commit()
    assert healths() == ([Health.HEALTHY], [Health.HEALTHY])
    timeline = services.board.timeline("mybot")
    assert [row.health for row in timeline.status] == [Health.HEALTHY]


def test_the_rollback_button_names_where_rollback_goes(app: App) -> None:
    """Redeployed, a release replaces itself: its Rollback names the release before it, as
    `/rollback` decides, not "from v2 to v2"; after a rollback, the release before that."""
    app.deploy()
    app.commit("b" * 40, "second")
    app.deploy()
    again = app.deploy()
    assert again.version == 2 and again.state is State.LIVE

    def button(deployment_id: int) -> str:
        [rollback] = [
            a
            for a in deployment_actions(app.queries.view(deployment_id))
            if a.action_id == "rollback"
        ]
        assert rollback.confirm is not None
        return plain(spans(rollback.confirm.text, TERMINAL))

    assert "from v2 to v1" in button(again.id or 0)
    back = app.requests.rollback(ADMIN, "mybot", "staging")
    assert back.version == 1 and back.state is State.LIVE
    assert "from v1 to the previous healthy release" in button(back.id or 0)  # none is left
