"""In-memory fakes of every port, for fast tests of the services.

They keep the contracts of chatops/services/ports/ (including the slot rules
the database enforces), so a service that works against them only needs the
adapters to keep the same contracts — which the integration tests check.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from chatops.bootstrap.services import Services
from chatops.bootstrap.wiring import LauncherFactory
from chatops.domain.alerts import Alert, AlertState
from chatops.domain.approvals import Vote
from chatops.domain.audit import AuditEvent
from chatops.domain.catalog import Bot, BotTarget, Catalog, Environment, HealthSpec
from chatops.domain.ci import CiResult
from chatops.domain.deployment import ACTIVE_STATES, Commit, Deployment, Release, State
from chatops.domain.health import Health, Observation
from chatops.domain.policy import FreezeWindow, Lock
from chatops.domain.slots import slots_held
from chatops.domain.verification import Measurement, Tally, tally
from chatops.errors import (
    BuildError,
    ConfigError,
    NotFound,
    RegistryError,
    SourceControlError,
    StoreError,
)
from chatops.services.context import NullMetrics, Tuning
from chatops.services.launchers import InlineLauncher
from chatops.services.ports import (
    BuildRequest,
    Conflict,
    Launcher,
    MessageRef,
    MetricQuery,
    RunSpec,
    SlotTaken,
    WantedHead,
)
from chatops.services.status_reads import Spell, StatusFacts
from chatops.services.views import AlertView, DeploymentView

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


class FakeClock:
    """Time that moves only when told (or when something sleeps)."""

    def __init__(self, start: datetime = T0) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


# ── storage ──────────────────────────────────────────────────────────────


@dataclass
class Tables:
    releases: dict[tuple[str, int], Release] = field(default_factory=dict)
    deployments: dict[int, Deployment] = field(default_factory=dict)
    votes: dict[tuple[int, str], Vote] = field(default_factory=dict)
    locks: dict[tuple[str, str], Lock] = field(default_factory=dict)
    audit: list[AuditEvent] = field(default_factory=list)
    alerts: dict[int, Alert] = field(default_factory=dict)
    messages: dict[str, MessageRef] = field(default_factory=dict)
    leases: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    deliveries: dict[str, datetime] = field(default_factory=dict)
    wanted_heads: dict[tuple[str, str], WantedHead] = field(default_factory=dict)
    measurements: list[Measurement] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    refuse_commits: int = 0  # the next N commits fail as if the database were down
    lose_commit_answers: int = 0  # the next N commits are made, then reported failed


class FakeReleases:
    def __init__(self, t: Tables) -> None:
        self.t = t

    def add(self, release: Release) -> Release:
        if (release.bot, release.version) in self.t.releases or self.for_commit(
            release.bot, release.commit
        ):
            raise StoreError("duplicate release")
        self.t.releases[(release.bot, release.version)] = release
        return release

    def get(self, bot: str, version: int) -> Release | None:
        return self.t.releases.get((bot, version))

    def for_commit(self, bot: str, commit: str) -> Release | None:
        return next(
            (r for r in self.t.releases.values() if r.bot == bot and r.commit == commit), None
        )

    def list(self, bot: str, limit: int = 20) -> list[Release]:
        found = sorted(
            (r for r in self.t.releases.values() if r.bot == bot), key=lambda r: -r.version
        )
        return found[:limit]

    def highest_version(self, bot: str) -> int:
        return max((r.version for r in self.t.releases.values() if r.bot == bot), default=0)


class FakeDeployments:
    def __init__(self, t: Tables) -> None:
        self.t = t

    def _check(self, d: Deployment) -> None:
        mine = slots_held(d)
        for other in self.t.deployments.values():
            if other.id == d.id:
                continue
            theirs = slots_held(other)
            if any(theirs.get(slot) == key for slot, key in mine.items()):
                raise SlotTaken(other.id)

    def add(self, deployment: Deployment) -> Deployment:
        self._check(deployment)
        deployment = dataclasses.replace(deployment, id=next(self.t.ids), revision=0)
        self.t.deployments[deployment.id] = deployment  # type: ignore[index]
        return deployment

    def save(self, deployment: Deployment) -> Deployment:
        current = self.t.deployments[deployment.id]  # type: ignore[index]
        if current.revision != deployment.revision:
            raise Conflict(current)
        self._check(deployment)
        deployment = dataclasses.replace(deployment, revision=deployment.revision + 1)
        self.t.deployments[deployment.id] = deployment  # type: ignore[index]
        return deployment

    def get(self, deployment_id: int) -> Deployment | None:
        return self.t.deployments.get(deployment_id)

    get_for_update = get

    def holder(self, bot: str, env: str) -> Deployment | None:
        mine = [d for d in self.t.deployments.values() if d.bot == bot and d.env == env]
        running = [d for d in mine if d.in_progress]
        pending = [d for d in mine if d.state is State.PENDING_APPROVAL]
        return (running or pending or [None])[0]

    def live(self, bot: str, env: str) -> Deployment | None:
        found = [
            d
            for d in self.t.deployments.values()
            if d.bot == bot and d.env == env and d.state is State.LIVE
        ]
        return max(found, key=lambda d: d.id or 0) if found else None

    def history(self, bot: str, env: str | None = None, limit: int = 50) -> list[Deployment]:
        found = [
            d for d in self.t.deployments.values() if d.bot == bot and (env is None or d.env == env)
        ]
        return sorted(found, key=lambda d: -(d.id or 0))[:limit]

    def histories(
        self,
        env: str,
        bots: Collection[str],
        *,
        limit: int = 50,
        reached_live: bool = False,
        leave_out: Collection[int] = (),
    ) -> list[Deployment]:
        found = [d for bot in sorted(set(bots)) for d in self.history(bot, env, limit)]
        left_out = set(leave_out)
        return [d for d in found if (d.reached_live or not reached_live) and d.id not in left_out]

    def in_state(self, states: Iterable[str], *, bot: str | None = None) -> list[Deployment]:
        wanted = set(states)
        return sorted(
            (
                d
                for d in self.t.deployments.values()
                if d.state in wanted and (bot is None or d.bot == bot)
            ),
            key=lambda d: d.id or 0,
        )

    def all_live(self) -> list[Deployment]:
        return self.in_state([State.LIVE])

    def heartbeat(self, owner: str, at: datetime, ids: Collection[int]) -> int:
        count = 0
        for key, d in list(self.t.deployments.items()):
            if key in ids and d.owner == owner and d.in_progress:
                self.t.deployments[key] = dataclasses.replace(d, heartbeat_at=at)
                count += 1
        return count


class FakeVotes:
    def __init__(self, t: Tables) -> None:
        self.t = t

    def put(self, vote: Vote) -> None:
        existing = self.t.votes.get((vote.deployment_id, vote.user))
        if existing is not None and existing.decision is vote.decision:
            return
        self.t.votes[(vote.deployment_id, vote.user)] = vote

    def list(self, deployment_id: int) -> list[Vote]:
        return sorted(
            (v for v in self.t.votes.values() if v.deployment_id == deployment_id),
            key=lambda v: v.at,
        )


class FakeLocks:
    def __init__(self, t: Tables) -> None:
        self.t = t

    def get(self, bot: str, env: str) -> Lock | None:
        return self.t.locks.get((bot, env))

    def put(self, lock: Lock) -> None:
        self.t.locks[(lock.bot, lock.env)] = lock

    def delete(self, bot: str, env: str) -> bool:
        return self.t.locks.pop((bot, env), None) is not None

    def list(self) -> list[Lock]:
        return list(self.t.locks.values())


class FakeAudit:
    def __init__(self, t: Tables) -> None:
        self.t = t

    def add(self, event: AuditEvent) -> None:
        self.t.audit.append(dataclasses.replace(event, id=len(self.t.audit) + 1))

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
        found = [
            e
            for e in reversed(self.t.audit)
            if (bot is None or e.bot == bot)
            and (deployment_id is None or e.deployment_id == deployment_id)
            and (env is None or e.env == env)
            and (actor is None or e.actor == actor)
            and (action is None or e.action == action)
            and (since is None or e.at >= since)
            and (until is None or e.at < until)
            and (before_id is None or (e.id or 0) < before_id)
        ]
        return found[:limit]

    def prune(self, before: datetime) -> int:
        kept = [e for e in self.t.audit if e.at >= before]
        gone = len(self.t.audit) - len(kept)
        self.t.audit[:] = kept
        return gone


class FakeAlerts:
    def __init__(self, t: Tables) -> None:
        self.t = t

    def add(self, alert: Alert) -> Alert:
        alert = dataclasses.replace(alert, id=next(self.t.ids))
        self.t.alerts[alert.id] = alert  # type: ignore[index]
        return alert

    def save(self, alert: Alert) -> Alert:
        self.t.alerts[alert.id] = alert  # type: ignore[index]
        return alert

    def get(self, alert_id: int) -> Alert | None:
        return self.t.alerts.get(alert_id)

    def open_for(self, bot: str, env: str, fingerprint: str) -> Alert | None:
        return next(
            (
                a
                for a in self.t.alerts.values()
                if a.bot == bot
                and a.env == env
                and a.fingerprint == fingerprint
                and a.state is not AlertState.RESOLVED
            ),
            None,
        )

    def open_alerts(self, bot: str | None = None) -> list[Alert]:
        return [a for a in self.t.alerts.values() if a.open and (bot is None or a.bot == bot)]

    def history(self, bot: str, limit: int = 100) -> list[Alert]:
        found = sorted(
            (a for a in self.t.alerts.values() if a.bot == bot), key=lambda a: -(a.id or 0)
        )
        return found[:limit]


class FakeMessages:
    def __init__(self, t: Tables) -> None:
        self.t = t

    def get(self, subject: str) -> MessageRef | None:
        return self.t.messages.get(subject)

    def put(self, subject: str, ref: MessageRef) -> None:
        self.t.messages[subject] = ref

    def subject_of(self, ref: MessageRef) -> str | None:
        return next((s for s, r in self.t.messages.items() if r == ref), None)


class FakeLeases:
    def __init__(self, t: Tables) -> None:
        self.t = t

    def acquire(self, name: str, *, owner: str, now: datetime, ttl_seconds: float) -> bool:
        held = self.t.leases.get(name)
        if held is not None and held[0] != owner and held[1] > now:
            return False
        self.t.leases[name] = (owner, now + timedelta(seconds=ttl_seconds))
        return True

    def release(self, name: str, *, owner: str) -> None:
        if self.t.leases.get(name, ("",))[0] == owner:
            del self.t.leases[name]

    def holder(self, name: str) -> tuple[str, datetime] | None:
        return self.t.leases.get(name)


class FakeDeliveries:
    def __init__(self, t: Tables) -> None:
        self.t = t

    def first_time(self, key: str, *, at: datetime) -> bool:
        if key in self.t.deliveries:
            return False
        self.t.deliveries[key] = at
        return True

    def forget(self, key: str) -> None:
        self.t.deliveries.pop(key, None)

    def prune(self, *, before: datetime) -> int:
        old = [key for key, at in self.t.deliveries.items() if at < before]
        for key in old:
            del self.t.deliveries[key]
        return len(old)


class FakeWantedHeads:
    def __init__(self, t: Tables) -> None:
        self.t = t

    def put(self, wanted: WantedHead) -> None:
        self.t.wanted_heads[(wanted.bot, wanted.env)] = wanted

    def list(self) -> list[WantedHead]:
        return sorted(self.t.wanted_heads.values(), key=lambda w: w.at)

    def remove(self, wanted: WantedHead) -> bool:
        if self.t.wanted_heads.get((wanted.bot, wanted.env)) != wanted:
            return False
        del self.t.wanted_heads[(wanted.bot, wanted.env)]
        return True


def share_rows(store: Tables) -> Tables:
    """A working copy of the store: new tables around the same rows, which are all immutable."""
    return Tables(**{f.name: copy.copy(getattr(store, f.name)) for f in dataclasses.fields(store)})


class FakeMeasurements:
    def __init__(self, t: Tables) -> None:
        self.t = t

    def add(self, measurement: Measurement) -> None:
        if measurement.deployment_id is None:
            raise ValueError("a measurement belongs to a deployment: give its id")
        self.t.measurements.append(measurement)

    def for_deployments(
        self, deployment_ids: Collection[int], *, limit: int | None = None
    ) -> list[Measurement]:
        wanted = set(deployment_ids)
        found = sorted(
            (m for m in self.t.measurements if m.deployment_id in wanted), key=lambda m: m.at
        )
        return found if limit is None else found[len(found) - limit :] if limit else []

    def tallies(self, deployment_ids: Collection[int]) -> list[Tally]:
        return tally(self.for_deployments(deployment_ids))

    def tallies_by_deployment(self, deployment_ids: Collection[int]) -> dict[int, list[Tally]]:
        found = {i: self.tallies([i]) for i in set(deployment_ids)}
        return {i: tallies for i, tallies in found.items() if tallies}

    def prune(self, *, before: datetime) -> int:
        live = {i for i, d in self.t.deployments.items() if d.state is State.LIVE}
        kept = [m for m in self.t.measurements if m.at >= before or m.deployment_id in live]
        pruned = len(self.t.measurements) - len(kept)
        self.t.measurements = kept
        return pruned


class FakeStatusReads:
    """StatusReads over the fake repositories: the same answers, read one by one."""

    def __init__(self, deployments: FakeDeployments, locks: FakeLocks, alerts: FakeAlerts) -> None:
        self._deployments, self._locks, self._alerts = deployments, locks, alerts

    def facts(self, bot: str | None = None) -> StatusFacts:
        return StatusFacts(
            live=self._deployments.in_state([State.LIVE], bot=bot),
            active=self._deployments.in_state(ACTIVE_STATES, bot=bot),
            locks=self._locks.list(),
            open_alerts=self._alerts.open_alerts(bot),
        )

    def runs_before(
        self, env: str, bots: Collection[str], *, limit: int, leave_out: Collection[int]
    ) -> list[Spell]:
        found = self._deployments.histories(
            env, bots, limit=limit, reached_live=True, leave_out=leave_out
        )
        return [Spell(d.id or 0, d.bot, d.version, d.live_at) for d in found if d.live_at]


class FakeUnitOfWork:
    """A transaction over a shared in-memory store: changes apply on commit, else vanish."""

    def __init__(self, store: Tables) -> None:
        self._store = store

    def __enter__(self) -> Self:
        self._work = share_rows(self._store)
        self.releases = FakeReleases(self._work)
        self.deployments = FakeDeployments(self._work)
        self.votes = FakeVotes(self._work)
        self.locks = FakeLocks(self._work)
        self.audit = FakeAudit(self._work)
        self.alerts = FakeAlerts(self._work)
        self.messages = FakeMessages(self._work)
        self.leases = FakeLeases(self._work)
        self.deliveries = FakeDeliveries(self._work)
        self.wanted_heads = FakeWantedHeads(self._work)
        self.measurements = FakeMeasurements(self._work)
        self.status = FakeStatusReads(self.deployments, self.locks, self.alerts)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._work = None  # type: ignore[assignment]

    def ping(self) -> None:
        pass

    def commit(self) -> None:
        if self._store.refuse_commits > 0:
            self._store.refuse_commits -= 1
            raise StoreError("database chatops.db: disk I/O error")
        for name in (
            "releases",
            "deployments",
            "votes",
            "locks",
            "audit",
            "alerts",
            "messages",
            "leases",
            "deliveries",
            "wanted_heads",
            "measurements",
        ):
            setattr(self._store, name, getattr(self._work, name))
        self._store.ids = self._work.ids
        self._work = share_rows(self._store)
        for repo in (
            self.releases,
            self.deployments,
            self.votes,
            self.locks,
            self.audit,
            self.alerts,
            self.messages,
            self.leases,
            self.deliveries,
            self.wanted_heads,
            self.measurements,
        ):
            repo.t = self._work
        if self._store.lose_commit_answers > 0:  # made, but the answer never came back
            self._store.lose_commit_answers -= 1
            raise StoreError("database chatops.db: server closed the connection unexpectedly")


# ── git, images, runtime ─────────────────────────────────────────────────


class FakeSource:
    def __init__(self) -> None:
        self.refs: dict[str, dict[str, Commit]] = {}
        self.tags: dict[str, str] = {}  # tag → sha
        self.env_tags: dict[str, str] = {}
        self.fetches = 0
        self.unreachable = False
        self.history: dict[str, list[Commit]] = {}

    def add_commit(self, bot: str, ref: str, sha: str, subject: str = "change") -> Commit:
        commit = Commit(sha=sha, subject=subject, author="Ada <ada@example.com>")
        self.refs.setdefault(bot, {})[ref] = commit
        self.refs[bot][sha] = commit
        self.history.setdefault(bot, []).append(commit)
        return commit

    def fetch(self, bot: Bot) -> None:
        if self.unreachable:
            raise SourceControlError(f"cannot reach the remote of {bot.name}")
        self.fetches += 1

    def resolve(self, bot: Bot, ref: str) -> Commit:
        try:
            return self.refs[bot.name][ref.removeprefix("refs/heads/")]
        except KeyError:
            raise NotFound(f"ref {ref!r} does not exist in {bot.name}") from None

    def highest_release(self, bot: Bot) -> int:
        prefix = f"{bot.name}/v"
        return max((int(t[len(prefix) :]) for t in self.tags if t.startswith(prefix)), default=0)

    def archive(self, bot: Bot, commit: str, subdir: str, dest: Path) -> None:
        dest.write_bytes(b"tar of " + commit.encode())

    def tag_release(self, bot: Bot, *, version: int, commit: str, message: str) -> None:
        tag = f"{bot.name}/v{version}"
        if tag in self.tags and self.tags[tag] != commit:
            raise SourceControlError(f"{tag} exists on another commit")
        self.tags[tag] = commit

    def move_env_tag(self, bot: Bot, *, env: str, commit: str, message: str) -> None:
        self.env_tags[f"{bot.name}/{env}"] = commit

    def log(
        self, bot: Bot, *, since: str | None, until: str, limit: int
    ) -> tuple[list[Commit], int]:
        commits = self.history.get(bot.name, [])
        shas = [c.sha for c in commits]
        end = shas.index(until) + 1 if until in shas else 0
        start = shas.index(since) + 1 if since in shas else 0
        chosen = list(reversed(commits[start:end]))
        return chosen[:limit], len(chosen)

    def compare_url(self, bot: Bot, *, base: str, head: str) -> str | None:
        return None

    def is_ancestor(self, bot: Bot, ancestor: str, commit: str) -> bool:
        shas = [c.sha for c in self.history.get(bot.name, [])]
        if ancestor not in shas or commit not in shas:
            return False
        return shas.index(ancestor) <= shas.index(commit)

    def rewrite(self, bot: str, ref: str, sha: str) -> Commit:
        """A force-push: `ref` points at `sha`, whose history shares nothing with the old one."""
        self.history[bot] = []
        return self.add_commit(bot, ref, sha, subject="rewritten")


def _keep(request: BuildRequest, output: Callable[[str], None], line: str) -> None:
    line = request.mask(line)
    if request.log is not None:
        with request.log.open("a", encoding="utf-8") as log:
            log.write(line + "\n")
    output(line)


class FakeBuilder:
    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.builds: list[BuildRequest] = []
        self.pushed: list[str] = []
        self.removed: list[str] = []
        self.fail_build: set[str] = set()  # image names whose build fails
        self.prints: list[str] = []  # what the build's RUN steps print (and a failure quotes)
        self.hang: set[str] = set()  # image names whose build never ends by itself
        self.while_building: Callable[[], object] | None = None  # called once per build
        self.stopped: list[str] = []  # the reasons builds were stopped for
        self.registry_down = False

    def build(
        self,
        request: BuildRequest,
        *,
        output: Callable[[str], None],
        stop: Callable[[], str | None] | None = None,
    ) -> str:
        if request.log is not None:  # as the real builder: masked, kept in the log, then told
            request.log.parent.mkdir(parents=True, exist_ok=True)
            request.log.write_text("")
        output = partial(_keep, request, output)
        output(f"Step 1/1 : building {request.image}")
        for line in self.prints:
            output(line)
        if self.while_building is not None:
            self.while_building()
        if request.image in self.hang:
            # a RUN step that never ends: only `stop` ends it, asked every (fake) second
            for _ in range(100_000):
                reason = stop() if stop is not None else None
                if reason is not None:
                    self.stopped.append(reason)
                    raise BuildError(f"the build of {request.image} was stopped: {reason}")
                self.clock.sleep(1.0)
            raise AssertionError("a hanging build was never stopped")
        if request.image in self.fail_build:
            said = f": {self.prints[-1]}" if self.prints else ""
            raise BuildError(
                f"the build failed: RUN returned 1{said}",
                log_tail="\n".join(["RUN returned 1", *self.prints]),
            )
        self.builds.append(request)
        return f"sha256:{len(self.builds):064x}"

    def push(self, image: str) -> str:
        if self.registry_down:
            raise RegistryError("the registry is down")
        self.pushed.append(image)
        return f"sha256:{1000 + len(self.pushed):064x}"

    def remove(self, image: str) -> None:
        self.removed.append(image)


@dataclass
class Container:
    spec: RunSpec
    running: bool = True
    health: Health = Health.HEALTHY
    restarts: int = 0


class FakeRuntime:
    """Containers as records; `health_of[version]` decides how a release behaves."""

    def __init__(self) -> None:
        self.current: dict[tuple[str, str], Container] = {}
        self.candidates: dict[str, tuple[tuple[str, str], Container, Container | None]] = {}
        self.health_of: dict[int, Health] = {}
        self.starts: list[RunSpec] = []
        self.handles = itertools.count(1)
        self.broken = False
        self.unreachable_restores = 0  # the next restores find the engine down (restarting)
        self.away = False  # the engine does not answer at all (listing, restoring)

    def start(self, spec: RunSpec) -> str:
        if self.broken:
            from chatops.errors import RuntimeFailure

            raise RuntimeFailure("the engine is down")
        key = (spec.bot, spec.env)
        handle = f"c{next(self.handles)}"
        old = self.current.get(key)
        new = Container(spec, health=self.health_of.get(spec.version, Health.HEALTHY))
        self.candidates[handle] = (key, new, old)
        self.current[key] = new
        self.starts.append(spec)
        return handle

    def observe(self, bot: str, env: str, handle: str | None = None) -> Observation:
        container = (
            self.candidates[handle][1]
            if handle in self.candidates
            else self.current.get((bot, env))
        )
        if container is None:
            return Observation(health=Health.UNKNOWN, running=False, missing=True)
        return Observation(
            health=container.health,
            running=container.running,
            release=f"v{container.spec.version}",
            restarts=container.restarts,
        )

    def commit(self, bot: str, env: str, handle: str) -> None:
        self.candidates.pop(handle, None)

    def restore(self, bot: str, env: str, previous: RunSpec | None) -> None:
        self._answer()
        if self.unreachable_restores > 0:
            from chatops.errors import EngineUnreachable

            self.unreachable_restores -= 1
            raise EngineUnreachable("restoring: the Docker Engine cannot be reached")
        for handle, (key, _new, old) in list(self.candidates.items()):
            if key == (bot, env):
                del self.candidates[handle]
                if old is not None:
                    self.current[key] = old
                else:
                    self.current.pop(key, None)
                return
        if previous is None:
            self.current.pop((bot, env), None)
        elif (
            self.current.get((bot, env)) is None
            or self.current[(bot, env)].spec.version != previous.version
            or not self.current[(bot, env)].running
        ):
            self.current[(bot, env)] = Container(
                previous, health=self.health_of.get(previous.version, Health.HEALTHY)
            )

    def logs(self, bot: str, env: str, lines: int) -> str:
        container = self.current.get((bot, env))
        if container is None:
            raise NotFound(f"nothing of {bot} runs in {env}")
        secret = container.spec.environment.get("API_TOKEN", "")
        return f"started v{container.spec.version}\ntoken is {secret}\n"

    def remove(self, bot: str, env: str) -> None:
        self.current.pop((bot, env), None)

    def _answer(self) -> None:
        if self.away:
            from chatops.errors import EngineUnreachable

            raise EngineUnreachable("the Docker Engine cannot be reached")

    def list_managed(self) -> list[tuple[str, str, str | None, bool]]:
        self._answer()
        return [
            (bot, env, f"v{c.spec.version}", c.running) for (bot, env), c in self.current.items()
        ]

    def version(self, bot: str, env: str) -> int | None:
        container = self.current.get((bot, env))
        return container.spec.version if container and container.running else None


class FakeProbe:
    def __init__(self) -> None:
        self.result = (Health.HEALTHY, "200")

    def check(self, spec: HealthSpec) -> tuple[Health, str]:
        return self.result


class FakeSecrets:
    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = values or {}
        self.unreadable = False
        self.resolved = 0

    def resolve(self, bot: Bot, target: BotTarget) -> dict[str, str]:
        self.resolved += 1
        if self.unreadable:
            from chatops.errors import ConfigError

            raise ConfigError(f"env_file of {bot.name} in {target.env} does not exist")
        return dict(self.values)


class FakeDirectory:
    def __init__(self, groups: dict[str, set[str]] | None = None) -> None:
        self.groups = groups or {}

    def expand(self, entries: Iterable[str]) -> frozenset[str]:
        users: set[str] = set()
        for entry in entries:
            users |= self.groups.get(entry, {entry})
        return frozenset(users)


class FakeFreezes:
    def __init__(self) -> None:
        self.windows: dict[str, FreezeWindow] = {}

    def open_window(self, env: Environment, now: datetime) -> FreezeWindow | None:
        window = self.windows.get(env.name)
        return window if window and window.starts_at <= now < window.ends_at else None


class NoForge:
    """CI checks where no forge is wired: every read says so."""

    def results(self, bot: Bot, sha: str) -> list[CiResult]:
        raise ConfigError(f"no forge is configured to read the CI checks of {bot.name}")


class FakeProcesses:
    def __init__(self, me: str = "host:boot:1:1") -> None:
        self._me = me
        self.dead: set[str] = set()

    def me(self) -> str:
        return self._me

    def alive(self, owner: str) -> bool | None:
        if owner in self.dead:
            return False
        return True if owner == self._me else None


class RecordingNotifier:
    def __init__(self) -> None:
        self.views: list[DeploymentView] = []
        self.alerts: list[AlertView] = []
        self.lines: list[str] = []
        self.said: list[tuple[str | None, str]] = []
        self.soaked: list[DeploymentView] = []

    def deployment_changed(self, view: DeploymentView) -> None:
        self.views.append(view)

    def build_output(self, deployment: Deployment, line: str) -> None:
        self.lines.append(line)

    def deployment_soaked(self, view: DeploymentView) -> None:
        self.soaked.append(view)

    def alert_changed(self, view: AlertView) -> None:
        self.alerts.append(view)

    def say(self, channel: str | None, text: str) -> None:
        self.said.append((channel, text))

    def states(self, deployment_id: int) -> list[State]:
        seen: list[State] = []
        for view in self.views:
            if view.deployment.id == deployment_id and (
                not seen or seen[-1] is not view.deployment.state
            ):
                seen.append(view.deployment.state)
        return seen


@dataclass
class World:
    """A whole chatops over fakes: the catalog, the ports and the store behind them."""

    catalog: Catalog
    clock: FakeClock = field(default_factory=FakeClock)
    tables: Tables = field(default_factory=Tables)
    source: FakeSource = field(default_factory=FakeSource)
    builder: FakeBuilder = field(default_factory=FakeBuilder)
    runtime: FakeRuntime = field(default_factory=FakeRuntime)
    probe: FakeProbe = field(default_factory=FakeProbe)
    secrets: FakeSecrets = field(default_factory=FakeSecrets)
    directory: FakeDirectory = field(default_factory=FakeDirectory)
    freezes: FakeFreezes = field(default_factory=FakeFreezes)
    processes: FakeProcesses = field(default_factory=FakeProcesses)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    workdir: Path = Path("/tmp/chatops-fake-workdir")
    public_url: str | None = None

    def __post_init__(self) -> None:
        self.builder.clock = self.clock  # a hanging build passes the world's time

    def uow(self) -> FakeUnitOfWork:
        """A unit of work over this world's tables."""
        return FakeUnitOfWork(self.tables)

    def services(
        self,
        launcher: Launcher | None = None,
        *,
        launching: LauncherFactory | None = None,
        metric_query: MetricQuery | None = None,
        **ports: Any,
    ) -> Services:
        """Every service over this world's fakes, wired as bootstrap wires them; `ports`
        replace some (`clock=`, `uow=`, `metrics=`…). Queued deployments run inline, or
        are handed to `launcher`, or to the launcher `launching` makes."""
        given: dict[str, Any] = {
            "uow": self.uow,
            "clock": self.clock,
            "source": self.source,
            "builders": dict.fromkeys(self.catalog.environments, self.builder),
            "runtimes": dict.fromkeys(self.catalog.environments, self.runtime),
            "probe": self.probe,
            "secrets": self.secrets,
            "directory": self.directory,
            "freezes": self.freezes,
            "processes": self.processes,
            "notifier": self.notifier,
            "metrics": NullMetrics(),
            "ci": NoForge(),
            "workdir": self.workdir,
            "tuning": Tuning(
                health_poll_seconds=0.25, settle_seconds=0.0, build_slot_wait_seconds=5
            ),
            "public_url": self.public_url,
        }
        given.update(ports)
        return Services(
            self.catalog,
            launcher=launching or (InlineLauncher if launcher is None else lambda _: launcher),
            metric_query=None if metric_query is None else lambda: metric_query,
            **given,
        )


def catalog(
    *,
    staging: dict[str, object] | None = None,
    prod: dict[str, object] | None = None,
    admins: Iterable[str] = ("UADMIN",),
    registry: str | None = "registry.test",
) -> Catalog:
    """mybot in staging → prod: prod takes promotions after 10 min soak and 1 approval by a lead."""
    environments = {
        "staging": Environment(name="staging", **(staging or {})),  # type: ignore[arg-type]
        "prod": Environment(
            name="prod",
            **{  # type: ignore[arg-type]
                "promote_from": "staging",
                "soak": timedelta(minutes=10),
                "approvals": 1,
                "approvers": frozenset({"ULEAD1", "ULEAD2"}),
                "deployers": frozenset({"UDEV", "ULEAD1", "ULEAD2"}),
                **(prod or {}),
            },
        ),
    }
    targets = {
        name: BotTarget(
            env=name, env_vars={"LOG_LEVEL": "debug"}, health_timeout=timedelta(seconds=10)
        )
        for name in environments
    }
    bot = Bot(name="mybot", repo="/srv/git/mybot.git", targets=targets)
    return Catalog(
        environments=environments, bots={"mybot": bot}, admins=frozenset(admins), registry=registry
    )
