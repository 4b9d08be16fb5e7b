"""The monitor over fakes: health checks, incidents, auto-rollback, soak notices, reconcile."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta

import pytest

from chatops.bootstrap.monitoring import Monitoring
from chatops.domain.alerts import Alert, AlertState
from chatops.domain.audit import Outcome
from chatops.domain.deployment import Deployment, Kind, State
from chatops.domain.health import Health, Observation
from chatops.errors import NotFound, RuntimeFailure
from chatops.services.context import Actor, NullMetrics
from chatops.services.health_checks import CheckResult
from chatops.services.launchers import InlineLauncher
from chatops.services.pipeline import Pipeline
from chatops.services.requests import Requests
from tests.fakes import Container, FakeRuntime, World, catalog

WITHHELD = "(withheld: the secrets to mask in it could not be read)"

DEV = Actor("UDEV")
LEAD = Actor("ULEAD1", "slack")
KEY = ("mybot", "staging")


class RecordingMetrics(NullMetrics):
    def __init__(self) -> None:
        self.checks: list[tuple[str, str]] = []
        self.firing: list[tuple[str, str, int]] = []

    def health_check(self, bot: str, env: str, *, seconds: float) -> None:
        self.checks.append((bot, env))

    def alerts_firing(self, bot: str, env: str, count: int) -> None:
        self.firing.append((bot, env, count))


class ManagedRuntime(FakeRuntime):
    """A runtime that also lists what it runs for chatops, like the Docker one."""

    def __init__(self) -> None:
        super().__init__()
        self.strays: list[tuple[str, str, str | None, bool]] = []

    def list_managed(self) -> Iterable[tuple[str, str, str | None, bool]]:
        mine = [(b, e, f"v{c.spec.version}", c.running) for (b, e), c in self.current.items()]
        return mine + self.strays


@dataclass
class Rig:
    world: World
    pipeline: Pipeline
    requests: Requests
    monitor: Monitoring
    metrics: RecordingMetrics
    launched: list[int] = field(default_factory=list)

    def deploy(self, sha: str) -> Deployment:
        self.world.source.add_commit("mybot", "main", sha)
        return self.requests.deploy(DEV, "mybot", "staging")

    @property
    def container(self) -> Container:
        return self.world.runtime.current[KEY]

    def check(self, times: int = 1) -> list[CheckResult]:
        results: list[CheckResult] = []
        for _ in range(times):
            self.world.clock.advance(seconds=30)
            results = self.monitor.health.check_environment("staging")
        return results

    def alerts(self) -> list[Alert]:
        return sorted(self.world.tables.alerts.values(), key=lambda a: a.id or 0)

    def told(self) -> list[Alert]:
        return [view.alert for view in self.world.notifier.alerts]

    def audit(self, action: str) -> list[tuple[str, str, Outcome]]:
        return [
            (e.actor, e.action, e.outcome) for e in self.world.tables.audit if e.action == action
        ]


def make_rig(
    world: World | None = None, *, launch: Callable[[Rig, int], None] | None = None
) -> Rig:
    world = world or World(catalog())
    world.secrets.values = {"API_TOKEN": "s3cret-token"}
    metrics = RecordingMetrics()
    holder: list[Rig] = []

    def launcher(execute: Callable[[int], object]) -> InlineLauncher:
        def run(deployment_id: int) -> None:
            if launch is None:
                execute(deployment_id)
            else:
                launch(holder[0], deployment_id)

        return InlineLauncher(run)

    services = world.services(launching=launcher, metrics=metrics)
    rig = Rig(world, services.pipeline, services.requests, services.monitoring, metrics)
    holder.append(rig)
    return rig


def auto_rollback_world(**staging: object) -> World:
    return World(catalog(staging={"auto_rollback": True, **staging}))


@pytest.fixture
def rig() -> Rig:
    rig = make_rig()
    rig.deploy("a" * 40)
    return rig


# ── health checks ────────────────────────────────────────────────────────


def test_a_healthy_deployment_opens_no_alert(rig: Rig) -> None:
    [result] = rig.check(3)

    assert result.passed
    assert (result.bot, result.env, result.deployment_id) == ("mybot", "staging", 1)
    assert rig.alerts() == []
    assert rig.told() == []
    assert rig.metrics.checks == [KEY] * 3


def test_one_failing_check_below_the_threshold_opens_none(rig: Rig) -> None:
    rig.container.health = Health.UNHEALTHY

    [result] = rig.check()

    assert result.verdict is not None
    assert result.verdict.failures_in_a_row == 1
    assert result.problem == "its health check fails"
    assert result.alert is None
    assert rig.alerts() == []
    # no alert yet, but the soak starts over: healthy means healthy without a break
    assert rig.world.tables.deployments[1].healthy_since is None
    rig.container.health = Health.HEALTHY
    rig.check()
    assert rig.world.tables.deployments[1].healthy_since == rig.world.clock.now()


def test_threshold_failures_open_one_alert_and_tell_the_channel_once(rig: Rig) -> None:
    rig.container.health = Health.UNHEALTHY

    [result] = rig.check(2)

    [alert] = rig.alerts()
    assert result.alert == alert
    assert alert.state is AlertState.FIRING
    assert (alert.source, alert.fingerprint) == ("chatops", "chatops:mybot:staging:1")
    assert alert.summary == "mybot v1 in staging is unhealthy: its health check fails"
    assert "health: unhealthy" in alert.detail
    assert (alert.deployment_id, alert.version, alert.count) == (1, 1, 1)
    [view] = rig.world.notifier.alerts
    assert view.alert == alert
    assert view.deployed_by == "UDEV"
    assert view.release is not None
    assert view.release.version == 1
    assert view.rollback_to is None  # nothing earlier to go back to
    assert rig.world.tables.deployments[1].healthy_since is None
    assert rig.audit("alert") == [("chatops", "alert", Outcome.FAILED)]
    assert rig.metrics.firing == [("mybot", "staging", 1)]


def test_more_failures_update_the_same_alert(rig: Rig) -> None:
    rig.container.health = Health.UNHEALTHY
    rig.check(2)
    first_seen = rig.world.clock.now()

    rig.check(3)

    [alert] = rig.alerts()
    assert alert.count == 4
    assert alert.first_seen == first_seen
    assert alert.last_seen == rig.world.clock.now()
    assert [a.count for a in rig.told()] == [1, 2, 3, 4]
    assert {a.id for a in rig.told()} == {alert.id}
    assert len(rig.audit("alert")) == 1


def test_recovery_resolves_the_alert_and_restarts_the_soak(rig: Rig) -> None:
    rig.container.health = Health.UNHEALTHY
    rig.check(2)
    rig.container.health = Health.HEALTHY

    [result] = rig.check()

    [alert] = rig.alerts()
    assert result.alert == alert
    assert alert.state is AlertState.RESOLVED
    assert alert.resolved_at == rig.world.clock.now()
    assert rig.told()[-1] == alert
    assert rig.world.tables.deployments[1].healthy_since == rig.world.clock.now()
    assert rig.audit("alert_resolved") == [("chatops", "alert_resolved", Outcome.OK)]
    assert rig.metrics.firing == [("mybot", "staging", 1), ("mybot", "staging", 0)]

    rig.container.health = Health.UNHEALTHY
    rig.check(2)
    assert [a.state for a in rig.alerts()] == [AlertState.RESOLVED, AlertState.FIRING]


def test_an_acknowledged_alert_counts_repeats_without_telling_the_channel(rig: Rig) -> None:
    rig.container.health = Health.UNHEALTHY
    rig.check(2)
    [alert] = rig.alerts()
    rig.monitor.acknowledgements.acknowledge(LEAD, alert.id or 0)
    told = len(rig.told())

    rig.check(3)

    [alert] = rig.alerts()
    assert alert.state is AlertState.ACKNOWLEDGED
    assert alert.count == 4
    assert len(rig.told()) == told


def test_a_killed_container_is_a_failure(rig: Rig) -> None:
    rig.container.running = False

    [first] = rig.check()
    [second] = rig.check()

    assert first.problem == "the container is not running"
    assert second.alert is not None
    assert second.alert.summary.endswith("is unhealthy: the container is not running")
    assert "not running" in second.alert.detail


def test_a_restart_counts_as_a_failure(rig: Rig) -> None:
    rig.check()
    rig.container.restarts += 1

    [restarted] = rig.check()

    assert restarted.verdict is not None
    assert restarted.verdict.restarted
    assert restarted.problem == "the runtime restarted it (1 restarts so far)"
    assert rig.alerts() == []

    rig.container.restarts += 1
    [again] = rig.check()
    assert again.alert is not None
    assert "restarted it (2 restarts" in again.alert.summary

    [steady] = rig.check()
    assert steady.passed
    assert [a.state for a in rig.alerts()] == [AlertState.RESOLVED]


def test_a_missing_container_is_an_alert(rig: Rig) -> None:
    del rig.world.runtime.current[KEY]

    [result] = rig.check(2)

    assert result.alert is not None
    assert result.alert.summary == "mybot v1 in staging is unhealthy: the container is gone"


def test_a_wrong_release_is_an_alert(rig: Rig) -> None:
    rig.deploy("b" * 40)
    rig.container.spec = dataclasses.replace(rig.container.spec, version=1)

    [result] = rig.check(2)

    assert result.alert is not None
    assert result.alert.summary.endswith("runs v1 but chatops deployed v2")
    assert rig.world.notifier.alerts[-1].rollback_to == 1


def test_an_unreachable_runtime_skips_the_check_without_counting_it(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(bot: str, env: str, handle: str | None = None) -> Observation:
        raise RuntimeFailure("the engine is down")

    monkeypatch.setattr(rig.world.runtime, "observe", down)

    [result] = rig.check(3)

    assert "the engine is down" in result.skipped
    assert rig.alerts() == []
    assert rig.metrics.checks == [KEY] * 3


def test_check_all_covers_every_environment_and_unknown_ones_are_refused(rig: Rig) -> None:
    assert [(r.bot, r.env) for r in rig.monitor.health.check_all()] == [KEY]
    with pytest.raises(NotFound):
        rig.monitor.health.check_environment("qa")


# ── auto-rollback ────────────────────────────────────────────────────────


def test_auto_rollback_within_the_window_goes_back_to_the_previous_release_once() -> None:
    rig = make_rig(auto_rollback_world())
    rig.deploy("a" * 40)
    rig.deploy("b" * 40)
    rig.container.health = Health.UNHEALTHY

    [result] = rig.check(2)

    rollback = result.rollback
    assert rollback is not None
    assert (rollback.kind, rollback.state, rollback.version) == (Kind.AUTO_ROLLBACK, State.LIVE, 1)
    assert rollback.requested_by == "chatops"
    assert "v2 went unhealthy 1m after going live: its health check fails" in (
        rollback.reason or ""
    )
    assert rig.world.runtime.version(*KEY) == 1
    [alert] = rig.alerts()
    assert alert.action_taken == "rolled back automatically to v1"
    assert rig.told()[-1].action_taken == "rolled back automatically to v1"
    assert rig.world.tables.deployments[2].rolled_back

    rig.check(3)

    rollbacks = [d for d in rig.world.tables.deployments.values() if d.kind is Kind.AUTO_ROLLBACK]
    assert len(rollbacks) == 1
    [alert] = rig.alerts()
    assert alert.state is AlertState.RESOLVED  # v2 no longer runs


def test_an_auto_rollback_still_running_on_a_worker_is_not_started_twice() -> None:
    def later(rig: Rig, deployment_id: int) -> None:
        if rig.world.tables.deployments[deployment_id].kind is Kind.AUTO_ROLLBACK:
            rig.launched.append(deployment_id)  # a worker thread will run it
        else:
            rig.pipeline.execute(deployment_id)

    rig = make_rig(auto_rollback_world(), launch=later)
    rig.deploy("a" * 40)
    rig.deploy("b" * 40)
    rig.container.health = Health.UNHEALTHY

    rig.check(2)
    [pending] = rig.check(3)

    assert pending.skipped == "a deployment is in progress"
    [rollback_id] = rig.launched
    [alert] = rig.alerts()
    assert alert.action_taken == f"rolling back automatically to v1 (deployment #{rollback_id})"

    rig.pipeline.execute(rollback_id)
    rig.check()
    assert rig.world.runtime.version(*KEY) == 1
    assert rig.launched == [rollback_id]


def test_no_auto_rollback_outside_the_window_but_an_alert() -> None:
    rig = make_rig(auto_rollback_world())
    rig.deploy("a" * 40)
    rig.deploy("b" * 40)
    rig.world.clock.advance(minutes=11)
    rig.container.health = Health.UNHEALTHY

    [result] = rig.check(2)

    assert result.rollback is None
    assert result.alert is not None
    assert result.alert.action_taken == ""
    assert rig.world.runtime.version(*KEY) == 2
    assert rig.world.notifier.alerts[-1].rollback_to == 1


def test_an_auto_rollback_with_nothing_to_go_back_to_is_reported_on_the_alert() -> None:
    rig = make_rig(auto_rollback_world())
    rig.deploy("a" * 40)
    rig.container.health = Health.UNHEALTHY

    [result] = rig.check(2)

    assert result.rollback is None
    [alert] = rig.alerts()
    assert alert.action_taken.startswith(
        "automatic rollback refused: mybot has no earlier healthy release in staging"
    )
    assert rig.told()[-1].action_taken == alert.action_taken
    assert rig.audit("auto_rollback") == [("chatops", "auto_rollback", Outcome.REFUSED)]


# ── soak ─────────────────────────────────────────────────────────────────


def test_the_soak_notice_is_posted_once(rig: Rig) -> None:
    rig.world.clock.advance(minutes=9)
    assert rig.monitor.soak.notify_soaked() == []

    rig.world.clock.advance(minutes=1)
    [soaked] = rig.monitor.soak.notify_soaked()
    rig.world.clock.advance(minutes=5)
    again = rig.monitor.soak.notify_soaked()

    assert soaked.id == 1
    assert again == []
    [notice] = rig.world.notifier.soaked
    assert (notice.deployment.id, notice.promote_to) == (1, "prod")
    assert rig.world.tables.deployments[1].soak_noticed_at == rig.world.clock.now() - timedelta(
        minutes=5
    )


def test_an_incident_restarts_the_soak(rig: Rig) -> None:
    rig.container.health = Health.UNHEALTHY
    rig.check(2)
    rig.world.clock.advance(minutes=20)
    assert rig.monitor.soak.notify_soaked() == []

    rig.container.health = Health.HEALTHY
    rig.check()
    rig.world.clock.advance(minutes=9)
    assert rig.monitor.soak.notify_soaked() == []
    rig.world.clock.advance(minutes=1)
    assert len(rig.monitor.soak.notify_soaked()) == 1


# ── reconcile ────────────────────────────────────────────────────────────


def test_reconcile_alerts_on_a_missing_container_and_resolves_when_it_is_back(rig: Rig) -> None:
    container = rig.world.runtime.current.pop(KEY)

    [alert] = rig.monitor.reconciler.reconcile()
    [again] = rig.monitor.reconciler.reconcile()

    assert alert.fingerprint == "chatops:reconcile:mybot:staging:1"
    assert alert.summary == "mybot v1 in staging is unhealthy: the container is gone"
    assert (again.id, again.count) == (alert.id, 2)

    rig.world.runtime.current[KEY] = container
    [resolved] = rig.monitor.reconciler.reconcile()
    assert resolved.state is AlertState.RESOLVED
    assert rig.monitor.reconciler.reconcile() == []


def test_reconcile_alerts_on_another_release(rig: Rig) -> None:
    rig.container.spec = dataclasses.replace(rig.container.spec, version=7)

    [alert] = rig.monitor.reconciler.reconcile()

    assert alert.summary.endswith("runs v7 but chatops deployed v1")


def test_reconcile_leaves_what_the_health_check_reported_alone(rig: Rig) -> None:
    del rig.world.runtime.current[KEY]
    rig.check(2)

    assert rig.monitor.reconciler.reconcile() == []
    assert len(rig.alerts()) == 1


@pytest.mark.parametrize(
    ("instance", "unit"), [(None, "otherbot-staging"), ("blue", "blue-otherbot-staging")]
)
def test_reconcile_logs_containers_chatops_has_no_deployment_for(
    caplog: pytest.LogCaptureFixture, instance: str | None, unit: str
) -> None:
    world = World(replace(catalog(), instance=instance), runtime=ManagedRuntime())
    rig = make_rig(world)
    rig.deploy("a" * 40)
    world.runtime.strays.append(("otherbot", "staging", "v4", True))  # type: ignore[attr-defined]

    with caplog.at_level(logging.WARNING, logger="chatops.services.reconcile"):
        assert rig.monitor.reconciler.reconcile() == []

    [record] = caplog.records
    assert record.getMessage().startswith(f"{unit} (v4, running) carries chatops' labels")
    assert rig.alerts() == []


def test_an_alert_withholds_what_it_cannot_mask(rig: Rig) -> None:
    rig.world.secrets.unreadable = True
    rig.container.health = Health.UNHEALTHY

    rig.check(2)

    [alert] = rig.alerts()
    assert alert.summary == "mybot v1 in staging is unhealthy: " + WITHHELD
    assert alert.detail == WITHHELD
