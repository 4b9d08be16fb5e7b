"""Who may read logs: an environment's `viewers` (default: deployers and approvers) and admins."""

from __future__ import annotations

import dataclasses

import pytest

from chatops.domain.alerts import Alert
from chatops.domain.audit import Outcome
from chatops.domain.catalog import Environment
from chatops.domain.viewers import check_viewer, viewers_of
from chatops.errors import NotAllowed, NotFound
from chatops.services.context import Actor
from tests.fakes import T0, World, catalog
from tests.unit.test_services import App, make_app

PROD = Environment(
    name="prod", deployers=frozenset({"UDEV"}), approvers=frozenset({"ULEAD", "S0LEADS"})
)
ADMINS = frozenset({"UADMIN"})


def _allowed(env: Environment, user: str, groups: dict[str, set[str]] | None = None) -> bool:
    expanded: set[str] = set()
    for entry in viewers_of(env):
        expanded |= (groups or {}).get(entry, {entry})
    try:
        check_viewer(env, user, viewers=expanded, admins=ADMINS)
    except NotAllowed:
        return False
    return True


# ── the rule ─────────────────────────────────────────────────────────────


def test_by_default_deployers_and_approvers_may_read_the_logs() -> None:
    assert viewers_of(PROD) == {"UDEV", "ULEAD", "S0LEADS"}
    assert _allowed(PROD, "UDEV") and _allowed(PROD, "ULEAD")


def test_anyone_else_is_refused_with_who_may() -> None:
    with pytest.raises(NotAllowed) as refused:
        check_viewer(PROD, "UOUT", viewers=viewers_of(PROD), admins=ADMINS)
    assert refused.value.message == "UOUT may not read the logs of prod"
    assert "the logs of prod are for S0LEADS, UDEV, ULEAD and admins" in (refused.value.hint or "")
    assert "environments.prod.viewers" in (refused.value.hint or "")


def test_viewers_replace_the_default() -> None:
    env = dataclasses.replace(PROD, viewers=frozenset({"UOPS"}))
    assert _allowed(env, "UOPS")
    assert not _allowed(env, "UDEV"), "a deployer is no viewer once viewers are named"


def test_admins_may_always_read_the_logs() -> None:
    nobody = dataclasses.replace(PROD, viewers=frozenset())
    assert _allowed(nobody, "UADMIN")
    with pytest.raises(NotAllowed) as refused:
        check_viewer(nobody, "UDEV", viewers=(), admins=ADMINS)
    assert "the logs of prod are for admins only" in (refused.value.hint or "")


def test_members_of_a_viewer_group_may_read_the_logs() -> None:
    assert _allowed(PROD, "ULEAD2", groups={"S0LEADS": {"ULEAD2"}})
    assert not _allowed(PROD, "ULEAD2")


def test_a_star_lets_anyone_read() -> None:
    staging = Environment(name="staging")  # deployers default to "*"
    assert _allowed(staging, "UANYONE")


# ── through the services ─────────────────────────────────────────────────


@pytest.fixture
def app() -> App:
    app = make_app(World(catalog()))
    app.world.secrets.values["API_TOKEN"] = "s3cr3t-token-value"
    app.commit("a" * 40)
    app.deploy()
    return app


def _alert(app: App, env: str = "staging") -> int:
    with app.world.uow() as uow:
        stored = uow.alerts.add(
            Alert(
                bot="mybot",
                env=env,
                source="chatops",
                fingerprint="f",
                summary="down",
                first_seen=T0,
                last_seen=T0,
                deployment_id=1,
                version=1,
            )
        )
        uow.commit()
    assert stored.id is not None
    return stored.id


def test_logs_are_refused_to_a_non_viewer_and_the_refusal_is_audited(app: App) -> None:
    outsider = Actor("UOUT", "slack")
    app.world.catalog = dataclasses.replace(
        app.world.catalog,
        environments={
            **app.world.catalog.environments,
            "staging": Environment(name="staging", deployers=frozenset({"UDEV"})),
        },
    )
    queries = make_app(app.world).queries

    with pytest.raises(NotAllowed, match="UOUT may not read the logs of staging"):
        queries.logs(outsider, "mybot", "staging")

    assert app.audit("logs") == [("UOUT", "logs", Outcome.REFUSED)]
    assert "token is ••••••" in queries.logs(Actor("UDEV"), "mybot", "staging")
    assert "token is ••••••" in queries.logs(Actor("UADMIN"), "mybot", "staging")
    assert [o for _, _, o in app.audit("logs")] == [Outcome.REFUSED, Outcome.OK, Outcome.OK]


def test_an_alerts_logs_are_its_environments_masked_lines_for_its_viewers(app: App) -> None:
    alert_id = _alert(app)

    alert, text = app.queries.alert_logs(Actor("UDEV"), alert_id)

    assert (alert.bot, alert.env) == ("mybot", "staging")
    assert "token is ••••••" in text and "s3cr3t-token-value" not in text


def test_an_alerts_logs_are_refused_to_a_non_viewer(app: App) -> None:
    alert_id = _alert(app, "prod")  # prod: its deployers and approvers only

    with pytest.raises(NotAllowed, match="UOUT may not read the logs of prod"):
        app.queries.alert_logs(Actor("UOUT"), alert_id)
    with pytest.raises(NotFound, match="there is no alert #99"):
        app.queries.alert_logs(Actor("UDEV"), 99)
