"""The verifier over fakes: measurements recorded, promotion gated, incidents and auto-rollback."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from chatops.domain.alerts import AlertState
from chatops.domain.deployment import Deployment, State
from chatops.domain.verification import (
    CheckSpec,
    NoData,
    Outcome,
    RunState,
    Verdict,
    VerifySpec,
)
from chatops.entrypoints.output import release_json, status_json
from chatops.entrypoints.render.actions import alert_actions
from chatops.entrypoints.render.deployments import deployment as render_deployment
from chatops.entrypoints.render.document import Note
from chatops.entrypoints.terminal import TERMINAL
from chatops.errors import NotAllowed, NotPromotable
from chatops.services.context import Actor
from chatops.services.verification import VerifyResult
from chatops.services.views import AlertView
from tests.fakes import World, catalog

DEV = Actor("UDEV")
LEAD = Actor("ULEAD1", "slack")
ERRORS = CheckSpec("error rate", 'sum(rate(errors{job="{bot}-{env}",v="{version}"}[1m]))', max=0.01)
SPEC = VerifySpec("http://prometheus.test", (ERRORS,), interval=timedelta(seconds=30))


class FakeQuery:
    """Answers what the test sets; records every query."""

    def __init__(self) -> None:
        self.answer = Outcome(0.0)
        self.asked: list[tuple[str, str, float]] = []

    def query(self, prometheus: str, query: str, *, timeout: float) -> Outcome:
        self.asked.append((prometheus, query, timeout))
        return self.answer


class Rig:
    def __init__(self, *, spec: VerifySpec = SPEC, **staging: object) -> None:
        self.world = World(catalog(staging={"verify": spec, **staging}))
        self.prometheus = FakeQuery()
        self.services = services = self.world.services(metric_query=self.prometheus)
        self.requests = services.requests
        self.verifier = services.verifier

    def deploy(self, sha: str) -> Deployment:
        self.world.source.add_commit("mybot", "main", sha)
        return self.requests.deploy(DEV, "mybot", "staging")

    def rounds(self, times: int, *, every: float = 30) -> list[VerifyResult]:
        results: list[VerifyResult] = []
        for _ in range(times):
            self.world.clock.advance(seconds=every)
            results = self.verifier.verify_environment("staging")
        return results


def test_a_clean_release_is_measured_and_promotable_once_the_soak_is_over() -> None:
    rig = Rig()
    live = rig.deploy("a" * 40)
    assert live.state is State.LIVE
    [result] = rig.rounds(1)
    assert result.assessment is not None and result.assessment.state is RunState.RUNNING
    assert rig.prometheus.asked == [
        ("http://prometheus.test", 'sum(rate(errors{job="mybot-staging",v="v1"}[1m]))', 10.0)
    ]
    with pytest.raises(NotPromotable, match="prod needs 10m of soak"):
        rig.requests.promote(LEAD, "mybot", "prod")
    # the soak time is over, but nothing measured it since: not yet
    rig.world.clock.advance(seconds=600 - 30)
    with pytest.raises(NotPromotable, match=r"still being verified in staging \(1 measurements"):
        rig.requests.promote(LEAD, "mybot", "prod")
    # the first measurement after prod's 10-minute soak passes it
    [result] = rig.rounds(1, every=10)
    assert result.assessment is not None and result.assessment.state is RunState.PASSED
    assert [m.verdict for m in rig.world.tables.measurements] == [Verdict.PASS] * 2
    assert {m.deployment_id for m in rig.world.tables.measurements} == {live.id}
    promotion = rig.requests.promote(LEAD, "mybot", "prod")
    assert promotion.state is State.PENDING_APPROVAL


def test_a_healthy_release_whose_error_metric_breaks_the_bound_is_never_promotable() -> None:
    rig = Rig()
    rig.deploy("a" * 40)
    rig.prometheus.answer = Outcome(0.5)
    [result] = rig.rounds(1)
    assert result.assessment is not None and result.assessment.state is RunState.FAILED
    assert result.alert is not None
    assert result.alert.summary == (
        "mybot v1 in staging failed verification: "
        "error rate failed 1 time(s): 0.5 is above the maximum 0.01"
    )
    assert result.rollback is None  # auto_rollback is off here
    [told] = rig.world.notifier.alerts
    assert told.alert.id == result.alert.id
    rig.prometheus.answer = Outcome(0.0)
    [again] = rig.rounds(30)  # a failed run stays failed, and is no longer queried
    assert again.skipped == "failed"
    assert len(rig.prometheus.asked) == 1
    with pytest.raises(NotPromotable, match="failed verification"):
        rig.requests.promote(LEAD, "mybot", "prod")


def test_a_failed_verification_rolls_back_where_enabled() -> None:
    rig = Rig(auto_rollback=True)
    good = rig.deploy("a" * 40)
    rig.rounds(1)
    bad = rig.deploy("b" * 40)
    assert bad.version == 2
    rig.prometheus.answer = Outcome(3.0)
    [result] = rig.rounds(1)
    assert result.rollback is not None
    assert result.rollback.state is State.LIVE and result.rollback.version == good.version
    assert result.alert is not None
    assert result.alert.action_taken == "rolled back automatically to v1"
    stored = rig.world.tables.alerts[result.alert.id or 0]
    assert stored.state is AlertState.FIRING


def test_prometheus_down_is_inconclusive_never_a_rollback() -> None:
    rig = Rig(auto_rollback=True)
    rig.deploy("a" * 40)
    rig.prometheus.answer = Outcome(error="Prometheus at http://prometheus.test is unreachable")
    [result] = rig.rounds(1)
    assert result.assessment is not None and result.assessment.state is RunState.INCONCLUSIVE
    assert result.rollback is None
    assert result.alert is not None and "inconclusive" in result.alert.summary
    assert rig.world.tables.measurements[0].detail.startswith("could not be measured")
    rig.world.clock.advance(minutes=20)
    with pytest.raises(NotPromotable, match="inconclusive"):
        rig.requests.promote(LEAD, "mybot", "prod")


def test_no_data_counts_as_configured() -> None:
    lenient = VerifySpec("http://p", (dataclasses.replace(ERRORS, on_no_data=NoData.PASS),))
    rig = Rig(spec=lenient)
    rig.deploy("a" * 40)
    rig.prometheus.answer = Outcome()
    [result] = rig.rounds(21)
    assert result.assessment is not None and result.assessment.state is RunState.PASSED


def test_a_same_version_redeploy_continues_the_run() -> None:
    rig = Rig()
    first = rig.deploy("a" * 40)
    rig.rounds(15)  # 7.5 minutes of clean measurements
    again = rig.deploy("a" * 40)  # the same commit: the same release, redeployed
    assert again.version == first.version and again.id != first.id
    [result] = rig.rounds(6)  # 3 more minutes: 10.5 in all, past prod's 10-minute soak
    assert result.assessment is not None and result.assessment.state is RunState.PASSED
    assert result.assessment.measured == 21


def test_measuring_stops_once_promoted() -> None:
    rig = Rig()
    rig.deploy("a" * 40)
    rig.rounds(21)
    promotion = rig.requests.promote(LEAD, "mybot", "prod")
    rig.requests.approve(Actor("ULEAD2", "slack"), promotion.id or 0)
    asked = len(rig.prometheus.asked)
    [result] = rig.rounds(1)
    assert result.skipped == "promoted"
    assert len(rig.prometheus.asked) == asked


def test_the_soak_notice_waits_for_verification_to_pass_and_is_sent_once() -> None:
    rig = Rig()
    soak = rig.services.monitoring.soak
    rig.deploy("a" * 40)
    rig.rounds(1)
    rig.world.clock.advance(seconds=600)  # prod's soak time is over, unmeasured since
    assert soak.notify_soaked() == []
    assert rig.world.notifier.soaked == []

    [result] = rig.rounds(1)  # the first measurement after the soak: passed
    assert result.assessment is not None and result.assessment.state is RunState.PASSED
    [noticed] = soak.notify_soaked()
    rig.rounds(2)
    assert soak.notify_soaked() == []
    [notice] = rig.world.notifier.soaked
    assert (noticed.id, notice.deployment.id, notice.promote_to) == (1, 1, "prod")


@pytest.mark.parametrize("answer", [Outcome(0.5), Outcome(error="connection refused", down=True)])
def test_no_soak_notice_for_a_failed_or_inconclusive_verification(answer: Outcome) -> None:
    rig = Rig()
    soak = rig.services.monitoring.soak
    rig.deploy("a" * 40)
    rig.prometheus.answer = answer
    rig.rounds(25)  # 12.5 minutes: past prod's soak
    assert soak.notify_soaked() == []
    assert rig.world.notifier.soaked == []
    assert rig.world.tables.deployments[1].soak_noticed_at is None


def test_environments_without_verify_are_not_measured() -> None:
    world = World(catalog())
    query = FakeQuery()
    services = world.services(metric_query=query)
    requests = services.requests
    verifier = services.verifier
    world.source.add_commit("mybot", "main", "a" * 40)
    requests.deploy(DEV, "mybot", "staging")
    assert verifier.verify_all() == []
    assert query.asked == []


def test_where_verification_stands_is_shown_on_the_message_in_status_and_releases() -> None:
    rig = Rig()
    live = rig.deploy("a" * 40)
    rig.rounds(21)
    # the message is updated when the state changes (running, then passed), not every round
    shown = [
        v.verification.state
        for v in rig.world.notifier.views
        if v.deployment.id == live.id and v.verification is not None
    ]
    assert shown == [RunState.RUNNING, RunState.PASSED]
    document = render_deployment(rig.world.notifier.views[-1], TERMINAL)
    notes = [p.markup for p in document.parts if isinstance(p, Note)]
    assert "✅ verification passed (20 measurements)" in notes  # when it passed
    queries = rig.services.queries
    [row] = [r for r in queries.status("mybot", probe=False) if r.env == "staging"]
    assert status_json(row)["verification"] == {
        "state": "passed",
        "measurements": 21,
        "failures": {"error rate": 0},
        "reason": "",
    }
    [release] = queries.releases("mybot")
    assert release_json(release)["verification"]["staging"]["state"] == "passed"


def test_an_approver_promotes_past_an_inconclusive_verification_and_nobody_else_can() -> None:
    rig = Rig()
    live = rig.deploy("a" * 40)
    rig.prometheus.answer = Outcome(error="Prometheus at http://prometheus.test is unreachable")
    [result] = rig.rounds(1)
    assert result.alert is not None
    buttons = {a.action_id: a.value for a in alert_actions(AlertView(result.alert, None))}
    assert buttons["promote_anyway"] == str(live.id)
    rig.world.clock.advance(minutes=11)
    with pytest.raises(NotAllowed, match="only approvers of prod"):
        rig.requests.promote_deployment(DEV, live.id or 0, anyway=True)
    pending = rig.requests.promote_deployment(LEAD, live.id or 0, anyway=True)
    assert pending.state is State.PENDING_APPROVAL
    assert pending.verification_override == "ULEAD1"
    # the approval is judged the same way: the inconclusive verification was decided
    approved = rig.requests.approve(Actor("ULEAD2", "slack"), pending.id or 0)
    assert approved.state is State.LIVE
    [asked] = [e for e in rig.world.tables.audit if e.deployment_id == pending.id][:1]
    assert (asked.actor, asked.action) == ("ULEAD1", "promote")
    assert "promoted past an inconclusive verification" in asked.detail


def test_promote_anyway_never_passes_a_failed_verification() -> None:
    rig = Rig()
    live = rig.deploy("a" * 40)
    rig.prometheus.answer = Outcome(1.0)
    rig.rounds(1)
    rig.world.clock.advance(minutes=11)
    with pytest.raises(NotPromotable, match="no inconclusive verification to decide"):
        rig.requests.promote_deployment(LEAD, live.id or 0, anyway=True)


def test_old_measurements_of_ended_deployments_are_pruned_and_a_live_run_keeps_all() -> None:
    rig = Rig()
    first = rig.deploy("a" * 40)
    rig.rounds(3)
    second = rig.deploy("b" * 40)  # the first is superseded
    rig.rounds(2)
    rig.world.clock.advance(days=31)
    assert rig.verifier.prune() == 3
    left = {m.deployment_id for m in rig.world.tables.measurements}
    assert left == {second.id} and first.id not in left


def test_a_prometheus_that_does_not_answer_is_asked_once_a_round_not_once_per_check() -> None:
    two = VerifySpec("http://p", (ERRORS, dataclasses.replace(ERRORS, name="latency")))
    rig = Rig(spec=two)
    rig.deploy("a" * 40)
    rig.prometheus.answer = Outcome(error="no answer from Prometheus within 10s", down=True)
    [result] = rig.rounds(1)
    assert len(rig.prometheus.asked) == 1
    assert [m.verdict for m in result.measurements] == [Verdict.INCONCLUSIVE] * 2
    assert all("within 10s" in m.detail for m in result.measurements)
