"""GitOps: a branch head deploys itself where an environment says `auto_deploy: <branch>`.

Heads arrive by push webhook or are polled every `poll_seconds`; either way the
remote is the truth: chatops fetches, reads the branch head, and deploys it only
when it moves the environment forward.

- A head is deployed once: not again after it went live, nor after it failed (a
  fix is a new commit), and not while a rollback holds automatic deploys.
- A push whose commit is no longer the head (a late, replayed or redelivered
  webhook) never deploys that commit; it deploys the current head when that is new.
- A head that what is live already contains is not deployed: never backwards.
- A rewritten branch (what is live is not an ancestor of the head) deploys its
  head, audited as a history rewrite.
- A head that arrives while a deployment of (bot, env) is running (or waiting
  for approval) is recorded as wanted in the database; `drain` deploys the
  newest head once that deployment has ended, so a restart loses nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from chatops.domain.audit import Outcome
from chatops.domain.catalog import Bot, Catalog
from chatops.domain.deployment import Deployment
from chatops.domain.repos import same_repository
from chatops.errors import Busy, ChatOpsError, NotFound, UserError
from chatops.services.auditor import Auditor
from chatops.services.context import Actor
from chatops.services.ports import Clock, SourceControl, UnitOfWorkFactory, WantedHead
from chatops.services.requests import Requests

__all__ = ["POLLER", "AutoDeploy", "Started"]

log = logging.getLogger(__name__)

POLLER = Actor("chatops", "poll")


@dataclass(frozen=True, slots=True)
class Started:
    """What one automatic deploy of one bot into one environment came to.

    Exactly one of: the deployment started; why policy refused it; the deployment
    it waits for; why there was nothing to do.
    """

    bot: str
    env: str
    deployment: Deployment | None = None
    refused: str | None = None
    waiting_for: int | None = None
    skipped: str | None = None


class AutoDeploy:
    """Deploys pushed or polled branch heads into the environments that follow them."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        source: SourceControl,
        auditor: Auditor,
        requests: Requests,
    ) -> None:
        self._catalog = catalog
        self._uow = uow
        self._clock = clock
        self._source = source
        self._auditor = auditor
        self._requests = requests

    def pushed(
        self, *, urls: set[str], full_name: str | None, branch: str, sha: str, pusher: str
    ) -> list[Started]:
        """A push webhook: converge every environment following `branch` of that repository.

        `sha` is what the push says the head is; the remote's head is what deploys.

        Raises:
            SourceControlError: the remote cannot be read (nothing was deployed).
        """
        actor = Actor(pusher, "webhook")
        started: list[Started] = []
        for bot in self._catalog.bots.values():
            envs = self._following(bot, branch)
            if not envs or not same_repository(bot.repo, urls=urls, full_name=full_name):
                continue
            try:
                head = self._head(bot, branch)
            except NotFound:
                gone = f"{branch} is not a branch of {bot.name} any more"
                started.extend(Started(bot.name, env, skipped=gone) for env in envs)
                continue
            if head != sha:
                log.info(
                    "push of %s to %s: %s is no longer the head, %s is",
                    bot.name,
                    branch,
                    sha[:12],
                    head[:12],
                )
            started.extend(self._converge(actor, bot, env, head) for env in envs)
        return started

    def poll(self, env: str) -> list[Started]:
        """Fetch every bot that `env` follows and deploy new heads of its branch.

        Raises:
            NotFound: unknown environment.
        """
        environment = self._catalog.environment(env)
        branch = environment.auto_deploy
        if branch is None:
            return []
        started: list[Started] = []
        for bot in self._catalog.bots.values():
            if env not in bot.targets:
                continue
            try:
                head = self._head(bot, branch)
            except ChatOpsError as exc:
                log.warning("cannot poll %s for %s: %s", bot.name, env, exc)
                continue
            result = self._converge(POLLER, bot, env, head)
            if result.skipped is None:
                started.append(result)
        return started

    def drain(self) -> list[Started]:
        """Deploy the heads that waited for a deployment to end (the scheduler calls this).

        Each wanted (bot, env) whose deployment has ended converges to its branch's
        head now, once; one whose remote cannot be read stays wanted for the next round.
        """
        with self._uow() as uow:
            wanted = uow.wanted_heads.list()
        started: list[Started] = []
        for item in wanted:
            with self._uow() as uow:
                if uow.deployments.holder(item.bot, item.env) is not None:
                    continue
            bot = self._catalog.bots.get(item.bot)
            environment = self._catalog.environments.get(item.env)
            if (
                bot is None
                or environment is None
                or item.env not in bot.targets
                or environment.auto_deploy is None
            ):
                self._settled(item)  # the configuration no longer asks for it
                continue
            try:
                head = self._head(bot, environment.auto_deploy)
            except NotFound:
                self._settled(item)
                continue
            except ChatOpsError as exc:
                log.warning("cannot read %s for its wanted head: %s", bot.name, exc)
                continue
            by = item.requested_by
            actor = POLLER if by == POLLER.user else Actor(by, "webhook")
            started.append(self._converge(actor, bot, item.env, head))
            self._settled(item)
        return started

    # ── one environment ────────────────────────────────────────────────────

    def _converge(self, actor: Actor, bot: Bot, env: str, head: str) -> Started:
        """Make `env` run `head` if that moves it forward (or follows a rewritten branch)."""
        with self._uow() as uow:
            latest = uow.deployments.history(bot.name, env, limit=1)
            holder = uow.deployments.holder(bot.name, env)
            live = uow.deployments.live(bot.name, env)
        if latest and latest[0].commit == head:
            return Started(bot.name, env, skipped=f"{head[:12]} was deployed already")
        if holder is not None and holder.id is not None:
            return self._want(actor, bot, env, head, holder.id)
        rewritten_from = None
        if live is not None and live.commit is not None and live.commit != head:
            source = self._source
            if source.is_ancestor(bot, head, live.commit):
                return Started(
                    bot.name,
                    env,
                    skipped=f"{env} runs {live.commit[:12]}, which already contains "
                    f"{head[:12]}: automatic deploys never go backwards",
                )
            if not source.is_ancestor(bot, live.commit, head):
                rewritten_from = live.commit
        try:
            deployment = self._requests.deploy(actor, bot.name, env, ref=head, automatic=True)
        except Busy as busy:
            return self._want(actor, bot, env, head, busy.deployment_id)
        except UserError as exc:
            log.info("automatic deploy of %s to %s refused: %s", bot.name, env, exc)
            return Started(bot.name, env, refused=str(exc))
        if rewritten_from is not None:
            self._auditor.alone(
                actor,
                "history_rewrite",
                Outcome.OK,
                of=deployment,
                detail=f"{rewritten_from[:12]} (live) is not an ancestor of the head "
                f"{head[:12]}: the branch was rewritten (or {env} ran another branch); "
                "deploying the head",
            )
        return Started(bot.name, env, deployment=deployment)

    def _want(self, actor: Actor, bot: Bot, env: str, head: str, holder_id: int) -> Started:
        """Remember `head` for when the deployment `holder_id` ends; audited once per head."""
        now = self._clock.now()
        with self._uow() as uow:
            known = {(w.bot, w.env): w for w in uow.wanted_heads.list()}.get((bot.name, env))
            if known is None or known.commit != head:
                uow.wanted_heads.put(WantedHead(bot.name, env, head, actor.user, now))
                self._auditor.record(
                    uow,
                    actor,
                    "deploy_wanted",
                    Outcome.OK,
                    bot=bot.name,
                    env=env,
                    deployment_id=holder_id,
                    detail=f"{head[:12]} deploys once #{holder_id} has ended",
                )
                uow.commit()
        return Started(bot.name, env, waiting_for=holder_id)

    def _settled(self, item: WantedHead) -> None:
        with self._uow() as uow:
            if uow.wanted_heads.remove(item):
                uow.commit()

    # ── git ────────────────────────────────────────────────────────────────

    def _head(self, bot: Bot, branch: str) -> str:
        """The head of `branch` on the remote, fetched now.

        Raises:
            NotFound: the remote has no such branch.
            SourceControlError: the remote cannot be read.
        """
        self._source.fetch(bot)
        return self._source.resolve(bot, f"refs/heads/{branch}").sha

    def _following(self, bot: Bot, branch: str) -> list[str]:
        catalog = self._catalog
        return [env for env in bot.targets if catalog.environments[env].auto_deploy == branch]
