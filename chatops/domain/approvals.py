"""Approvals: who may vote on a pending deployment, and when the votes suffice.

The requester never counts, people outside `approvers` are refused, a person
counts once however often they click, and one reject ends the request.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from chatops.domain.catalog import Environment
from chatops.domain.deployment import Kind
from chatops.domain.policy import is_member
from chatops.errors import NotAllowed

__all__ = ["Decision", "Tally", "Vote", "approvals_needed", "check_voter", "tally"]


class Decision(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Vote:
    deployment_id: int
    user: str
    decision: Decision
    at: datetime


@dataclass(frozen=True, slots=True)
class Tally:
    needed: int
    approved_by: tuple[str, ...]
    rejected_by: str | None

    @property
    def complete(self) -> bool:
        return self.rejected_by is None and len(self.approved_by) >= self.needed

    @property
    def missing(self) -> int:
        return max(0, self.needed - len(self.approved_by))


def check_voter(user: str, *, requester: str, approvers: Iterable[str], env: str) -> None:
    """Raises NotAllowed unless `user` may approve or reject this request."""
    if user == requester:
        raise NotAllowed(
            f"{user} requested this deployment and cannot approve or reject it",
            hint="ask another approver",
        )
    if not is_member(user, approvers):
        raise NotAllowed(
            f"{user} is not an approver for {env}", hint=f"ask one of {env}'s approvers"
        )


def tally(votes: Sequence[Vote], *, requester: str, approvers: Iterable[str], needed: int) -> Tally:
    """Count the votes that are valid: distinct approvers other than the requester."""
    allowed = set(approvers)
    approved: list[str] = []
    rejected: str | None = None
    for vote in sorted(votes, key=lambda v: v.at):
        if vote.user == requester or not is_member(vote.user, allowed):
            continue
        if vote.decision is Decision.REJECT:
            rejected = rejected or vote.user
        elif vote.user not in approved:
            approved.append(vote.user)
    return Tally(needed=needed, approved_by=tuple(approved), rejected_by=rejected)


def approvals_needed(environment: Environment, kind: Kind) -> int:
    """How many approvals a deployment of `kind` into `environment` waits for."""
    if kind is Kind.PROMOTE:
        return environment.approvals
    if kind is Kind.ROLLBACK:
        return environment.rollback_approvals
    return 0
