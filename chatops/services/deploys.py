"""Asking to put a release somewhere: deploy a ref, or promote what soaked upstream.

Every rule of DESIGN §2 is checked here, before anything runs; refusals are audited.
"""

from __future__ import annotations

from chatops.domain.catalog import Catalog
from chatops.domain.deployment import Deployment, Kind, State
from chatops.domain.health import Health
from chatops.domain.names import validate_name, validate_ref
from chatops.domain.policy import check_deployer, check_entry, excuse_inconclusive
from chatops.errors import BadInput, NotPromotable
from chatops.services.context import Actor, required
from chatops.services.intake import Intake
from chatops.services.ports import Clock, Directory, UnitOfWorkFactory
from chatops.services.promotability import Promotability

__all__ = ["Deploys"]


class Deploys:
    """The use cases that start a deployment of new code: deploy and promote."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        directory: Directory,
        intake: Intake,
        promotability: Promotability,
    ) -> None:
        self._catalog = catalog
        self._uow = uow
        self._clock = clock
        self._directory = directory
        self._intake = intake
        self._promotability = promotability

    def deploy(
        self,
        actor: Actor,
        bot: str,
        env: str,
        *,
        ref: str | None = None,
        force_reason: str | None = None,
        automatic: bool = False,
    ) -> Deployment:
        """Build (or reuse) the release of `ref` and make it live in `env`.

        Returns:
            The deployment: settled when the launcher runs it inline, else queued.

        Raises:
            BadInput: a malformed name or ref.
            NotFound: unknown bot or environment.
            Refused: `env` takes promotions only; not a deployer; locked; frozen; busy.
        """
        with self._intake.refusals(actor, "deploy", bot=bot, env=env):
            validate_name("bot", bot)
            validate_name("environment", env)
            if ref is not None:
                validate_ref(ref)
            the_bot, environment, _ = self._catalog.target(bot, env)
            check_entry(environment, Kind.DEPLOY, bot=bot)
            if not automatic:
                check_deployer(
                    environment, actor.user, self._directory.expand(environment.deployers)
                )
            now = self._clock.now()
            deployment = self._intake.open(
                actor,
                environment,
                Deployment(
                    bot=bot,
                    env=env,
                    kind=Kind.DEPLOY,
                    state=State.QUEUED,
                    requested_by=actor.user,
                    requested_at=now,
                    updated_at=now,
                    ref=ref or the_bot.branch,
                    force_reason=force_reason,
                ),
                automatic=automatic,
            )
        return self._intake.dispatch.launch(deployment)

    def promote(
        self,
        actor: Actor,
        bot: str,
        env: str | None = None,
        *,
        force_reason: str | None = None,
        anyway: bool = False,
    ) -> Deployment:
        """Promote what is live and soaked in the source environment to `env`.

        `anyway`: an approver of `env` promotes past an inconclusive verification
        (`promote_anyway`); it is recorded on the deployment and audited.

        Returns:
            The deployment: pending approval when `env` needs approvals.

        Raises:
            NotFound: unknown bot or environment.
            NotPromotable: nothing live, not healthy, or not soaked in the source.
            Refused: `env` takes no promotions; not a deployer; locked; frozen; busy.
        """
        with self._intake.refusals(actor, "promote", bot=bot, env=env):
            validate_name("bot", bot)
            catalog = self._catalog
            catalog.bot(bot)
            if env is None:
                env = self._default_promotion_target(bot)
            validate_name("environment", env)
            _, environment, _ = catalog.target(bot, env)
            check_entry(environment, Kind.PROMOTE, bot=bot)
            source = required(environment.promote_from, "promote_from")  # check_entry says so
            check_deployer(environment, actor.user, self._directory.expand(environment.deployers))
            with self._uow() as uow:
                state = self._promotability.source_state(
                    uow, bot, source, target=environment, now=self._clock.now()
                )
            live, alerts, verified = state
            if anyway:
                verified, alerts = excuse_inconclusive(
                    verified,
                    alerts,
                    user=actor.user,
                    approvers=self._directory.expand(environment.approvers),
                    target=env,
                )
            health = self._promotability.health(bot, source) if live is not None else Health.UNKNOWN
            self._promotability.check(
                (live, alerts, verified),
                bot=bot,
                source=source,
                target=environment,
                health=health,
                now=self._clock.now(),
            )
            live = required(live, "the live deployment")  # check refused otherwise
            now = self._clock.now()
            deployment = self._intake.open(
                actor,
                environment,
                Deployment(
                    bot=bot,
                    env=env,
                    kind=Kind.PROMOTE,
                    state=State.PENDING_APPROVAL if environment.approvals > 0 else State.QUEUED,
                    requested_by=actor.user,
                    requested_at=now,
                    updated_at=now,
                    commit=live.commit,
                    version=live.version,
                    source_deployment_id=live.id,
                    force_reason=force_reason,
                    verification_override=actor.user if anyway else None,
                ),
                expect_live_in_source=live,
            )
        return self._intake.dispatch.launch(deployment)

    def promote_deployment(
        self, actor: Actor, deployment_id: int, *, anyway: bool = False
    ) -> Deployment:
        """The Promote button (and `promote_anyway`, with `anyway`): promote the release of
        a live deployment one step further.

        Raises:
            NotFound: unknown deployment.
            NotPromotable: it is no longer live, or nothing takes promotions from its environment.
            (and everything `promote` raises)
        """
        action = "promote_anyway" if anyway else "promote"
        source = self._intake.live_deployment(actor, action, deployment_id)
        bot = self._catalog.bot(source.bot)
        targets = [e.name for e in self._catalog.downstream_of(source.env) if e.name in bot.targets]
        if not targets:
            raise NotPromotable(f"nothing takes promotions from {source.env}")
        return self.promote(actor, source.bot, targets[0], anyway=anyway)

    def _default_promotion_target(self, bot: str) -> str:
        catalog = self._catalog
        the_bot = catalog.bot(bot)
        with self._uow() as uow:
            candidates = [
                environment.name
                for environment in catalog.environments.values()
                if environment.promote_from
                and environment.name in the_bot.targets
                and uow.deployments.live(bot, environment.promote_from) is not None
            ]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            entries = [
                environment.name
                for environment in catalog.environments.values()
                if not environment.promote_from and environment.name in the_bot.targets
            ]
            first = entries[0] if entries else "<env>"
            raise NotPromotable(
                f"{bot} is not live anywhere that promotes further",
                hint=f"deploy it first, e.g. `/deploy {bot} {first}`",
            )
        raise BadInput(
            f"{bot} could be promoted to {', '.join(sorted(candidates))}",
            hint=f"name the environment: `/promote {bot} <env>`",
            usage="/promote <bot> [env]",
        )
