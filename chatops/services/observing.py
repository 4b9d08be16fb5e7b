"""What runs for a bot in an environment, with the bot's own health rule applied."""

from __future__ import annotations

from dataclasses import replace

from chatops.domain.catalog import Catalog, HealthKind
from chatops.domain.health import Health, Observation
from chatops.services.engines import Engines
from chatops.services.ports import HealthProbe

__all__ = ["HealthObserver"]


class HealthObserver:
    """Asks the engine what runs, and probes it where the bot's health rule says so."""

    def __init__(self, catalog: Catalog, engines: Engines, probe: HealthProbe) -> None:
        self._catalog = catalog
        self._engines = engines
        self._probe = probe

    def observe(self, bot: str, env: str, handle: str | None = None) -> Observation:
        """What runs for (bot, env) now (or the candidate `handle`), judged by its rule.

        The engine's HEALTHCHECK status is used as is; an `http` health rule is
        probed from here; `none` counts a running container as healthy.
        """
        catalog = self._catalog
        target = catalog.bots[bot].targets.get(env) if bot in catalog.bots else None
        observation = self._engines.runtime(env).observe(bot, env, handle)
        if target is None or observation.missing or not observation.running:
            return observation
        if target.health.kind is HealthKind.HTTP:
            health, detail = self._probe.check(target.health)
            return replace(observation, health=health, detail=detail)
        if target.health.kind is HealthKind.NONE:
            return replace(observation, health=Health.HEALTHY, detail="")
        return observation
