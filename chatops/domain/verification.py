"""Metric verification (DESIGN §10): a measurement's verdict, and where a run stands.

A live release is measured every `interval` by each of its environment's
checks. One measurement is a number, no data, or an error (Prometheus down or
failing); `judge` turns it into a verdict, and `assess` turns every verdict of
the release's continuous time live into the run's state:

- failed: some check failed more than its `failure_limit` allows;
- inconclusive: nothing failed too often, but some measurement could not be
  judged (no data or an error set to `inconclusive`): a person decides;
- passed: the soak time has passed, every check was measured since (so the
  measurements cover the whole soak) and every measurement held;
- running: none of those yet.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "ALL_CHECKS",
    "Assessment",
    "CheckSpec",
    "ChecksSpec",
    "Measurement",
    "NoData",
    "Outcome",
    "RunState",
    "Tally",
    "Verdict",
    "VerifySpec",
    "assess",
    "assess_tallies",
    "fill_query",
    "judge",
    "merge_tallies",
]

ALL_CHECKS = "all"


class Verdict(enum.StrEnum):
    """The judgement of one measurement."""

    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class NoData(enum.StrEnum):
    """What a measurement without a number counts as (`on_no_data`, `on_error`)."""

    FAIL = "fail"
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    INCONCLUSIVE = "inconclusive"


class RunState(enum.StrEnum):
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One query and the bounds its value must keep."""

    name: str
    query: str
    min: float | None = None
    max: float | None = None
    failure_limit: int = 0
    on_no_data: NoData = NoData.FAIL
    on_error: NoData = NoData.INCONCLUSIVE

    def bounds(self) -> str:
        """`≤ 0.01`, `≥ 1`, `between 1 and 5`: for messages."""
        if self.min is not None and self.max is not None:
            return f"between {self.min:g} and {self.max:g}"
        if self.max is not None:
            return f"≤ {self.max:g}"
        if self.min is not None:
            return f"≥ {self.min:g}"
        return "any value"


@dataclass(frozen=True, slots=True)
class VerifySpec:
    """An environment's `verify:`."""

    prometheus: str
    checks: tuple[CheckSpec, ...]
    interval: timedelta = timedelta(seconds=30)
    timeout: timedelta = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class ChecksSpec:
    """An environment's `checks:`: the CI results a commit needs before it runs there."""

    required: tuple[str, ...] | None  # None: every check (`required: all`)
    ignored: frozenset[str] = frozenset()
    timeout: timedelta = timedelta(seconds=900)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one query returned: a number, no data (both None), or an error."""

    value: float | None = None
    error: str | None = None
    down: bool = False  # Prometheus did not answer at all (refused, or out of time)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One judged measurement of one check, as recorded."""

    check: str
    verdict: Verdict
    at: datetime
    value: float | None = None
    detail: str = ""  # why it failed or could not be judged; empty when it passed
    deployment_id: int | None = None


def judge(check: CheckSpec, outcome: Outcome, *, at: datetime) -> Measurement:
    """The verdict on one query result.

    NaN is no data (a rate over nothing); infinities are compared as numbers.
    """
    if outcome.error is not None:
        verdict = Verdict(check.on_error.value)
        return Measurement(
            check.name, verdict, at, detail=f"could not be measured: {outcome.error}"
        )
    value = outcome.value
    if value is None or math.isnan(value):
        return Measurement(
            check.name, Verdict(check.on_no_data.value), at, detail="the query returned no data"
        )
    if check.max is not None and value > check.max:
        return Measurement(
            check.name, Verdict.FAIL, at, value, f"{value:g} is above the maximum {check.max:g}"
        )
    if check.min is not None and value < check.min:
        return Measurement(
            check.name, Verdict.FAIL, at, value, f"{value:g} is below the minimum {check.min:g}"
        )
    return Measurement(check.name, Verdict.PASS, at, value)


@dataclass(frozen=True, slots=True)
class Assessment:
    """Where a release's verification stands."""

    state: RunState
    measured: int  # measurements counted
    failures: Mapping[str, int]  # failed measurements per check
    reason: str = ""  # for failed or inconclusive: which check and why

    def summary(self) -> str:
        """`verification passed (12 measurements)`: one line for messages."""
        text = f"verification {self.state} ({self.measured} measurements)"
        return f"{text}: {self.reason}" if self.reason else text


@dataclass(frozen=True, slots=True)
class Tally:
    """The measurements of one check with one verdict in a run: how many, and when."""

    check: str
    verdict: Verdict
    count: int
    first_at: datetime
    last_at: datetime
    first_detail: str = ""
    last_detail: str = ""


def tally(measurements: Iterable[Measurement]) -> list[Tally]:
    """Measurements summed up per (check, verdict), as the database does it: the details
    kept are those a verdict names (the first inconclusive one, the last failure)."""
    groups: dict[tuple[str, Verdict], list[Measurement]] = {}
    for m in sorted(measurements, key=lambda m: m.at):
        groups.setdefault((m.check, m.verdict), []).append(m)
    return [
        Tally(
            check,
            verdict,
            len(ms),
            ms[0].at,
            ms[-1].at,
            ms[0].detail if verdict is Verdict.INCONCLUSIVE else "",
            ms[-1].detail if verdict is Verdict.FAIL else "",
        )
        for (check, verdict), ms in groups.items()
    ]


def merge_tallies(groups: Iterable[Iterable[Tally]]) -> list[Tally]:
    """The tallies of several deployments (one run) summed up per (check, verdict), as
    `tally` would over all their measurements: the first inconclusive detail, the last failure's."""
    merged: dict[tuple[str, Verdict], Tally] = {}
    for group in groups:
        for t in group:
            seen = merged.get((t.check, t.verdict))
            if seen is None:
                merged[(t.check, t.verdict)] = t
                continue
            first = t if t.first_at < seen.first_at else seen
            last = t if t.last_at > seen.last_at else seen
            merged[(t.check, t.verdict)] = Tally(
                t.check,
                t.verdict,
                seen.count + t.count,
                first.first_at,
                last.last_at,
                first.first_detail,
                last.last_detail,
            )
    return list(merged.values())


def assess(
    spec: VerifySpec,
    measurements: Iterable[Measurement],
    *,
    live_since: datetime,
    soak: timedelta,
    now: datetime,
) -> Assessment:
    """The state of a run from every measurement of its continuous time live."""
    return assess_tallies(spec, tally(measurements), live_since=live_since, soak=soak, now=now)


def assess_tallies(
    spec: VerifySpec,
    tallies: Iterable[Tally],
    *,
    live_since: datetime,
    soak: timedelta,
    now: datetime,
) -> Assessment:
    """The state of a run from its measurements summed up (`tally`): the same verdict as
    `assess`, at a cost that does not grow with the time a release runs.

    Measurements of checks no longer configured are left out.
    """
    names = {c.name for c in spec.checks}
    kept = [t for t in tallies if t.check in names]
    measured = sum(t.count for t in kept)
    soaked = live_since + soak
    failures = {c.name: 0 for c in spec.checks}
    last_failure: dict[str, Tally] = {}
    for t in kept:
        if t.verdict is Verdict.FAIL:
            failures[t.check] += t.count
            last_failure[t.check] = t
    seen = {t.check for t in kept if t.last_at >= soaked}  # measured once the soak was over
    for check in spec.checks:
        if failures[check.name] > check.failure_limit:
            detail = last_failure[check.name].last_detail
            why = f"{check.name} failed {failures[check.name]} time(s)"
            if check.failure_limit:
                why += f" (limit {check.failure_limit})"
            reason = f"{why}: {detail}" if detail else why
            return Assessment(RunState.FAILED, measured, failures, reason)
    unsure = [t for t in kept if t.verdict is Verdict.INCONCLUSIVE]
    if unsure:
        first = min(unsure, key=lambda t: t.first_at)
        reason = f"{first.check} {first.first_detail}"
        return Assessment(RunState.INCONCLUSIVE, measured, failures, reason)
    if now >= soaked and seen == names:
        return Assessment(RunState.PASSED, measured, failures)
    return Assessment(RunState.RUNNING, measured, failures)


def fill_query(query: str, *, bot: str, env: str, version: int | None) -> str:
    """The query with `{bot}`, `{env}` and `{version}` filled in; other braces stay.

    PromQL uses braces for label matchers, so this is a plain replacement, not
    `str.format`. The names are chatops names (letters, digits, `-`), safe in a
    quoted label value.
    """
    return (
        query.replace("{bot}", bot)
        .replace("{env}", env)
        .replace("{version}", f"v{version}" if version is not None else "")
    )
