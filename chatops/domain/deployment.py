"""Releases and deployments, and the state machine a deployment moves through.

::

    pending_approval ─approve(s)─▶ queued ─▶ building ─▶ deploying ─▶ verifying ─▶ live
          │  └─reject─▶ rejected                │            │            │         └─▶ superseded
          └─ttl─▶ expired                       └────────────┴────────────┴─▶ failed

A queued deployment whose release exists goes straight to deploying; a
pending promotion becomes superseded when the source environment changes.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from datetime import datetime

from chatops.errors import InvalidTransition  # here too, where the state machine raises it

__all__ = [
    "ACTIVE_STATES",
    "ENDED_STATES",
    "IN_PROGRESS_STATES",
    "TRANSITIONS",
    "Commit",
    "Deployment",
    "Event",
    "InvalidTransition",
    "Kind",
    "Release",
    "State",
    "next_state",
]


class State(enum.StrEnum):
    PENDING_APPROVAL = "pending_approval"
    QUEUED = "queued"
    BUILDING = "building"
    DEPLOYING = "deploying"
    VERIFYING = "verifying"
    LIVE = "live"
    SUPERSEDED = "superseded"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"


class Kind(enum.StrEnum):
    DEPLOY = "deploy"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    AUTO_ROLLBACK = "auto_rollback"


class Event(enum.StrEnum):
    APPROVED = "approved"  # the last approval needed arrived
    REJECTED = "rejected"
    EXPIRED = "expired"  # approval_ttl passed
    SUPERSEDED = "superseded"  # a newer release went live / the source environment changed
    BUILD = "build"
    DEPLOY = "deploy"
    VERIFY = "verify"
    HEALTHY = "healthy"
    FAIL = "fail"


# States in which a process is working on the deployment and holds (bot, env).
IN_PROGRESS_STATES = frozenset({State.QUEUED, State.BUILDING, State.DEPLOYING, State.VERIFYING})
# States that are not settled: in progress, or waiting for people.
ACTIVE_STATES = IN_PROGRESS_STATES | {State.PENDING_APPROVAL}
# States after which nothing more happens to the deployment.
ENDED_STATES = frozenset({State.SUPERSEDED, State.FAILED, State.REJECTED, State.EXPIRED})

TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.PENDING_APPROVAL, Event.APPROVED): State.QUEUED,
    (State.PENDING_APPROVAL, Event.REJECTED): State.REJECTED,
    (State.PENDING_APPROVAL, Event.EXPIRED): State.EXPIRED,
    (State.PENDING_APPROVAL, Event.SUPERSEDED): State.SUPERSEDED,
    (State.QUEUED, Event.BUILD): State.BUILDING,
    (State.QUEUED, Event.DEPLOY): State.DEPLOYING,
    (State.QUEUED, Event.FAIL): State.FAILED,
    (State.BUILDING, Event.DEPLOY): State.DEPLOYING,
    (State.BUILDING, Event.FAIL): State.FAILED,
    (State.DEPLOYING, Event.VERIFY): State.VERIFYING,
    (State.DEPLOYING, Event.FAIL): State.FAILED,
    (State.VERIFYING, Event.HEALTHY): State.LIVE,
    (State.VERIFYING, Event.FAIL): State.FAILED,
    (State.LIVE, Event.SUPERSEDED): State.SUPERSEDED,
}


def next_state(state: State, event: Event) -> State:
    """The state after `event`.

    Raises:
        InvalidTransition: `state` does not accept `event`.
    """
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(state, event) from None


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    subject: str = ""
    author: str = ""

    @property
    def short(self) -> str:
        return self.sha[:8]


@dataclass(frozen=True, slots=True)
class Release:
    """One immutable build of one commit of one bot."""

    bot: str
    version: int
    commit: str
    tag: str
    image: str  # <registry>/<bot>:v<N>
    image_id: str  # the engine's sha256 id
    digest: str  # the registry digest, or the image id when no registry is set
    created_by: str
    created_at: datetime
    deployment_id: int | None = None
    source: str = ""
    subject: str = ""  # the commit's subject line

    @property
    def name(self) -> str:
        return f"v{self.version}"

    @property
    def pull_ref(self) -> str:
        """What a runtime runs: the pushed digest when there is one, else the local image."""
        if self.digest.startswith("sha256:") and self.digest != self.image_id:
            return f"{self.image.rsplit(':', 1)[0]}@{self.digest}"
        return self.image_id


@dataclass(frozen=True, slots=True)
class Deployment:
    """One attempt to make a release live in an environment."""

    bot: str
    env: str
    kind: Kind
    state: State
    requested_by: str
    requested_at: datetime
    updated_at: datetime
    id: int | None = None
    ref: str | None = None
    commit: str | None = None
    version: int | None = None
    previous_version: int | None = None
    source_deployment_id: int | None = None
    reason: str | None = None
    force_reason: str | None = None
    # why a rollback was asked for (a person's words, or chatops' own for an automatic
    # one); kept when `reason` is replaced by why it failed or was rejected
    request_reason: str | None = None
    owner: str | None = None
    heartbeat_at: datetime | None = None
    live_at: datetime | None = None
    finished_at: datetime | None = None
    healthy_since: datetime | None = None
    soak_noticed_at: datetime | None = None  # when "ready to promote" was said
    rolled_back: bool = False
    log_tail: str = ""  # the end of the build output, secrets masked
    cancel_requested_by: str | None = None  # /cancel asked the owner to stop it
    cancel_requested_at: datetime | None = None
    verification_override: str | None = None  # who promoted it past an inconclusive verification
    # The row's version when read: a save changes the row only if nobody saved it since
    # (compare-and-set). Not part of the value: two reads of one row are equal.
    revision: int = field(default=0, compare=False)

    @property
    def in_progress(self) -> bool:
        return self.state in IN_PROGRESS_STATES

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def reached_live(self) -> bool:
        return self.live_at is not None

    def advance(self, event: Event, *, at: datetime, reason: str | None = None) -> Deployment:
        """The deployment after `event`, stamped at `at`.

        Raises:
            InvalidTransition: the current state does not accept `event`.
        """
        state = next_state(self.state, event)
        changes: dict[str, object] = {"state": state, "updated_at": at}
        if reason is not None:
            changes["reason"] = reason
        if state is State.LIVE:
            changes["live_at"] = at
            changes["healthy_since"] = at
        if state in ENDED_STATES:
            changes["finished_at"] = at
        if state not in IN_PROGRESS_STATES:
            changes["owner"] = None
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def describe(self) -> str:
        what = f"v{self.version}" if self.version else (self.ref or "branch head")
        return f"#{self.id} {self.kind} of {self.bot} {what} to {self.env} by {self.requested_by}"
