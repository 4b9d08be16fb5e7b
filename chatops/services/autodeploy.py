"""GitOps: a branch head deploys itself where an environment says `auto_deploy: <branch>`.

Heads arrive by push webhook or are polled every `poll_seconds`. A head is
deployed once: not again after it went live, nor after it failed (a fix is a
new commit), and not while a rollback holds automatic deploys.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from chatops.domain.catalog import Bot
from chatops.domain.deployment import Deployment
from chatops.domain.repos import same_repository
from chatops.errors import ChatOpsError, UserError
from chatops.services.context import Actor, Deps
from chatops.services.requests import Requests

__all__ = ["AutoDeploy", "Started"]

log = logging.getLogger(__name__)

POLLER = Actor("chatops", "poll")


@dataclass(frozen=True, slots=True)
class Started:
    """What one automatic deploy of one bot into one environment came to."""

    bot: str
    env: str
    deployment: Deployment | None = None
    refused: str | None = None


class AutoDeploy:
    """Deploys pushed or polled branch heads into the environments that follow them."""

    def __init__(self, deps: Deps, requests: Requests) -> None:
        self._deps = deps
        self._requests = requests

    def pushed(
        self, *, urls: set[str], full_name: str | None, branch: str, sha: str, pusher: str
    ) -> list[Started]:
        """A push webhook: deploy `sha` wherever a bot of that repository follows `branch`."""
        actor = Actor(pusher, "webhook")
        started: list[Started] = []
        for bot in self._deps.catalog.bots.values():
            if same_repository(bot.repo, urls=urls, full_name=full_name):
                started.extend(
                    self._deploy(actor, bot, env, sha) for env in self._following(bot, branch)
                )
        return started

    def poll(self, env: str) -> list[Started]:
        """Fetch every bot that `env` follows and deploy new heads of its branch.

        Raises:
            NotFound: unknown environment.
        """
        environment = self._deps.catalog.environment(env)
        branch = environment.auto_deploy
        if branch is None:
            return []
        started: list[Started] = []
        for bot in self._deps.catalog.bots.values():
            if env not in bot.targets:
                continue
            try:
                self._deps.source.fetch(bot)
                head = self._deps.source.resolve(bot, branch)
            except ChatOpsError as exc:
                log.warning("cannot poll %s for %s: %s", bot.name, env, exc)
                continue
            if not self._seen(bot, env, head.sha):
                started.append(self._deploy(POLLER, bot, env, head.sha))
        return started

    def _following(self, bot: Bot, branch: str) -> list[str]:
        catalog = self._deps.catalog
        return [env for env in bot.targets if catalog.environments[env].auto_deploy == branch]

    def _seen(self, bot: Bot, env: str, sha: str) -> bool:
        """Whether `sha` was deployed into `env` already (live, failed or in progress)."""
        with self._deps.uow() as uow:
            latest = uow.deployments.history(bot.name, env, limit=1)
        return bool(latest) and latest[0].commit == sha

    def _deploy(self, actor: Actor, bot: Bot, env: str, sha: str) -> Started:
        try:
            deployment = self._requests.deploy(actor, bot.name, env, ref=sha, automatic=True)
        except UserError as exc:
            log.info("automatic deploy of %s to %s refused: %s", bot.name, env, exc)
            return Started(bot.name, env, refused=str(exc))
        return Started(bot.name, env, deployment=deployment)
