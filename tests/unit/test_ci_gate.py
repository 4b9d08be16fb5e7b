"""CI gates over fakes: the verdict on a commit's results, and the pipeline waiting on them."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatops.domain.catalog import Bot
from chatops.domain.ci import CiResult, CiState, evaluate
from chatops.domain.deployment import Deployment, State
from chatops.domain.verification import ChecksSpec
from chatops.errors import ForgeError, NotAllowed
from chatops.services.context import Actor
from tests.fakes import World, catalog

OK, WAIT, BAD = CiState.SUCCESS, CiState.PENDING, CiState.FAILURE
DEV = Actor("UDEV")
ADMIN = Actor("UADMIN")
SHA = "a" * 40
TEST_URL = "https://ci.example.com/runs/7"


# ── evaluate ─────────────────────────────────────────────────────────────────


def spec(*required: str, ignored: tuple[str, ...] = ()) -> ChecksSpec:
    return ChecksSpec(required=required or None, ignored=frozenset(ignored))


@pytest.mark.parametrize(
    ("checks", "results", "state", "waiting"),
    [
        (spec("test", "lint"), [("test", OK), ("lint", OK), ("docs", BAD)], OK, ()),
        (spec("test", "lint"), [("test", OK)], WAIT, ("lint (not reported yet)",)),
        (spec("test"), [("test", WAIT)], WAIT, ("test",)),
        (spec("test"), [("test", OK), ("test", BAD)], BAD, ()),  # the worst of both counts
        (spec("test"), [("test", WAIT), ("test", BAD)], BAD, ()),
        (spec(), [("test", OK), ("lint", WAIT)], WAIT, ("lint",)),  # all
        (spec(), [("test", OK), ("docs", BAD)], BAD, ()),
        (spec(ignored=("docs",)), [("test", OK), ("docs", BAD)], OK, ()),
        (spec(), [], WAIT, ("any CI result (none reported yet)",)),
        (spec("test", ignored=("test",)), [], OK, ()),
    ],
)
def test_evaluate(
    checks: ChecksSpec,
    results: list[tuple[str, CiState]],
    state: CiState,
    waiting: tuple[str, ...],
) -> None:
    verdict = evaluate(checks, [CiResult(n, s) for n, s in results])
    assert verdict.state is state
    assert verdict.waiting_for == waiting


def test_a_failure_names_and_links_the_check() -> None:
    verdict = evaluate(spec("test"), [CiResult("test", BAD, TEST_URL)])
    assert verdict.describe(SHA) == f"required CI checks failed on aaaaaaaa: test ({TEST_URL})"


names = st.sampled_from(["test", "lint", "docs", "e2e"])


@given(st.lists(st.tuples(names, st.sampled_from(list(CiState)))), st.sets(names, min_size=1))
def test_green_only_when_every_required_name_is_green_everywhere(
    results: list[tuple[str, CiState]], required: set[str]
) -> None:
    verdict = evaluate(spec(*sorted(required)), [CiResult(n, s) for n, s in results])
    green = all(any(n == r for n, _ in results) for r in required) and all(
        s is OK for n, s in results if n in required
    )
    assert (verdict.state is OK) is green
    if verdict.state is BAD:
        assert {r.name for r in verdict.failed} <= required


# ── the pipeline ─────────────────────────────────────────────────────────────


class FakeCi:
    """Answers a queue of result lists (the last one repeats); records every read."""

    def __init__(self, *answers: list[CiResult] | ForgeError) -> None:
        self.answers = list(answers)
        self.reads: list[tuple[str, str]] = []

    def results(self, bot: Bot, sha: str) -> list[CiResult]:
        self.reads.append((bot.name, sha))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, ForgeError):
            raise answer
        return answer


class Rig:
    def __init__(self, ci: FakeCi, *, where: str = "staging") -> None:
        checks = ChecksSpec(required=("test",), timeout=timedelta(minutes=5))
        the_catalog = catalog(**{where: {"checks": checks}})  # type: ignore[arg-type]
        bot = dataclasses.replace(the_catalog.bots["mybot"], github="acme/mybot")
        self.world = World(dataclasses.replace(the_catalog, bots={"mybot": bot}))
        self.ci = ci
        self.requests = self.world.services(ci=ci).requests

    def deploy(self, *, sha: str = SHA, force: str | None = None, by: Actor = DEV) -> Deployment:
        self.world.source.add_commit("mybot", "main", sha)
        return self.requests.deploy(by, "mybot", "staging", force_reason=force)

    def reasons(self, deployment_id: int) -> list[str | None]:
        seen: list[str | None] = []
        for view in self.world.notifier.views:
            if view.deployment.id == deployment_id and view.deployment.reason not in seen:
                seen.append(view.deployment.reason)
        return seen


def test_a_failed_required_check_refuses_before_anything_is_built() -> None:
    rig = Rig(FakeCi([CiResult("test", BAD, TEST_URL), CiResult("lint", OK)]))
    deployment = rig.deploy()
    assert deployment.state is State.FAILED
    assert deployment.reason == f"required CI checks failed on aaaaaaaa: test ({TEST_URL})"
    assert rig.world.builder.builds == []
    assert rig.ci.reads == [("mybot", SHA)]


def test_a_pending_check_waits_says_what_for_and_proceeds_when_green() -> None:
    rig = Rig(
        FakeCi([], [CiResult("test", WAIT)], [CiResult("test", WAIT)], [CiResult("test", OK)])
    )
    deployment = rig.deploy()
    assert deployment.state is State.LIVE
    assert len(rig.ci.reads) == 4
    assert rig.reasons(deployment.id or 0)[1:3] == [
        "waiting for CI checks on aaaaaaaa: test (not reported yet)",
        "waiting for CI checks on aaaaaaaa: test",
    ]
    assert deployment.reason is None  # the waiting note is gone once it went on


def test_pending_past_the_timeout_is_refused() -> None:
    rig = Rig(FakeCi([CiResult("test", WAIT)]))
    deployment = rig.deploy()
    assert deployment.state is State.FAILED
    assert deployment.reason == "gave up after 5m waiting for CI checks on aaaaaaaa: test"
    assert len(rig.ci.reads) == 31  # every 10 s for 5 minutes, and once more at the end


def test_a_forge_outage_waits_and_then_says_so() -> None:
    rig = Rig(FakeCi(ForgeError("GitHub is unreachable (GET …): connection refused")))
    deployment = rig.deploy()
    assert deployment.state is State.FAILED
    assert deployment.reason is not None
    assert "the forge cannot be read (GitHub is unreachable" in deployment.reason


def test_an_admin_forces_past_a_failed_check_and_it_is_audited() -> None:
    rig = Rig(FakeCi([CiResult("test", BAD, TEST_URL)]))
    with pytest.raises(NotAllowed, match="only admins may force"):
        rig.deploy(force="hotfix for the outage", by=DEV)
    forced = rig.deploy(sha="b" * 40, force="hotfix for the outage", by=ADMIN)
    assert forced.state is State.LIVE
    [event] = [e for e in rig.world.tables.audit if e.action == "checks_overridden"]
    assert event.actor == "UADMIN" and event.deployment_id == forced.id
    assert "hotfix for the outage" in event.detail


def test_promotions_into_an_environment_with_checks_are_gated_and_rollbacks_are_not() -> None:
    rig = Rig(FakeCi([CiResult("test", OK)]), where="prod")
    live = rig.requests.deploy(DEV, "mybot", "staging") if False else None
    assert live is None
    rig.world.source.add_commit("mybot", "main", SHA)
    rig.requests.deploy(DEV, "mybot", "staging")
    assert rig.ci.reads == []  # staging has no checks
    rig.world.clock.advance(minutes=11)
    rig.world.notifier.views.clear()
    pending = rig.requests.promote(Actor("ULEAD1"), "mybot", "prod")
    promoted = rig.requests.approve(Actor("ULEAD2"), pending.id or 0)
    assert promoted.state is State.LIVE
    assert rig.ci.reads == [("mybot", SHA)]
