"""The Protocols the services need from the outside world; adapters implement them.

Each port is small and has a fake in tests/fakes.py. Values crossing a port are
domain types or the small dataclasses below: never an SDK or ORM object.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from chatops.domain.alerts import Alert
from chatops.domain.approvals import Vote
from chatops.domain.audit import AuditEvent
from chatops.domain.catalog import (
    Bot,
    BotTarget,
    Environment,
    HealthSpec,
    Resources,
    Strategy,
)
from chatops.domain.ci import CiResult
from chatops.domain.deployment import Commit, Deployment, Release
from chatops.domain.health import Health, Observation
from chatops.domain.names import DEFAULT_INSTANCE, unit_name
from chatops.domain.policy import FreezeWindow, Lock
from chatops.domain.verification import Measurement, Outcome, Tally
from chatops.services.status_reads import StatusReads
from chatops.services.views import AlertView, DeploymentView

__all__ = [
    "BuildRequest",
    "CiChecks",
    "Clock",
    "Conflict",
    "DeliveryLog",
    "Directory",
    "FreezeCalendar",
    "HealthProbe",
    "ImageBuilder",
    "Launcher",
    "MeasurementRepository",
    "MessageRef",
    "MetricQuery",
    "Metrics",
    "Notifier",
    "ProcessTable",
    "RunSpec",
    "Runtime",
    "Secrets",
    "SlotTaken",
    "SourceControl",
    "UnitOfWork",
    "WantedHead",
    "WantedHeads",
]


# ── time ─────────────────────────────────────────────────────────────────────


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def sleep(self, seconds: float) -> None: ...


# ── git ──────────────────────────────────────────────────────────────────────


class SourceControl(Protocol):
    """The bot's git remote, through a local mirror."""

    def fetch(self, bot: Bot) -> None:
        """Bring the mirror up to date with the remote.

        Raises:
            SourceControlError: the remote cannot be reached or read.
        """
        ...

    def resolve(self, bot: Bot, ref: str) -> Commit:
        """The commit a branch, tag or sha names on the remote (after `fetch`).

        Raises:
            NotFound: no such ref.
        """
        ...

    def highest_release(self, bot: Bot) -> int:
        """The highest N among the remote's `<bot>/v<N>` tags, 0 when none."""
        ...

    def archive(self, bot: Bot, commit: str, subdir: str, dest: Path) -> None:
        """Write the tree of `commit` (below `subdir`) as a tar file.

        Raises:
            SourceControlError: the commit or subdir does not exist.
        """
        ...

    def tag_release(self, bot: Bot, *, version: int, commit: str, message: str) -> None:
        """Create the annotated tag `<bot>/v<N>` and push it; never moves an existing one.

        Raises:
            SourceControlError: the tag exists on another commit, or the push failed
                (the local tag is removed again).
        """
        ...

    def move_env_tag(self, bot: Bot, *, env: str, commit: str, message: str) -> None:
        """Force-move `<bot>/<env>` to `commit` and push it."""
        ...

    def log(
        self, bot: Bot, *, since: str | None, until: str, limit: int
    ) -> tuple[list[Commit], int]:
        """Commits in `since..until` (newest first, at most `limit`) and how many there are."""
        ...

    def compare_url(self, bot: Bot, *, base: str, head: str) -> str | None:
        """A web page comparing two commits, when the remote is on a known forge."""
        ...

    def is_ancestor(self, bot: Bot, ancestor: str, commit: str) -> bool:
        """Whether `ancestor` is `commit` or one of its ancestors (False when either is unknown).

        Raises:
            SourceControlError: git failed.
        """
        ...


# ── images ───────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class BuildRequest:
    image: str  # <registry>/<bot>:v<N>
    context_tar: Path
    dockerfile: str
    build_args: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)


class ImageBuilder(Protocol):
    def build(
        self,
        request: BuildRequest,
        *,
        output: Callable[[str], None],
        stop: Callable[[], str | None] | None = None,
    ) -> str:
        """Build the image; stream its output lines; return the image id.

        `stop` is asked every few seconds, from another thread, whether to end the
        build early: when it answers with a reason, the build is ended on the engine
        (no step of it keeps running there) and BuildError is raised with that reason.

        Raises:
            BuildError: the build failed or was stopped (with the tail of its output).
        """
        ...

    def push(self, image: str) -> str:
        """Push to the registry; return the repository digest (`sha256:…`).

        Raises:
            RegistryError: the registry refused or cannot be reached.
        """
        ...

    def remove(self, image: str) -> None:
        """Drop the local tag `image` (the layers stay while a release uses them)."""
        ...


# ── runtime ──────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class RunSpec:
    """Everything a runtime needs to run one release of one bot in one environment."""

    bot: str
    env: str
    version: int
    image: str  # what to run: repo@digest or the image id
    image_name: str  # <registry>/[<instance>/]<bot>:v<N>, for people
    commit: str
    environment: Mapping[str, str] = field(default_factory=dict)  # secrets included
    network: str | None = None
    replicas: int = 1
    strategy: Strategy = Strategy.STOP_FIRST
    instance: str = DEFAULT_INSTANCE
    resources: Resources = field(default_factory=Resources)

    @property
    def name(self) -> str:
        return unit_name(self.bot, self.env, self.instance)


class Runtime(Protocol):
    """Where an environment runs its bots (one Docker Engine, or a Swarm)."""

    def start(self, spec: RunSpec) -> str:
        """Start `spec` beside or instead of what runs, per its strategy; return a handle.

        Raises:
            RuntimeFailure: the engine refused (bad image, name clash, engine down).
        """
        ...

    def observe(self, bot: str, env: str, handle: str | None = None) -> Observation:
        """What runs now: the candidate `handle`, or the committed one."""
        ...

    def commit(self, bot: str, env: str, handle: str) -> None:
        """The candidate is healthy: make it the one, and drop what it replaced."""
        ...

    def restore(self, bot: str, env: str, previous: RunSpec | None) -> None:
        """Undo an unfinished start: drop any candidate and run `previous` again (or nothing)."""
        ...

    def logs(self, bot: str, env: str, lines: int) -> str:
        """The last `lines` lines of output of what runs."""
        ...

    def remove(self, bot: str, env: str) -> None:
        """Stop and remove everything of (bot, env)."""
        ...

    def list_managed(self) -> Sequence[tuple[str, str, str | None, bool]]:
        """(bot, env, release label, running) of everything chatops runs on this engine."""
        ...


class HealthProbe(Protocol):
    def check(self, spec: HealthSpec) -> tuple[Health, str]:
        """Probe an HTTP health endpoint; the verdict and a short detail."""
        ...


class CiChecks(Protocol):
    def results(self, bot: Bot, sha: str) -> list[CiResult]:
        """The commit's CI results on the bot's forge.

        Raises:
            ConfigError: the bot names no forge.
            ForgeError: the forge did not answer, or refused.
        """
        ...


class MetricQuery(Protocol):
    def query(self, prometheus: str, query: str, *, timeout: float) -> Outcome:
        """An instant query's value, no data, or the error; never raises."""
        ...


# ── secrets, people, calendar, processes ────────────────────────────────────


class Secrets(Protocol):
    def resolve(self, bot: Bot, target: BotTarget) -> dict[str, str]:
        """The secret variables of a bot in an environment (env_file and `secrets:`).

        Raises:
            ConfigError: a file or provider is missing or unreadable (without the value).
        """
        ...


class Directory(Protocol):
    def expand(self, entries: Iterable[str]) -> frozenset[str]:
        """User ids, with user groups (`S…`) replaced by their members."""
        ...


class FreezeCalendar(Protocol):
    def open_window(self, env: Environment, now: datetime) -> FreezeWindow | None:
        """The freeze window of `env` open at `now`, if any."""
        ...


class ProcessTable(Protocol):
    def me(self) -> str:
        """This process's owner token, unique across hosts, reboots and pid reuse."""
        ...

    def alive(self, owner: str) -> bool | None:
        """Whether the process behind `owner` still runs; None when it cannot tell."""
        ...


class Launcher(Protocol):
    def launch(self, deployment_id: int) -> None:
        """Run a queued deployment: here and now (CLI) or on a worker thread (serve)."""
        ...


# ── chat ─────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class MessageRef:
    channel: str
    ts: str


class Notifier(Protocol):
    """Tells people what happens; failures are the notifier's to log, never a deployment's."""

    def deployment_changed(self, view: DeploymentView) -> None: ...

    def build_output(self, deployment: Deployment, line: str) -> None: ...

    def alert_changed(self, view: AlertView) -> None: ...

    def deployment_soaked(self, view: DeploymentView) -> None:
        """The live deployment has soaked long enough to be promoted (said once)."""
        ...

    def say(self, channel: str | None, text: str) -> None:
        """Tell `channel` a line of plain text (never markup: a chat notifier escapes it)."""
        ...


# ── storage ──────────────────────────────────────────────────────────────────


class SlotTaken(Exception):
    """Another deployment holds the slot (bot/env in progress, pending, or the bot's build)."""

    def __init__(self, holder_id: int | None) -> None:
        super().__init__(f"slot held by deployment #{holder_id}")
        self.holder_id = holder_id


class Conflict(Exception):
    """The deployment changed since it was read: another process or thread saved it first.

    Args:
        current: the deployment as it is now.
    """

    def __init__(self, current: Deployment) -> None:
        super().__init__(
            f"deployment #{current.id} changed meanwhile: it is {current.state} "
            f"(revision {current.revision})"
        )
        self.current = current


class ReleaseRepository(Protocol):
    def add(self, release: Release) -> Release: ...
    def get(self, bot: str, version: int) -> Release | None: ...
    def for_commit(self, bot: str, commit: str) -> Release | None: ...
    def list(self, bot: str, limit: int = 20) -> list[Release]: ...
    def highest_version(self, bot: str) -> int: ...


class DeploymentRepository(Protocol):
    def add(self, deployment: Deployment) -> Deployment:
        """Insert; returns it with its id.

        Raises:
            SlotTaken: another deployment holds the slot its state needs.
        """
        ...

    def save(self, deployment: Deployment) -> Deployment:
        """Update the row, only from the revision `deployment` was read at (compare-and-set).

        Returns:
            The deployment as saved, at its new revision.

        Raises:
            Conflict: the row was saved by someone else since it was read.
            SlotTaken: another deployment holds the slot its new state needs.
        """
        ...

    def get(self, deployment_id: int) -> Deployment | None: ...
    def get_for_update(self, deployment_id: int) -> Deployment | None: ...
    def holder(self, bot: str, env: str) -> Deployment | None:
        """The in-progress deployment of (bot, env), else the pending one."""
        ...

    def live(self, bot: str, env: str) -> Deployment | None: ...
    def history(self, bot: str, env: str | None = None, limit: int = 50) -> list[Deployment]: ...
    def histories(
        self,
        env: str,
        bots: Collection[str],
        *,
        limit: int = 50,
        reached_live: bool = False,
        leave_out: Collection[int] = (),
    ) -> list[Deployment]:
        """`history(bot, env, limit)` of each of `bots` at once (newest first per bot);
        `reached_live`: only those of them that went live; `leave_out`: not these ids
        (they still count in `limit`)."""
        ...

    def in_state(self, states: Iterable[str], *, bot: str | None = None) -> list[Deployment]: ...
    def all_live(self) -> list[Deployment]: ...
    def heartbeat(self, owner: str, at: datetime, ids: Collection[int]) -> int:
        """Stamp `heartbeat_at` on those of `ids` that `owner` still runs; how many."""
        ...


class VoteRepository(Protocol):
    def put(self, vote: Vote) -> None:
        """Record a person's decision; a repeat of the same decision changes nothing."""
        ...

    def list(self, deployment_id: int) -> list[Vote]: ...


class LockRepository(Protocol):
    def get(self, bot: str, env: str) -> Lock | None: ...
    def put(self, lock: Lock) -> None: ...
    def delete(self, bot: str, env: str) -> bool: ...
    def list(self) -> list[Lock]: ...


class AuditLog(Protocol):
    def add(self, event: AuditEvent) -> None: ...
    def list(
        self,
        *,
        bot: str | None = None,
        deployment_id: int | None = None,
        limit: int = 100,
        env: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
    ) -> list[AuditEvent]:
        """Newest first; every filter given must match; `before_id` pages back."""
        ...

    def prune(self, before: datetime) -> int:
        """Delete the events older than `before` (`retention.audit_days`); how many."""
        ...


class AlertRepository(Protocol):
    def add(self, alert: Alert) -> Alert: ...
    def save(self, alert: Alert) -> Alert: ...
    def get(self, alert_id: int) -> Alert | None: ...
    def open_for(self, bot: str, env: str, fingerprint: str) -> Alert | None: ...
    def open_alerts(self, bot: str | None = None) -> list[Alert]: ...
    def history(self, bot: str, limit: int = 100) -> list[Alert]:
        """A bot's alerts, open or not, newest first."""
        ...


class MessageRepository(Protocol):
    def get(self, subject: str) -> MessageRef | None: ...
    def put(self, subject: str, ref: MessageRef) -> None: ...
    def subject_of(self, ref: MessageRef) -> str | None: ...


class LeaseRepository(Protocol):
    def acquire(self, name: str, *, owner: str, now: datetime, ttl_seconds: float) -> bool:
        """Take or renew the lease `name` unless another owner holds an unexpired one."""
        ...

    def release(self, name: str, *, owner: str) -> None: ...

    def holder(self, name: str) -> tuple[str, datetime] | None: ...


class MeasurementRepository(Protocol):
    """Verification measurements (DESIGN §10); append-only."""

    def add(self, measurement: Measurement) -> None: ...
    def for_deployments(
        self, deployment_ids: Collection[int], *, limit: int | None = None
    ) -> list[Measurement]:
        """Every measurement of these deployments (the newest `limit` of them), oldest first."""
        ...

    def tallies(self, deployment_ids: Collection[int]) -> list[Tally]:
        """Those measurements summed up per (check, verdict) (`verification.tally`)."""
        ...

    def tallies_by_deployment(self, deployment_ids: Collection[int]) -> dict[int, list[Tally]]:
        """`tallies([id])` of each of these deployments, at once (absent: no measurement)."""
        ...

    def prune(self, *, before: datetime) -> int:
        """Delete measurements older than `before` of deployments no longer live."""
        ...


class DeliveryLog(Protocol):
    """Deliveries already handled (Slack retries, webhook delivery ids), shared by replicas."""

    def first_time(self, key: str, *, at: datetime) -> bool:
        """Record `key`; False when it was recorded before (a repeated delivery)."""
        ...

    def forget(self, key: str) -> None:
        """Drop `key`, so that a delivery that could not be handled may come again."""
        ...

    def prune(self, *, before: datetime) -> int:
        """Drop what was seen before `before`; how many were dropped."""
        ...


@dataclass(frozen=True, slots=True)
class WantedHead:
    """A branch head that (bot, env) should run once the deployment holding it ends."""

    bot: str
    env: str
    commit: str
    requested_by: str
    at: datetime


class WantedHeads(Protocol):
    def put(self, wanted: WantedHead) -> None:
        """Record what (bot, env) should run next; a newer head replaces an older one."""
        ...

    def list(self) -> list[WantedHead]: ...

    def remove(self, wanted: WantedHead) -> bool:
        """Drop `wanted` unless a newer head replaced it meanwhile; whether it was dropped."""
        ...


class UnitOfWork(Protocol):
    """One transaction over every repository; rolled back unless committed."""

    releases: ReleaseRepository
    deployments: DeploymentRepository
    votes: VoteRepository
    locks: LockRepository
    audit: AuditLog
    alerts: AlertRepository
    messages: MessageRepository
    leases: LeaseRepository
    deliveries: DeliveryLog
    wanted_heads: WantedHeads
    measurements: MeasurementRepository
    status: StatusReads  # read-only, for status and the web overview

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def ping(self) -> None:
        """Raises StoreError unless the database answers."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


class Metrics(Protocol):
    """Counters and timings of chatops itself (served at /metrics)."""

    def deployment_finished(self, deployment: Deployment, *, seconds: float) -> None: ...

    def build_finished(self, bot: str, *, seconds: float, ok: bool) -> None: ...

    def live_release(self, bot: str, env: str, version: int | None) -> None: ...

    def alerts_firing(self, bot: str, env: str, count: int) -> None: ...

    def health_check(self, bot: str, env: str, *, seconds: float) -> None: ...

    def measured(self, bot: str, env: str, check: str, verdict: str, *, seconds: float) -> None:
        """One verification measurement (DESIGN §10) and how long its query took."""
        ...
