"""Read-only use cases: releases, status, one deployment's view, logs."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import replace

from chatops.domain.alerts import Alert
from chatops.domain.approvals import Vote, tally
from chatops.domain.audit import Outcome
from chatops.domain.catalog import HealthKind
from chatops.domain.deployment import Deployment, Kind, State
from chatops.domain.health import Health, Observation
from chatops.domain.names import validate_name
from chatops.domain.verification import Assessment
from chatops.domain.viewers import check_viewer, viewers_of
from chatops.errors import ChatOpsError, NotFound
from chatops.services.context import Actor, Deps
from chatops.services.runs import downstream_soak, verification_of, verifications_of
from chatops.services.viewing import MAX_CHANGES, build_view
from chatops.services.views import DeploymentView, ReleaseRow, RolledBack, StatusRow

__all__ = ["MAX_CHANGES", "Queries", "announce", "observe_health"]

log = logging.getLogger(__name__)


def observe_health(deps: Deps, bot: str, env: str, handle: str | None = None) -> Observation:
    """What runs for (bot, env) now, with the bot's own health rule applied.

    The engine's HEALTHCHECK status is used as is; an `http` health rule is
    probed from here; `none` counts a running container as healthy.
    """
    catalog = deps.catalog
    target = catalog.bots[bot].targets.get(env) if bot in catalog.bots else None
    observation = deps.runtime(env).observe(bot, env, handle)
    if target is None or observation.missing or not observation.running:
        return observation
    if target.health.kind is HealthKind.HTTP:
        health, detail = deps.probe.check(target.health)
        return replace(observation, health=health, detail=detail)
    if target.health.kind is HealthKind.NONE:
        return replace(observation, health=Health.HEALTHY, detail="")
    return observation


def announce(deps: Deps, deployment: Deployment) -> None:
    """Tell the channel how `deployment`, as its caller has just saved it, stands now (a chat
    outage never stops anything)."""
    if deployment.id is None:
        return
    try:
        view = Queries(deps).view(deployment.id, saved=deployment)
    except ChatOpsError:
        log.exception("cannot build the view of #%s", deployment.id)
        return
    deps.tell(view)


_ROLLBACKS = (Kind.ROLLBACK, Kind.AUTO_ROLLBACK)


def _recorded_health(row: StatusRow) -> Health:
    """Health as the last checks left it, without asking an engine."""
    if row.deployment is None:
        return Health.UNKNOWN
    if row.open_alerts:
        return Health.UNHEALTHY
    return Health.HEALTHY if row.deployment.healthy_since is not None else Health.UNKNOWN


class Queries:
    """Answers `releases`, `status`, `logs`, and builds the view of one deployment."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    def releases(self, bot: str, env: str | None = None, *, limit: int = 20) -> list[ReleaseRow]:
        """Recent releases of a bot, newest first, with where each is and was live.

        Raises:
            NotFound: unknown bot or environment.
        """
        catalog = self._deps.catalog
        catalog.bot(validate_name("bot", bot))
        if env is not None:
            catalog.environment(validate_name("environment", env))
        live_in: dict[int, list[str]] = defaultdict(list)
        was_live: dict[int, list[str]] = defaultdict(list)
        promotions: list[tuple[Deployment, list[Vote]]] = []
        verified: dict[int, list[tuple[str, Assessment]]] = defaultdict(list)
        now = self._deps.clock.now()
        rolled_back: dict[int, list[RolledBack]] = defaultdict(list)
        with self._deps.uow() as uow:
            releases = uow.releases.list(bot, limit=1000 if env else limit)
            for deployment in uow.deployments.history(bot, None, limit=1000):
                if deployment.version is None or not deployment.reached_live:
                    continue
                if deployment.state is State.LIVE:
                    live_in[deployment.version].append(deployment.env)
                    where = catalog.environments.get(deployment.env)
                    assessment = verification_of(
                        uow,
                        where.verify if where else None,
                        deployment,
                        soak=downstream_soak(catalog, deployment.env),
                        now=now,
                    )
                    if assessment is not None:
                        verified[deployment.version].append((deployment.env, assessment))
                if deployment.env not in was_live[deployment.version]:
                    was_live[deployment.version].append(deployment.env)
                if deployment.kind is Kind.PROMOTE and deployment.id is not None:
                    promotions.append((deployment, uow.votes.list(deployment.id)))
                if deployment.kind in _ROLLBACKS and deployment.previous_version is not None:
                    rolled_back[deployment.previous_version].insert(
                        0,
                        RolledBack(
                            env=deployment.env,
                            by=deployment.requested_by,
                            reason=deployment.request_reason,
                            deployment_id=deployment.id,
                            to_version=deployment.version,
                        ),
                    )
        approvers: dict[int, list[str]] = defaultdict(list)
        expanded: dict[str, frozenset[str]] = {}  # the approvers of each environment, asked once
        for deployment, votes in promotions:
            environment = catalog.environments.get(deployment.env)
            if environment is None or not votes or deployment.version is None:
                continue
            if environment.name not in expanded:
                expanded[environment.name] = self._deps.directory.expand(environment.approvers)
            approved = tally(
                votes,
                requester=deployment.requested_by,
                approvers=expanded[environment.name],
                needed=environment.approvals,
            ).approved_by
            seen = approvers[deployment.version]
            seen.extend(a for a in approved if a not in seen)
        rows = [
            ReleaseRow(
                release=release,
                live_in=tuple(sorted(live_in[release.version])),
                was_live_in=tuple(was_live[release.version]),
                approved_by=tuple(approvers[release.version]),
                verification=tuple(sorted(verified[release.version], key=lambda p: p[0])),
                rolled_back=tuple(rolled_back[release.version]),
            )
            for release in releases
            if env is None or env in was_live[release.version]
        ]
        return rows[:limit]

    def status(self, bot: str | None = None, *, probe: bool = True) -> list[StatusRow]:
        """What runs where, its health, open alerts, locks and pending approvals.

        `probe` asks the engines for health now; otherwise health is what the checks
        recorded (an open alert: unhealthy; healthy since a time: healthy).

        Raises:
            NotFound: unknown bot.
        """
        catalog = self._deps.catalog
        bots = [catalog.bot(validate_name("bot", bot)).name] if bot else sorted(catalog.bots)
        rows: list[StatusRow] = []
        now = self._deps.clock.now()
        # three queries, and three per environment with `verify`, whatever the number of
        # bots: the web overview renders this for hundreds
        with self._deps.uow() as uow:
            facts = uow.status.facts(bots[0] if bot else None)
            live = {(d.bot, d.env): d for d in facts.live}
            in_progress: dict[tuple[str, str], Deployment] = {}
            pending: dict[tuple[str, str], list[Deployment]] = defaultdict(list)
            for d in facts.active:
                if d.state is State.PENDING_APPROVAL:
                    pending[(d.bot, d.env)].insert(0, d)  # newest first, as before
                else:
                    in_progress[(d.bot, d.env)] = d
            locks = {(lock.bot, lock.env): lock for lock in facts.locks}
            open_alerts: dict[tuple[str, str], list[Alert]] = defaultdict(list)
            for alert in facts.open_alerts:
                open_alerts[(alert.bot, alert.env)].append(alert)
            verified: dict[int, Assessment] = {}
            for env, environment in catalog.environments.items():
                if environment.verify is None:
                    continue
                # three queries per verified environment, whatever the number of bots
                verified |= verifications_of(
                    uow,
                    env,
                    environment.verify,
                    [d for (_, e), d in live.items() if e == env],
                    soak=downstream_soak(catalog, env),
                    now=now,
                )
            for name in bots:
                for env in catalog.bots[name].targets:
                    key = (name, env)
                    lock = locks.get(key)
                    lock = lock if lock is not None and lock.active(now) else None
                    if (
                        key not in live
                        and key not in in_progress
                        and not pending[key]
                        and lock is None
                    ):
                        continue
                    deployment = live.get(key)
                    rows.append(
                        StatusRow(
                            bot=name,
                            env=env,
                            deployment=deployment,
                            verification=verified.get(deployment.id or 0) if deployment else None,
                            lock=lock,
                            pending=tuple(pending[key]),
                            in_progress=in_progress.get(key),
                            open_alerts=tuple(open_alerts[key]),
                        )
                    )
        if probe:
            return [self._with_health(row) for row in rows]
        return [replace(row, health=_recorded_health(row)) for row in rows]

    def _with_health(self, row: StatusRow) -> StatusRow:
        if row.deployment is None:
            return row
        try:
            observation = observe_health(self._deps, row.bot, row.env)
        except ChatOpsError as exc:
            log.warning("could not observe %s in %s: %s", row.bot, row.env, exc)
            return row
        health = observation.overall
        return replace(row, health=Health.UNKNOWN if health is Health.STARTING else health)

    def deployment(self, deployment_id: int) -> Deployment:
        """Raises NotFound for an unknown id."""
        with self._deps.uow() as uow:
            deployment = uow.deployments.get(deployment_id)
        if deployment is None:
            raise NotFound(f"there is no deployment #{deployment_id}")
        return deployment

    def view(self, deployment_id: int, *, saved: Deployment | None = None) -> DeploymentView:
        """Everything a message about one deployment shows (see `viewing.build_view`).

        Args:
            saved: the deployment as its writer has just saved it: not read again
                (unless it is live).

        Raises:
            NotFound: there is no deployment `deployment_id`.
        """
        deps = self._deps
        return build_view(
            deployment_id,
            saved=saved,
            catalog=deps.catalog,
            uow=deps.uow,
            clock=deps.clock,
            directory=deps.directory,
            source=deps.source,
            page_url=deps.page_url,
            facts=deps.view_facts,
        )

    def logs(self, actor: Actor, bot: str, env: str, *, lines: int = 50) -> str:
        """The last lines of what runs, with every secret value masked, for the env's viewers.

        Reading logs is audited, and so is a refusal.

        Raises:
            NotFound: unknown bot or environment, or nothing runs there.
            NotAllowed: `actor` is not among the environment's viewers nor an admin.
            ConfigError: the secrets to mask cannot be read, or one is too short to mask.
        """
        deps = self._deps
        with deps.refusals_audited(actor, "logs", bot=bot, env=env):
            _, environment, _ = deps.catalog.target(
                validate_name("bot", bot), validate_name("environment", env)
            )
            check_viewer(
                environment,
                actor.user,
                viewers=deps.directory.expand(viewers_of(environment)),
                admins=deps.catalog.admins,
            )
        lines = max(1, min(lines, 1000))
        try:
            raw = deps.runtime(env).logs(bot, env, lines)
        except NotFound as exc:
            # the way there is the one policy allows: a promotion where env takes only those
            way = f"/promote {bot} {env}" if environment.promote_from else f"/deploy {bot} {env}"
            raise NotFound(exc.message, hint=f"`{way}` puts it there") from None
        text = deps.redactor(bot, env)(raw)
        deps.audit_alone(actor, "logs", Outcome.OK, bot=bot, env=env, detail=f"{lines} lines")
        return text

    def alert_logs(self, actor: Actor, alert_id: int, *, lines: int = 50) -> tuple[Alert, str]:
        """The alert, and the last lines of what runs where it fired (as `logs`).

        Raises:
            NotFound: there is no alert `alert_id`, or nothing runs there now.
            NotAllowed: as for `logs`.
        """
        with self._deps.uow() as uow:
            alert = uow.alerts.get(alert_id)
        if alert is None:
            raise NotFound(f"there is no alert #{alert_id}")
        return alert, self.logs(actor, alert.bot, alert.env, lines=lines)
