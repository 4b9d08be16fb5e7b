"""The runtime's instructions for one release of one bot in one environment."""

from __future__ import annotations

from chatops.domain.catalog import Bot, BotTarget, Environment
from chatops.domain.deployment import Release
from chatops.services.ports import RunSpec

__all__ = ["image_name", "run_spec"]


def image_name(registry: str | None, bot: str, version: int) -> str:
    return f"{registry.rstrip('/')}/{bot}:v{version}" if registry else f"{bot}:v{version}"


def run_spec(
    release: Release,
    *,
    bot: Bot,
    environment: Environment,
    target: BotTarget,
    secrets: dict[str, str],
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
        source=release.source,
    )
