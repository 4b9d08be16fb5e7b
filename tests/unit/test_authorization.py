"""Who may do what (DESIGN §2): one rule per action, from the stored truth, never from a click.

Each rule is checked in the domain and through the service that applies it:
acknowledge an alert = the alert environment's deployers or approvers, and admins;
approve/reject = approvers other than the requester; deploy/promote/rollback =
deployers; and the configuration makes guarded environments name their deployers.
"""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from chatops.config import Settings, read_config_file
from chatops.domain.alerts import Alert, AlertState
from chatops.domain.approvals import check_voter
from chatops.domain.audit import Outcome
from chatops.domain.catalog import ANYONE
from chatops.domain.policy import check_acknowledger, check_deployer
from chatops.errors import ConfigError, NotAllowed
from chatops.services.acknowledgements import Acknowledgements
from chatops.services.context import Actor
from tests.fakes import World, catalog

# prod in tests/fakes.py: deployers UDEV, ULEAD1, ULEAD2; approvers ULEAD1, ULEAD2; admin UADMIN
DEPLOYERS = frozenset({"UDEV", "ULEAD1"})
APPROVERS = frozenset({"ULEAD1", "ULEAD2", "SOPS"})
ADMINS = frozenset({"UADMIN"})


# ── the rules ────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("user", "allowed"),
    [
        ("UDEV", True),  # a deployer
        ("ULEAD2", True),  # an approver only
        ("UADMIN", True),  # an admin, in no list
        ("UOUT", False),
        ("*", False),  # a user literally named `*` is nobody special
    ],
)
def test_acknowledging_is_for_deployers_approvers_and_admins(user: str, allowed: bool) -> None:
    def ack() -> None:
        check_acknowledger("prod", user, deployers=DEPLOYERS, approvers=APPROVERS, admins=ADMINS)

    if allowed:
        ack()
    else:
        with pytest.raises(NotAllowed) as e:
            ack()
        assert e.value.message == f"{user} may not acknowledge alerts of prod"
        assert "deployers or approvers" in (e.value.hint or "")


def test_an_environment_open_to_anyone_lets_anyone_acknowledge() -> None:
    check_acknowledger("staging", "UOUT", deployers={ANYONE}, approvers=(), admins=ADMINS)


@pytest.mark.parametrize(("user", "allowed"), [("UDEV", True), ("ULEAD2", False), ("UOUT", False)])
def test_deploy_promote_and_rollback_are_for_deployers(user: str, allowed: bool) -> None:
    env = catalog().environment("prod")
    if allowed:
        check_deployer(env, user, DEPLOYERS)
    else:
        with pytest.raises(NotAllowed, match=f"{user} may not deploy to prod"):
            check_deployer(env, user, DEPLOYERS)


@pytest.mark.parametrize(
    ("user", "why"),
    [("UDEV", "requested this deployment"), ("UOUT", "not an approver"), ("UADMIN", "not an")],
)
def test_votes_are_for_approvers_other_than_the_requester(user: str, why: str) -> None:
    with pytest.raises(NotAllowed, match=why):
        check_voter(user, requester="UDEV", approvers=APPROVERS, env="prod")
    check_voter("ULEAD1", requester="UDEV", approvers=APPROVERS, env="prod")


# ── through the services ─────────────────────────────────────────────────


@pytest.fixture
def world() -> World:
    world = World(catalog(prod={"approvers": frozenset({"ULEAD1", "SOPS"})}))
    world.directory.groups["SOPS"] = {"UOPS"}
    return world


def _open_alert(world: World, env: str) -> Alert:
    stored = world.tables.alerts
    alert = Alert(
        bot="mybot",
        env=env,
        source="alertmanager",
        fingerprint=f"fp-{env}",
        summary="mybot answers slowly",
        first_seen=world.clock.now(),
        last_seen=world.clock.now(),
        id=len(stored) + 1,
    )
    stored[alert.id or 0] = alert
    return alert


@pytest.mark.parametrize(
    ("user", "allowed"),
    [
        ("UDEV", True),  # deployer of prod
        ("ULEAD1", True),  # approver and deployer
        ("UOPS", True),  # approver through the SOPS group
        ("UADMIN", True),
        ("UOUT", False),  # anyone else in the workspace
    ],
)
def test_only_the_environments_people_acknowledge_its_alerts(
    world: World, user: str, allowed: bool
) -> None:
    alert = _open_alert(world, "prod")
    service = _acknowledgements(world)

    if allowed:
        acked = service.acknowledge(Actor(user, "slack"), alert.id or 0)
        assert (acked.state, acked.acked_by) == (AlertState.ACKNOWLEDGED, user)
    else:
        with pytest.raises(NotAllowed, match="UOUT may not acknowledge alerts of prod"):
            service.acknowledge(Actor(user, "slack"), alert.id or 0)
        assert world.tables.alerts[alert.id or 0].state is AlertState.FIRING
        assert world.notifier.alerts == []  # nothing changed, so nothing was told
    outcome = Outcome.OK if allowed else Outcome.REFUSED
    assert [(e.actor, e.action, e.outcome) for e in world.tables.audit] == [
        (user, "ack_alert", outcome)
    ]


def test_staging_alerts_may_be_acknowledged_by_anyone_as_configured(world: World) -> None:
    alert = _open_alert(world, "staging")  # staging's deployers are "*"
    acked = _acknowledgements(world).acknowledge(Actor("UOUT"), alert.id or 0)
    assert acked.acked_by == "UOUT"


def test_an_alert_of_an_environment_no_longer_configured_is_for_admins(world: World) -> None:
    alert = _open_alert(world, "staging")
    world.tables.alerts[alert.id or 0] = dataclasses.replace(alert, env="gone")
    service = _acknowledgements(world)
    with pytest.raises(NotAllowed):
        service.acknowledge(Actor("UDEV"), alert.id or 0)
    assert service.acknowledge(Actor("UADMIN"), alert.id or 0).acked_by == "UADMIN"


def test_rollback_and_promotion_are_refused_to_non_deployers(world: World) -> None:
    requests = world.services().requests
    for call in (
        lambda: requests.promote(Actor("UOUT"), "mybot", "prod"),
        lambda: requests.rollback(Actor("UOUT"), "mybot", "prod"),
        lambda: requests.rollback(Actor("UOPS"), "mybot", "prod"),  # approver, not deployer
    ):
        with pytest.raises(NotAllowed, match="may not deploy to prod"):
            call()
    assert world.tables.deployments == {}


# ── the configuration names who deploys where it matters ─────────────────


def _load(tmp_path: Path, environments: str) -> object:
    path = tmp_path / "chatops.yaml"
    path.write_text(textwrap.dedent(environments) + "bots: {mybot: {repo: /r}}\n")
    return read_config_file(path, settings=Settings())


@pytest.mark.parametrize(
    ("prod", "why"),
    [
        ("{promote_from: staging}", "takes promotions from staging"),
        ("{approvals: 1, approvers: [U0LEAD]}", "needs approvals"),
        ("{rollback_approvals: 1, approvers: [U0LEAD]}", "needs approvals"),
    ],
)
def test_a_guarded_environment_must_name_its_deployers(tmp_path: Path, prod: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f"environments:\n  staging: {{}}\n  prod: {prod}\n")
    message = caught.value.message
    assert str(tmp_path / "chatops.yaml") in message
    assert f"environments.prod.deployers: required, since prod {why}" in message
    assert "deployers: [U0DEV1, S0DEPLOYERS]" in message
    assert 'deployers: ["*"]' in message


def test_anyone_deploys_where_it_is_written_or_nothing_guards_the_way(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        """\
        environments:
          dev: {}
          staging: {promote_from: dev, deployers: ["*"]}
          prod: {promote_from: staging, deployers: [U0DEV1]}
        """,
    )
    environments = config.catalog.environments  # type: ignore[attr-defined]
    assert environments["dev"].deployers == {ANYONE}
    assert environments["staging"].deployers == {ANYONE}
    assert environments["prod"].deployers == {"U0DEV1"}


@pytest.mark.parametrize(
    ("yaml_text", "named"),
    [
        (
            """\
            environments: {prod: {}, api-prod: {}}
            bots: {pay-api: {repo: /r}, pay: {repo: /r}}
            """,
            "bots.pay and bots.pay-api: bot pay-api in prod and bot pay in api-prod "
            "would run as the same container or service `pay-api-prod`",
        ),
        (
            """\
            environments: {b-c: {}, c: {}}
            bots: {a: {repo: /r, environments: {b-c: {}}}, a-b: {repo: /r, environments: {c: {}}}}
            """,
            "bot a in b-c and bot a-b in c would run as the same container or service `a-b-c`",
        ),
    ],
)
def test_bots_and_environments_whose_names_collide_are_refused(
    tmp_path: Path, yaml_text: str, named: str
) -> None:
    path = tmp_path / "chatops.yaml"
    path.write_text(textwrap.dedent(yaml_text))
    with pytest.raises(ConfigError) as caught:
        read_config_file(path, settings=Settings())
    assert named in caught.value.message
    assert "rename one of the bots or environments" in caught.value.message


def test_names_that_only_look_alike_do_not_collide(tmp_path: Path) -> None:
    path = tmp_path / "chatops.yaml"
    path.write_text(
        "environments: {prod: {}, api-prod: {}}\n"
        # pay-api only in api-prod, pay only in prod: `pay-api-api-prod` and `pay-prod`
        "bots: {pay-api: {repo: /r, environments: {api-prod: {}}},"
        " pay: {repo: /r, environments: {prod: {}}}}\n"
    )
    read_config_file(path, settings=Settings())


def _acknowledgements(world: World) -> Acknowledgements:
    return world.services().monitoring.acknowledgements
