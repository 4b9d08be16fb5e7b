"""Answers `releases`: what was built, and where each release is and was live."""

from __future__ import annotations

from collections import defaultdict

from chatops.domain.approvals import tally
from chatops.domain.catalog import Catalog
from chatops.domain.deployment import Deployment, Kind, State
from chatops.domain.names import validate_name
from chatops.domain.verification import Assessment
from chatops.services.ports import Clock, Directory
from chatops.services.runs import downstream_soak, verification_of
from chatops.services.status_reads import ReadsFactory
from chatops.services.views import ReleaseRow, RolledBack

__all__ = ["ReleaseHistory"]

_ROLLBACKS = (Kind.ROLLBACK, Kind.AUTO_ROLLBACK)


class ReleaseHistory:
    """Answers `releases`: what was built, and where each release is and was live."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        reads: ReadsFactory,
        clock: Clock,
        directory: Directory,
    ) -> None:
        self._catalog = catalog
        self._reads = reads
        self._clock = clock
        self._directory = directory

    def releases(self, bot: str, env: str | None = None, *, limit: int = 20) -> list[ReleaseRow]:
        """Recent releases of a bot, newest first, with where each is and was live.

        Raises:
            NotFound: unknown bot or environment.
        """
        catalog = self._catalog
        catalog.bot(validate_name("bot", bot))
        if env is not None:
            catalog.environment(validate_name("environment", env))
        live_in: dict[int, list[str]] = defaultdict(list)
        was_live: dict[int, list[str]] = defaultdict(list)
        promotions: list[Deployment] = []
        verified: dict[int, list[tuple[str, Assessment]]] = defaultdict(list)
        now = self._clock.now()
        rolled_back: dict[int, list[RolledBack]] = defaultdict(list)
        with self._reads() as reads:
            releases = reads.releases.list(bot, limit=1000 if env else limit)
            for deployment in reads.deployments.history(bot, None, limit=1000):
                if deployment.version is None or not deployment.reached_live:
                    continue
                if deployment.state is State.LIVE:
                    live_in[deployment.version].append(deployment.env)
                    where = catalog.environments.get(deployment.env)
                    assessment = verification_of(
                        reads,
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
                    promotions.append(deployment)
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
            shown = [r for r in releases if env is None or env in was_live[r.version]][:limit]
            versions = {release.version for release in shown}
            # the decisions on the promotions of the releases shown, and of no others
            decided = [
                (deployment, reads.votes.list(deployment.id or 0))
                for deployment in promotions
                if deployment.version in versions
            ]
        approvers: dict[int, list[str]] = defaultdict(list)
        expanded: dict[str, frozenset[str]] = {}  # the approvers of each environment, asked once
        for deployment, votes in decided:
            environment = catalog.environments.get(deployment.env)
            if environment is None or not votes or deployment.version is None:
                continue
            if environment.name not in expanded:
                expanded[environment.name] = self._directory.expand(environment.approvers)
            approved = tally(
                votes,
                requester=deployment.requested_by,
                approvers=expanded[environment.name],
                needed=environment.approvals,
            ).approved_by
            seen = approvers[deployment.version]
            seen.extend(a for a in approved if a not in seen)
        return [
            ReleaseRow(
                release=release,
                live_in=tuple(sorted(live_in[release.version])),
                was_live_in=tuple(was_live[release.version]),
                approved_by=tuple(approvers[release.version]),
                verification=tuple(sorted(verified[release.version], key=lambda p: p[0])),
                rolled_back=tuple(rolled_back[release.version]),
            )
            for release in shown
        ]
