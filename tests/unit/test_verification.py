"""Metric verification (DESIGN §10): verdicts, a run's state, the soak, and the config."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatops.config import load_settings, read_config_file
from chatops.domain.verification import (
    CheckSpec,
    Measurement,
    NoData,
    Outcome,
    RunState,
    Verdict,
    VerifySpec,
    assess,
    fill_query,
    judge,
    merge_tallies,
    tally,
)
from chatops.errors import ConfigError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ERRORS = CheckSpec("error rate", "sum(rate(errors[1m]))", max=0.01)
LATENCY = CheckSpec("latency", "p99", min=0.0, max=0.5, failure_limit=1)
SPEC = VerifySpec("http://127.0.0.1:9090", (ERRORS, LATENCY))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# ── judge ───────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("check", "outcome", "verdict"),
    [
        (ERRORS, Outcome(0.0), Verdict.PASS),
        (ERRORS, Outcome(0.01), Verdict.PASS),  # the bound itself holds
        (ERRORS, Outcome(0.0100001), Verdict.FAIL),
        (ERRORS, Outcome(math.inf), Verdict.FAIL),
        (CheckSpec("up", "up", min=1), Outcome(0.0), Verdict.FAIL),
        (CheckSpec("up", "up", min=1), Outcome(-math.inf), Verdict.FAIL),
        (CheckSpec("up", "up", min=1), Outcome(1.0), Verdict.PASS),
        (ERRORS, Outcome(None), Verdict.FAIL),  # on_no_data defaults to fail
        (ERRORS, Outcome(math.nan), Verdict.FAIL),  # NaN is no data
        (CheckSpec("x", "q", max=1, on_no_data=NoData.PASS), Outcome(None), Verdict.PASS),
        (
            CheckSpec("x", "q", max=1, on_no_data=NoData.INCONCLUSIVE),
            Outcome(None),
            Verdict.INCONCLUSIVE,
        ),
        (ERRORS, Outcome(error="connection refused"), Verdict.INCONCLUSIVE),  # on_error default
        (CheckSpec("x", "q", max=1, on_error=NoData.FAIL), Outcome(error="500"), Verdict.FAIL),
    ],
)
def test_judge(check: CheckSpec, outcome: Outcome, verdict: Verdict) -> None:
    measured = judge(check, outcome, at=T0)
    assert measured.verdict is verdict
    assert measured.check == check.name
    assert bool(measured.detail) is (verdict is not Verdict.PASS or outcome.value is None)


def test_judge_says_why() -> None:
    assert judge(ERRORS, Outcome(0.5), at=T0).detail == "0.5 is above the maximum 0.01"
    assert "below the minimum 1" in judge(CheckSpec("u", "u", min=1), Outcome(0), at=T0).detail
    assert "connection refused" in judge(ERRORS, Outcome(error="connection refused"), at=T0).detail


@given(
    value=st.floats(allow_nan=False),
    low=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    high=st.none() | st.floats(allow_nan=False, allow_infinity=False),
)
def test_a_value_passes_exactly_when_it_is_within_the_bounds(
    value: float, low: float | None, high: float | None
) -> None:
    check = CheckSpec("c", "q", min=low, max=high)
    inside = (low is None or value >= low) and (high is None or value <= high)
    assert (judge(check, Outcome(value), at=T0).verdict is Verdict.PASS) is inside


# ── assess ──────────────────────────────────────────────────────────────────


def passing(check: CheckSpec, seconds: float) -> Measurement:
    return Measurement(check.name, Verdict.PASS, at(seconds), 0.0)


def run(measurements: list[Measurement], *, now: float, soak: float = 60) -> RunState:
    return assess(
        SPEC, measurements, live_since=T0, soak=timedelta(seconds=soak), now=at(now)
    ).state


def test_clean_run_passes_at_the_first_measurement_after_the_soak() -> None:
    clean = [passing(c, s) for s in (0, 30) for c in SPEC.checks]
    assert run(clean, now=59) is RunState.RUNNING
    assert run(clean, now=60) is RunState.RUNNING  # nothing measured the end of the soak yet
    assert run([*clean, *(passing(c, 60) for c in SPEC.checks)], now=60) is RunState.PASSED


def test_every_check_must_be_measured_after_the_soak_before_it_passes() -> None:
    assert run([passing(ERRORS, 0), passing(LATENCY, 0)], now=600) is RunState.RUNNING
    assert run([passing(ERRORS, 600), passing(LATENCY, 0)], now=600) is RunState.RUNNING
    assert run([], now=600, soak=0) is RunState.RUNNING


def test_a_failure_beyond_the_limit_fails_the_run_at_once() -> None:
    fail = judge(ERRORS, Outcome(0.5), at=at(10))
    result = assess(SPEC, [fail], live_since=T0, soak=timedelta(seconds=60), now=at(10))
    assert result.state is RunState.FAILED
    assert result.reason == "error rate failed 1 time(s): 0.5 is above the maximum 0.01"
    assert result.failures == {"error rate": 1, "latency": 0}


def test_failure_limit_tolerates_that_many() -> None:
    bad = judge(LATENCY, Outcome(2.0), at=at(5))
    good = [passing(c, s) for s in (0, 60) for c in SPEC.checks]
    assert run([*good, bad], now=60) is RunState.PASSED
    worse = judge(LATENCY, Outcome(3.0), at=at(40))
    assert run([*good, bad, worse], now=60) is RunState.FAILED


def test_inconclusive_asks_a_person_and_failed_outranks_it() -> None:
    unsure = judge(ERRORS, Outcome(error="timed out"), at=at(5))
    good = [passing(c, 0) for c in SPEC.checks]
    assert run([*good, unsure], now=600) is RunState.INCONCLUSIVE
    fail = judge(ERRORS, Outcome(1.0), at=at(6))
    assert run([*good, unsure, fail], now=600) is RunState.FAILED


def test_measurements_of_checks_no_longer_configured_are_left_out() -> None:
    gone = Measurement("old", Verdict.FAIL, at(1), 9.0, "bad")
    good = [passing(c, 60) for c in SPEC.checks]
    assert run([*good, gone], now=60) is RunState.PASSED


verdicts = st.sampled_from(list(Verdict))


@given(
    st.lists(st.tuples(st.sampled_from(SPEC.checks), verdicts, st.floats(0, 1000)), max_size=30),
    st.floats(0, 2000),
)
def test_passed_only_after_the_soak_and_only_if_everything_held(
    raw: list[tuple[CheckSpec, Verdict, float]], now: float
) -> None:
    measurements = [Measurement(c.name, v, at(s)) for c, v, s in raw]
    state = run(measurements, now=now, soak=300)
    failures = {
        c.name: sum(1 for m in raw if m[0] == c and m[1] is Verdict.FAIL) for c in SPEC.checks
    }
    too_many = any(failures[c.name] > c.failure_limit for c in SPEC.checks)
    unsure = any(v is Verdict.INCONCLUSIVE for _, v, _ in raw)
    if state is RunState.PASSED:
        assert now >= 300 and not too_many and not unsure
        assert {c.name for c, _, s in raw if s >= 300} == {c.name for c in SPEC.checks}
    assert (state is RunState.FAILED) is too_many
    assert (state is RunState.INCONCLUSIVE) is (unsure and not too_many)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 2),  # which deployment of the run
            st.sampled_from(["error rate", "latency"]),
            st.sampled_from(list(Verdict)),
        ),
        max_size=30,
    )
)
def test_a_runs_tallies_merged_are_the_tally_of_all_its_measurements(
    raw: list[tuple[int, str, Verdict]],
) -> None:
    # distinct times, as a measurement round gives; details tell the measurements apart
    measurements = [
        Measurement(check, verdict, at(n), detail=f"m{n}", deployment_id=deployment)
        for n, (deployment, check, verdict) in enumerate(raw)
    ]
    per_deployment = [[m for m in measurements if m.deployment_id == i] for i in range(3)]
    merged = merge_tallies(tally(ms) for ms in per_deployment)
    assert sorted(merged, key=str) == sorted(tally(measurements), key=str)


def test_fill_query_leaves_promql_braces_alone() -> None:
    query = 'sum(rate(http_errors_total{job="{bot}-{env}",version="{version}"}[1m]))'
    assert fill_query(query, bot="mybot", env="staging", version=3) == (
        'sum(rate(http_errors_total{job="mybot-staging",version="v3"}[1m]))'
    )


# ── config ──────────────────────────────────────────────────────────────────

GH = "    github: acme/mybot"
BASE = """
environments:
  staging:
{env}
bots:
  mybot:
    repo: /tmp/mybot
{bot}
"""


def load(tmp_path: Path, env: str, bot: str = "") -> object:
    path = tmp_path / "chatops.yaml"
    path.write_text(BASE.format(env=env, bot=bot))
    return read_config_file(path, settings=load_settings(env_file=tmp_path / "none.env"))


def test_verify_and_checks_are_read(tmp_path: Path) -> None:
    env = """    environment_url: https://staging.example.com/{bot}
    checks: {required: [test, lint], ignored: [docs], timeout_seconds: 120}
    verify:
      prometheus: http://127.0.0.1:9090/
      interval_seconds: 15
      checks:
        - {name: error rate, query: 'sum(x{job="{bot}"})', max: 0.01, on_no_data: pass}
"""
    config = load(tmp_path, env, "    github: acme/mybot")
    staging = config.catalog.environments["staging"]  # type: ignore[attr-defined]
    assert staging.verify.prometheus == "http://127.0.0.1:9090"
    assert staging.verify.interval == timedelta(seconds=15)
    assert staging.verify.checks[0].on_no_data is NoData.PASS
    assert staging.verify.checks[0].on_error is NoData.INCONCLUSIVE
    assert staging.checks.required == ("test", "lint")
    assert staging.checks.ignored == {"docs"}
    assert staging.environment_url == "https://staging.example.com/{bot}"
    assert config.catalog.bots["mybot"].github == "acme/mybot"  # type: ignore[attr-defined]


def test_required_all(tmp_path: Path) -> None:
    config = load(tmp_path, "    checks: {required: all}", "    gitlab: group/sub/mybot")
    assert config.catalog.environments["staging"].checks.required is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("env", "bot", "says"),
    [
        (
            "    verify: {prometheus: 'http://p', checks: [{name: e, query: q}]}",
            "",
            "environments.staging.verify.checks.0: check 'e' needs `min:` or `max:`",
        ),
        (
            "    verify: {prometheus: 'http://p', checks: [{name: e, query: q, min: 2, max: 1}]}",
            "",
            "`min` (2) is above `max` (1)",
        ),
        (
            "    verify: {prometheus: 'http://p', checks: [{name: e, query: q, max: 1, "
            "on_no_data: ignore}]}",
            "",
            "environments.staging.verify.checks.0.on_no_data",
        ),
        (
            "    verify: {prometheus: 'http://p', checks: [{name: e, query: q, max: 1}, "
            "{name: e, query: r, max: 2}]}",
            "",
            "two checks are named 'e'",
        ),
        (
            "    verify: {prometheus: 'ftp://p', checks: [{name: e, query: q, max: 1}]}",
            "",
            "prometheus",
        ),
        ("    verify: {prometheus: 'http://p', checks: []}", "", "verify.checks"),
        ("    checks: {required: some}", GH, "environments.staging.checks.required"),
        ("    checks: {required: [t], wait: 3}", GH, "unknown key; allowed: ignored, required"),
        ("    deployers: ['*']", "    github: not a repo", "bots.mybot.github"),
        ("    checks: {required: [test]}", "", "environment staging has `checks`"),
        ("    deployers: ['*']", "    github: a/b\n    gitlab: a/b", "name one forge, not both"),
    ],
)
def test_bad_config_says_what_is_wrong(tmp_path: Path, env: str, bot: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, env, bot)
    assert says in str(caught.value)


def test_config_check_names_the_verification_and_ci_rules(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from chatops.entrypoints.cli import app

    env = """    checks: {required: [test, lint]}
    verify:
      prometheus: http://127.0.0.1:9090
      interval_seconds: 15
      checks: [{name: errors, query: q, max: 0}]
"""
    config = tmp_path / "chatops.yaml"
    repo = tmp_path / "mybot"  # `config check` checks that the paths it names exist
    repo.mkdir()
    config.write_text(BASE.format(env=env, bot=GH).replace("/tmp/mybot", str(repo)))
    result = CliRunner().invoke(app, ["--config", str(config), "config", "check"])
    assert result.exit_code == 0, result.output
    assert "verify 1 metric check(s) every 15s, CI checks: test, lint" in result.output
