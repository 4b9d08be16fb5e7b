"""CI gates (DESIGN §10): whether a commit's checks let it into an environment with `checks:`.

The forge adapters turn GitHub check runs and commit statuses, or GitLab
commit statuses, into `CiResult`s; `evaluate` says whether the required ones
are green, still pending (and which), or failed (and which, with links).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from chatops.domain.verification import ChecksSpec

__all__ = ["CiResult", "CiState", "CiVerdict", "evaluate"]


class CiState(enum.StrEnum):
    SUCCESS = "success"
    PENDING = "pending"
    FAILURE = "failure"


@dataclass(frozen=True, slots=True)
class CiResult:
    """One check run or commit status of a commit, as the forge reports it."""

    name: str
    state: CiState
    url: str | None = None


@dataclass(frozen=True, slots=True)
class CiVerdict:
    state: CiState
    waiting_for: tuple[str, ...] = ()  # required names pending or not reported yet
    failed: tuple[CiResult, ...] = ()

    def describe(self, sha: str) -> str:
        """One line for messages: what failed (with links), or what it waits for."""
        short = sha[:8]
        if self.state is CiState.FAILURE:
            named = ", ".join(f"{r.name} ({r.url})" if r.url else r.name for r in self.failed)
            return f"required CI checks failed on {short}: {named}"
        if self.state is CiState.PENDING:
            return f"waiting for CI checks on {short}: {', '.join(self.waiting_for)}"
        return f"CI checks passed on {short}"


_RANK = {CiState.SUCCESS: 0, CiState.PENDING: 1, CiState.FAILURE: 2}


def evaluate(spec: ChecksSpec, results: Iterable[CiResult]) -> CiVerdict:
    """The verdict on a commit's results.

    A name reported more than once (a check run and a status of the same name)
    counts at its worst. Required names not reported yet are pending: CI may
    not have started. `required: all` takes every reported name but the
    ignored ones, and is pending while nothing is reported.
    """
    worst: dict[str, CiResult] = {}
    for result in results:
        if result.name in spec.ignored:
            continue
        seen = worst.get(result.name)
        if seen is None or _RANK[result.state] > _RANK[seen.state]:
            worst[result.name] = result
    if spec.required is None:
        wanted = sorted(worst)
        if not wanted:
            return CiVerdict(CiState.PENDING, waiting_for=("any CI result (none reported yet)",))
    else:
        wanted = [name for name in spec.required if name not in spec.ignored]
    failed = tuple(worst[n] for n in wanted if n in worst and worst[n].state is CiState.FAILURE)
    if failed:
        return CiVerdict(CiState.FAILURE, failed=failed)
    waiting = tuple(
        n if n in worst else f"{n} (not reported yet)"
        for n in wanted
        if n not in worst or worst[n].state is CiState.PENDING
    )
    if waiting:
        return CiVerdict(CiState.PENDING, waiting_for=waiting)
    return CiVerdict(CiState.SUCCESS)
