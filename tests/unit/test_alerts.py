"""Alerts over fakes: Alertmanager's webhook, acknowledging, and the view a message shows."""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass

import pytest

from chatops.bootstrap.monitoring import Monitoring
from chatops.domain.alerts import Alert, AlertState
from chatops.domain.audit import Outcome
from chatops.errors import AlreadyDecided, NotFound
from chatops.services.alerts import IncomingAlert
from chatops.services.context import Actor, NullMetrics
from chatops.services.requests import Requests
from tests.fakes import World, catalog

DEV = Actor("UDEV")
LEAD = Actor("ULEAD1", "slack")


class RecordingMetrics(NullMetrics):
    def __init__(self) -> None:
        self.firing: list[tuple[str, str, int]] = []

    def alerts_firing(self, bot: str, env: str, count: int) -> None:
        self.firing.append((bot, env, count))


@dataclass
class Rig:
    world: World
    requests: Requests
    service: Monitoring
    metrics: RecordingMetrics

    def deploy(self, sha: str) -> None:
        self.world.source.add_commit("mybot", "main", sha)
        self.requests.deploy(DEV, "mybot", "staging")

    def alerts(self) -> list[Alert]:
        return sorted(self.world.tables.alerts.values(), key=lambda a: a.id or 0)

    def told(self) -> list[Alert]:
        return [view.alert for view in self.world.notifier.alerts]

    def audit(self, action: str) -> list[tuple[str, str, Outcome]]:
        return [
            (e.actor, e.action, e.outcome) for e in self.world.tables.audit if e.action == action
        ]


@pytest.fixture
def rig() -> Rig:
    world = World(catalog())
    metrics = RecordingMetrics()
    services = world.services(metrics=metrics)
    rig = Rig(world, services.requests, services.monitoring, metrics)
    rig.deploy("a" * 40)
    return rig


def incoming(status: str = "firing", **changes: object) -> IncomingAlert:
    alert = IncomingAlert(
        status=status,
        bot="mybot",
        env="staging",
        fingerprint="4f1c9e0a2b3d5e6f",
        summary="mybot answers slowly",
        labels={"alertname": "SlowReplies", "bot": "mybot", "env": "staging", "severity": "page"},
        generator_url="http://prometheus.test/graph?g0.expr=latency",
    )
    return dataclasses.replace(alert, **changes)  # type: ignore[arg-type]


# ── Alertmanager ─────────────────────────────────────────────────────────


def test_a_firing_alert_opens_an_alert_on_the_live_deployment(rig: Rig) -> None:
    result = rig.service.intake.ingest_alertmanager([incoming()])

    assert (result.opened, result.updated, result.resolved, result.ignored) == (1, 0, 0, 0)
    [alert] = rig.alerts()
    assert alert.source == "alertmanager"
    assert (alert.bot, alert.env, alert.deployment_id, alert.version) == ("mybot", "staging", 1, 1)
    assert alert.fingerprint == "4f1c9e0a2b3d5e6f"
    assert alert.summary == "mybot answers slowly"
    assert "severity=page" in alert.detail
    assert "http://prometheus.test/graph" in alert.detail
    [view] = rig.world.notifier.alerts
    assert view.alert == alert
    assert view.deployed_by == "UDEV"
    assert rig.audit("alert") == [("alertmanager", "alert", Outcome.FAILED)]
    assert rig.metrics.firing == [("mybot", "staging", 1)]


def test_the_same_firing_payload_again_repeats_the_same_alert(rig: Rig) -> None:
    rig.service.intake.ingest_alertmanager([incoming()])
    rig.world.clock.advance(minutes=5)

    result = rig.service.intake.ingest_alertmanager([incoming()])

    assert (result.opened, result.updated) == (0, 1)
    [alert] = rig.alerts()
    assert alert.count == 2
    assert alert.last_seen == rig.world.clock.now()
    assert [(a.id, a.count) for a in rig.told()] == [(alert.id, 1), (alert.id, 2)]


def test_a_resolved_alert_resolves_it(rig: Rig) -> None:
    rig.service.intake.ingest_alertmanager([incoming()])

    result = rig.service.intake.ingest_alertmanager([incoming("resolved")])

    assert result.resolved == 1
    [alert] = rig.alerts()
    assert alert.state is AlertState.RESOLVED
    assert rig.told()[-1].state is AlertState.RESOLVED
    assert rig.metrics.firing[-1] == ("mybot", "staging", 0)
    assert rig.audit("alert_resolved") == [("alertmanager", "alert_resolved", Outcome.OK)]


def test_alerts_that_match_nothing_live_are_ignored_with_reasons(rig: Rig) -> None:
    result = rig.service.intake.ingest_alertmanager(
        [
            incoming(bot="ghost", fingerprint="a1"),
            incoming(env="qa", fingerprint="a2"),
            incoming(env="prod", fingerprint="a3"),
            incoming(bot=None, fingerprint="a4"),
            incoming("resolved", fingerprint="a5"),
        ]
    )

    assert (result.opened, result.ignored) == (0, 5)
    assert result.reasons == (
        "alert a1: unknown bot 'ghost'",
        "alert a2: unknown environment 'qa'",
        "alert a3: nothing of mybot is live in prod",
        "alert a4: it has no `bot` and `env` labels",
        "alert a5: no open alert of mybot in staging has this fingerprint",
    )
    assert rig.alerts() == []
    assert rig.told() == []


# ── people ───────────────────────────────────────────────────────────────


def test_acknowledging_records_who_and_when_and_is_audited(rig: Rig) -> None:
    rig.service.intake.ingest_alertmanager([incoming()])
    [alert] = rig.alerts()

    acked = rig.service.acknowledgements.acknowledge(LEAD, alert.id or 0)
    again = rig.service.acknowledgements.acknowledge(Actor("ULEAD2"), alert.id or 0)

    assert acked.state is AlertState.ACKNOWLEDGED
    assert (acked.acked_by, acked.acked_at) == ("ULEAD1", rig.world.clock.now())
    assert again == acked
    assert rig.audit("ack_alert") == [("ULEAD1", "ack_alert", Outcome.OK)]
    assert rig.told()[-1] == acked
    assert len(rig.told()) == 2


def test_repeats_of_an_acknowledged_alert_count_without_telling(rig: Rig) -> None:
    rig.service.intake.ingest_alertmanager([incoming()])
    rig.service.acknowledgements.acknowledge(LEAD, rig.alerts()[0].id or 0)

    rig.service.intake.ingest_alertmanager([incoming()])

    [alert] = rig.alerts()
    assert (alert.state, alert.count) == (AlertState.ACKNOWLEDGED, 2)
    assert len(rig.told()) == 2


def test_acknowledging_an_unknown_or_resolved_alert_is_refused(rig: Rig) -> None:
    with pytest.raises(NotFound, match="no alert #99"):
        rig.service.acknowledgements.acknowledge(LEAD, 99)
    rig.service.intake.ingest_alertmanager([incoming()])
    rig.service.intake.ingest_alertmanager([incoming("resolved")])
    with pytest.raises(AlreadyDecided, match="resolved already"):
        rig.service.acknowledgements.acknowledge(LEAD, rig.alerts()[0].id or 0)
    assert rig.audit("ack_alert") == [("ULEAD1", "ack_alert", Outcome.REFUSED)] * 2


def test_the_view_offers_the_previous_release_while_the_alert_is_open(rig: Rig) -> None:
    rig.deploy("b" * 40)
    rig.service.intake.ingest_alertmanager([incoming()])
    [alert] = rig.alerts()

    view = rig.service.notices.view(alert)

    assert view.rollback_to == 1
    assert view.release is not None
    assert view.release.version == 2
    assert view.channel is None
    resolved = rig.service.alerts.resolve(LEAD, alert.id or 0)
    assert rig.service.notices.view(resolved).rollback_to is None


def test_every_alert_is_logged(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="chatops.services.alerts"):
        rig.service.intake.ingest_alertmanager([incoming()])
        rig.service.intake.ingest_alertmanager([incoming()])
        rig.service.intake.ingest_alertmanager([incoming("resolved")])
    said = [re.sub(r"#[0-9]+", "#N", r.getMessage()) for r in caplog.records]
    assert said == [
        "alert #N mybot in staging opened (alertmanager, seen 1 time(s)): mybot answers slowly",
        "alert #N mybot in staging repeated (alertmanager, seen 2 time(s)): mybot answers slowly",
        "alert #N mybot in staging resolved by alertmanager: mybot answers slowly",
    ]
