"""`retention`: letting old releases' images and build logs, leftover build folders and
old audit events go, run by the scheduler's leader.

Never a release that is live, was live just before, or is on its way somewhere (see
`chatops.domain.retention`), and never a git tag: release tags are never moved or
deleted (DESIGN §3). Only this instance's releases are looked at (its own database), so
another installation's images on the same engine are never touched.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from chatops.domain.catalog import Catalog
from chatops.domain.deployment import Release
from chatops.domain.retention import releases_to_prune
from chatops.services.engines import Engines
from chatops.services.ports import Clock, ImageBuilder, UnitOfWorkFactory

__all__ = ["Pruned", "Retention"]

log = logging.getLogger(__name__)

STALE_BUILD_SECONDS = 24 * 3600  # a build folder this old was left by a process that died
_ALL = 1_000_000


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one run let go."""

    releases: int = 0
    logs: int = 0
    builds: int = 0
    audit_events: int = 0


class Retention:
    """Prunes what `retention` lets go: images and build logs of old releases, stale build
    folders, old audit events."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        engines: Engines,
        workdir: Path,
    ) -> None:
        self._catalog = catalog
        self._uow = uow
        self._clock = clock
        self._engines = engines
        self._workdir = workdir

    def prune(self) -> Pruned:
        """Apply `retention`; nothing when it is not configured.

        Raises:
            StoreError: the database cannot be reached.
        """
        policy = self._catalog.retention
        releases = logs = 0
        if policy.releases is not None:
            for bot in self._catalog.bots.values():
                for release in self._prunable(bot.name, policy.releases):
                    self._remove_images(release)
                    logs += self._remove_logs(release)
                    releases += 1
        builds = self._remove_stale_builds()
        audit = 0
        if policy.audit_days is not None:
            before = self._clock.now() - timedelta(days=policy.audit_days)
            with self._uow() as uow:
                audit = uow.audit.prune(before)
                uow.commit()
        pruned = Pruned(releases=releases, logs=logs, builds=builds, audit_events=audit)
        if pruned != Pruned():
            log.info("retention: %s", pruned)
        return pruned

    def _prunable(self, bot: str, keep: int) -> list[Release]:
        with self._uow() as uow:
            releases = {r.version: r for r in uow.releases.list(bot, limit=_ALL)}
            histories = [
                uow.deployments.history(bot, env, limit=_ALL)
                for env in self._catalog.bots[bot].targets
            ]
        versions = releases_to_prune(releases, keep=keep, histories=histories)
        return [releases[v] for v in versions]

    def _remove_images(self, release: Release) -> None:
        """Drop the release's tags on every engine chatops builds on (quietly, when absent or
        still used by a container)."""
        builders: dict[int, ImageBuilder] = {id(b): b for b in self._engines.builders.values()}
        refs = [release.image]
        if release.pull_ref != release.image_id:
            refs.append(release.pull_ref)  # the digest reference a runtime pulled
        for builder in builders.values():
            for ref in refs:
                builder.remove(ref)

    def _remove_logs(self, release: Release) -> int:
        folder = self._workdir / "logs" / release.bot
        found = list(folder.glob(f"v{release.version}-deployment-*.log"))
        for path in found:
            path.unlink(missing_ok=True)
        return len(found)

    def _remove_stale_builds(self) -> int:
        builds = self._workdir / "builds"
        if not builds.is_dir():
            return 0
        cutoff = time.time() - STALE_BUILD_SECONDS
        stale = [p for p in builds.iterdir() if p.stat().st_mtime < cutoff]
        for path in stale:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        return len(stale)
