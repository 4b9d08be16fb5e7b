"""The runtime's instructions for one release of one bot in one environment."""

from __future__ import annotations

from collections.abc import Mapping

from chatops.domain.catalog import Bot, BotTarget, Environment
from chatops.domain.deployment import Release
from chatops.domain.names import DEFAULT_INSTANCE, image_name
from chatops.services.ports import RunSpec, UnitOfWorkFactory

__all__ = ["image_name", "previous_spec", "run_spec"]


def run_spec(
    release: Release,
    *,
    bot: Bot,
    environment: Environment,
    target: BotTarget,
    secrets: Mapping[str, str],
    instance: str = DEFAULT_INSTANCE,
) -> RunSpec:
    """The runtime's instructions for running `release` of `bot` in `environment`."""
    variables = {
        **target.env_vars,
        **secrets,
        "CHATOPS_BOT": bot.name,
        "CHATOPS_ENV": environment.name,
        "CHATOPS_RELEASE": release.name,
    }
    return RunSpec(
        bot=bot.name,
        env=environment.name,
        version=release.version,
        image=release.pull_ref,
        image_name=release.image,
        commit=release.commit,
        environment=variables,
        network=environment.network,
        replicas=target.replicas,
        strategy=environment.strategy,
        instance=instance,
        resources=target.resources,
    )


def previous_spec(
    uow: UnitOfWorkFactory,
    *,
    bot: Bot,
    environment: Environment,
    target: BotTarget,
    secrets: Mapping[str, str],
    instance: str = DEFAULT_INSTANCE,
) -> RunSpec | None:
    """How to run again what is live in `environment` now (None when nothing is)."""
    with uow() as work:
        live = work.deployments.live(bot.name, environment.name)
        release = work.releases.get(bot.name, live.version) if live and live.version else None
    if release is None:
        return None
    return run_spec(
        release,
        bot=bot,
        environment=environment,
        target=target,
        secrets=secrets,
        instance=instance,
    )
