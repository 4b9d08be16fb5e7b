"""What the web view shows: the overview, a bot's timeline, one deployment, the audit log.

Built on `Queries` (the same rows the CLI's `--json` prints); only what a page
shows beyond them (a bot's whole history, a deployment's events, the audit log
filtered and paged) is read here. Nothing here changes anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from chatops.domain.alerts import Alert
from chatops.domain.approvals import Vote
from chatops.domain.audit import AuditEvent
from chatops.domain.catalog import Catalog
from chatops.domain.deployment import Commit, Deployment, State
from chatops.domain.names import validate_name
from chatops.domain.verification import Measurement
from chatops.errors import ChatOpsError, NotFound
from chatops.services.logs import LogReader
from chatops.services.ports import MessageRef, SourceControl, UnitOfWorkFactory
from chatops.services.queries import MAX_CHANGES, Queries
from chatops.services.views import DeploymentView, ReleaseRow, StatusRow

__all__ = [
    "AuditFilter",
    "Board",
    "Changes",
    "DeploymentPage",
    "Timeline",
    "build_log_path",
]

log = logging.getLogger(__name__)

TIMELINE_LENGTH = 50
AUDIT_PAGE = 50
MEASUREMENTS_SHOWN = 200  # a deployment's newest; a month live at 30 s is 86,400 per check


def build_log_path(workdir: Path, deployment: Deployment) -> Path | None:
    """Where the build output of `deployment` is written (secrets masked as it is written)."""
    if deployment.id is None or deployment.version is None:
        return None
    name = f"v{deployment.version}-deployment-{deployment.id}.log"
    return workdir / "logs" / deployment.bot / name


@dataclass(frozen=True, slots=True)
class Timeline:
    """A bot's releases and everything that happened to them, newest first."""

    bot: str
    branch: str
    environments: tuple[str, ...]
    status: tuple[StatusRow, ...]
    releases: tuple[ReleaseRow, ...]
    deployments: tuple[Deployment, ...]
    alerts: tuple[Alert, ...]
    votes: dict[int, tuple[Vote, ...]]


@dataclass(frozen=True, slots=True)
class Changes:
    """Commits between two points of a bot's branch, newest first."""

    commits: tuple[Commit, ...]
    more: int = 0
    compare_url: str | None = None
    base: str | None = None
    head: str | None = None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class DeploymentPage:
    view: DeploymentView
    events: tuple[AuditEvent, ...]
    alerts: tuple[Alert, ...]
    message: MessageRef | None
    measurements: tuple[Measurement, ...] = ()  # its newest, oldest first
    more_measurements: bool = False  # older ones are not shown

    def by_check(self) -> list[tuple[str, list[Measurement]]]:
        """The measurements per check, checks in the order first measured, newest first."""
        checks: dict[str, list[Measurement]] = {}
        for m in self.measurements:
            checks.setdefault(m.check, []).append(m)
        return [(check, list(reversed(found))) for check, found in checks.items()]


@dataclass(frozen=True, slots=True)
class AuditFilter:
    bot: str | None = None
    env: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None
    limit: int = AUDIT_PAGE


class Board:
    """Read-only answers for the web view."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        uow: UnitOfWorkFactory,
        source: SourceControl,
        workdir: Path,
        queries: Queries,
        logs: LogReader,
    ) -> None:
        self._catalog = catalog
        self._uow = uow
        self._source = source
        self._workdir = workdir
        self._queries = queries
        self._logs = logs

    def overview(self) -> list[StatusRow]:
        """Every bot in every environment with something to show, with health as the
        monitor recorded it (no probe: hundreds per page view), as `status` shows it."""
        return self._queries.status(probe=False)

    def timeline(self, bot: str, *, limit: int = TIMELINE_LENGTH) -> Timeline:
        """Raises NotFound for an unknown bot."""
        the_bot = self._catalog.bot(validate_name("bot", bot))
        status = self._queries.status(the_bot.name, probe=False)
        releases = self._queries.releases(the_bot.name, limit=limit)
        with self._uow() as uow:
            deployments = uow.deployments.history(the_bot.name, None, limit=limit)
            alerts = uow.alerts.history(the_bot.name, limit=limit)
            votes = {
                d.id: tuple(uow.votes.list(d.id))
                for d in deployments
                if d.id is not None and (d.state is State.PENDING_APPROVAL or d.kind != "deploy")
            }
        return Timeline(
            bot=the_bot.name,
            branch=the_bot.branch,
            environments=tuple(the_bot.targets),
            status=tuple(status),
            releases=tuple(releases),
            deployments=tuple(deployments),
            alerts=tuple(alerts),
            votes={k: v for k, v in votes.items() if v},
        )

    def release_changes(self, bot: str, version: int) -> Changes:
        """What release `version` brought since the release before it.

        Raises:
            NotFound: unknown bot or release.
        """
        the_bot = self._catalog.bot(validate_name("bot", bot))
        with self._uow() as uow:
            release = uow.releases.get(the_bot.name, version)
            earlier = uow.releases.get(the_bot.name, version - 1) if version > 1 else None
        if release is None:
            raise NotFound(f"{the_bot.name} has no release v{version}")
        return self._log(
            the_bot.name, base=earlier.commit if earlier else None, head=release.commit
        )

    def upcoming(self, bot: str) -> Changes:
        """Commits on the bot's branch that are not live in any environment yet.

        Raises:
            NotFound: unknown bot.
        """
        the_bot = self._catalog.bot(validate_name("bot", bot))
        with self._uow() as uow:
            live = [d for d in uow.deployments.all_live() if d.bot == the_bot.name and d.commit]
        try:
            self._source.fetch(the_bot)
            head = self._source.resolve(the_bot, the_bot.branch).sha
        except ChatOpsError as exc:
            return Changes(commits=(), problem=f"cannot read {the_bot.branch}: {exc.message}")
        bases = [d.commit for d in live if d.commit]
        newest_base = None
        for base in bases:  # the live commit closest to the head (the last promoted may lag)
            if base == head:
                return Changes(commits=(), base=base, head=head)
            try:
                if self._source.is_ancestor(the_bot, base, head) and (
                    newest_base is None or self._source.is_ancestor(the_bot, newest_base, base)
                ):
                    newest_base = base
            except ChatOpsError:
                continue
        return self._log(the_bot.name, base=newest_base, head=head)

    def _log(self, bot: str, *, base: str | None, head: str) -> Changes:
        the_bot = self._catalog.bots[bot]
        try:
            commits, total = self._source.log(the_bot, since=base, until=head, limit=MAX_CHANGES)
            compare = self._source.compare_url(the_bot, base=base, head=head) if base else None
        except ChatOpsError as exc:
            log.info("no change list for %s %s..%s: %s", bot, base, head, exc)
            return Changes(commits=(), base=base, head=head, problem=exc.message)
        return Changes(
            commits=tuple(commits),
            more=max(0, total - len(commits)),
            compare_url=compare,
            base=base,
            head=head,
        )

    def deployment(self, deployment_id: int) -> DeploymentPage:
        """Raises NotFound for an unknown id."""
        view = self._queries.view(deployment_id)
        subject = f"deployment:{deployment_id}"
        with self._uow() as uow:
            events = uow.audit.list(deployment_id=deployment_id, limit=200)
            alerts = [
                a
                for a in uow.alerts.history(view.deployment.bot, limit=200)
                if a.deployment_id == deployment_id
            ]
            message = uow.messages.get(subject)
            measurements = uow.measurements.for_deployments(
                [deployment_id], limit=MEASUREMENTS_SHOWN + 1
            )
        return DeploymentPage(
            view=view,
            events=tuple(reversed(events)),
            alerts=tuple(alerts),
            message=message,
            measurements=tuple(measurements[-MEASUREMENTS_SHOWN:]),
            more_measurements=len(measurements) > MEASUREMENTS_SHOWN,
        )

    def build_log(self, deployment: Deployment) -> Path | None:
        return build_log_path(self._workdir, deployment)

    def state(self, deployment_id: int) -> State:
        """Where a deployment stands now (one row read). Raises NotFound for an unknown id."""
        return self._queries.deployment(deployment_id).state

    def masker(self, deployment: Deployment) -> Callable[[str], str]:
        """Masks every secret of the deployment's bot and environment in a text.

        Logs are masked as they are written; pages mask again what they show, for text
        written before a secret existed, or by an older chatops.

        Raises:
            ConfigError: the secrets cannot be read, or one is too short to mask.
        """
        return self._logs.redactor(deployment.bot, deployment.env)

    def may_read_logs(self, user: str, env: str) -> bool:
        """Whether `user` is among the viewers of `env` (or an admin)."""
        return self._logs.may_read(user, env)

    def audit(self, wanted: AuditFilter) -> list[AuditEvent]:
        """The audit log, newest first, filtered; page on with `before_id`."""
        with self._uow() as uow:
            return uow.audit.list(
                bot=wanted.bot,
                env=wanted.env,
                actor=wanted.actor,
                action=wanted.action,
                since=wanted.since,
                until=wanted.until,
                before_id=wanted.before_id,
                limit=max(1, min(wanted.limit, 500)),
            )
