"""What every service is handed: the catalog, the ports, and who is asking."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from chatops.domain.audit import AuditEvent, Outcome
from chatops.domain.catalog import Bot, Catalog
from chatops.domain.ci import CiResult
from chatops.domain.deployment import Deployment
from chatops.domain.redact import Redactor
from chatops.errors import ChatOpsError, ConfigError, StoreError, UserError
from chatops.services.ports import (
    CiChecks,
    Clock,
    Directory,
    FreezeCalendar,
    HealthProbe,
    ImageBuilder,
    Metrics,
    Notifier,
    ProcessTable,
    Runtime,
    Secrets,
    SourceControl,
    UnitOfWork,
    UnitOfWorkFactory,
)
from chatops.services.views import AlertView, DeploymentView

__all__ = ["Actor", "Deps", "NoForge", "NullMetrics", "Tuning", "required"]

T = TypeVar("T")


def required(value: T | None, what: str) -> T:
    """`value`, which an invariant says is there; a StoreError names what was missing."""
    if value is None:
        raise StoreError(
            f"{what} is missing from the database", hint="this is a bug; please report it"
        )
    return value


log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks, and through which door."""

    user: str
    source: str = "cli"  # cli, slack, console, webhook, scheduler, recovery


class NoForge:
    """CI checks where no forge is wired: every read says so."""

    def results(self, bot: Bot, sha: str) -> list[CiResult]:
        raise ConfigError(f"no forge is configured to read the CI checks of {bot.name}")


class NullMetrics:
    """Metrics that go nowhere: for the CLI, which exports none."""

    def deployment_finished(self, deployment: Deployment, *, seconds: float) -> None:
        pass

    def build_finished(self, bot: str, *, seconds: float, ok: bool) -> None:
        pass

    def live_release(self, bot: str, env: str, version: int | None) -> None:
        pass

    def alerts_firing(self, bot: str, env: str, count: int) -> None:
        pass

    def health_check(self, bot: str, env: str, *, seconds: float) -> None:
        pass

    def measured(self, bot: str, env: str, check: str, verdict: str, *, seconds: float) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Tuning:
    health_poll_seconds: float = 0.1
    settle_seconds: float = 1.0  # a container without a health check must stay up this long
    build_slot_wait_seconds: float = 900.0
    heartbeat_seconds: float = 5.0
    stale_after_seconds: float = 60.0
    build_log_tail_lines: int = 40
    cancel_poll_seconds: float = 1.0  # how often a running deployment looks for /cancel
    store_retries: int = 5  # attempts at recording how a deployment ended
    store_retry_seconds: float = 0.5  # the first wait between them; each wait doubles
    restore_retries: int = 6  # attempts at putting back what ran, while the engine is down
    restore_retry_seconds: float = 1.0  # the first wait between them; each wait doubles
    ci_poll_seconds: float = 10.0  # how often pending CI checks are read again


@dataclass(frozen=True, slots=True)
class Deps:
    catalog: Catalog
    uow: UnitOfWorkFactory
    clock: Clock
    source: SourceControl
    builders: Mapping[str, ImageBuilder]
    runtimes: Mapping[str, Runtime]
    probe: HealthProbe
    secrets: Secrets
    directory: Directory
    freezes: FreezeCalendar
    processes: ProcessTable
    notifier: Notifier
    workdir: Path
    tuning: Tuning = field(default_factory=Tuning)
    public_url: str | None = None  # where the web view is reached, for links in messages
    metrics: Metrics = field(default_factory=NullMetrics)
    ci: CiChecks = field(default_factory=NoForge)

    def builder(self, env: str) -> ImageBuilder:
        try:
            return self.builders[env]
        except KeyError:
            raise ConfigError(f"no image builder is configured for environment {env!r}") from None

    def page_url(self, deployment_id: int | None) -> str | None:
        """The web page of a deployment, once `public_url` is set."""
        if self.public_url is None or deployment_id is None:
            return None
        return f"{self.public_url}/ui/deployments/{deployment_id}"

    def runtime(self, env: str) -> Runtime:
        try:
            return self.runtimes[env]
        except KeyError:
            raise ConfigError(f"no runtime is configured for environment {env!r}") from None

    def redactor(self, bot: str, env: str) -> Redactor:
        """A redactor that knows every secret value of `bot` in `env`.

        Raises:
            ConfigError: the secrets cannot be read, or one is too short to be masked.
        """
        the_bot = self.catalog.bots.get(bot)
        target = the_bot.targets.get(env) if the_bot else None
        if the_bot is None or target is None:
            return Redactor()
        return Redactor.for_secrets(self.secrets.resolve(the_bot, target))

    def masked(self, bot: str, env: str, text: str) -> str:
        """`text` with the secrets of `bot` in `env` masked; withheld when they cannot be read."""
        try:
            return self.redactor(bot, env)(text)
        except ChatOpsError as exc:
            log.warning("withholding text about %s in %s: %s", bot, env, exc)
            return "(withheld: the secrets to mask in it could not be read)"

    def audit(
        self,
        uow: UnitOfWork,
        actor: Actor,
        action: str,
        outcome: Outcome,
        *,
        of: Deployment | None = None,
        **fields: object,
    ) -> None:
        """Record an audit event in `uow`; `of` fills in a deployment's bot, env and id."""
        if of is not None:
            fields = {"bot": of.bot, "env": of.env, "deployment_id": of.id, **fields}
        uow.audit.add(
            AuditEvent(
                at=self.clock.now(),
                actor=actor.user,
                action=action,
                outcome=outcome,
                source=actor.source,
                **fields,  # type: ignore[arg-type]
            )
        )

    def audit_alone(
        self,
        actor: Actor,
        action: str,
        outcome: Outcome,
        *,
        of: Deployment | None = None,
        **fields: object,
    ) -> None:
        """Record an event in a transaction of its own (refusals, failures)."""
        with self.uow() as uow:
            self.audit(uow, actor, action, outcome, of=of, **fields)
            uow.commit()

    @contextmanager
    def refusals_audited(
        self,
        actor: Actor,
        action: str,
        *,
        bot: str | None = None,
        env: str | None = None,
        deployment_id: int | None = None,
    ) -> Iterator[None]:
        """Every refusal of `action` is an audit event too, in a transaction of its own."""
        try:
            yield
        except UserError as exc:
            self.audit_alone(
                actor,
                action,
                Outcome.REFUSED,
                detail=str(exc),
                bot=bot,
                env=env,
                deployment_id=deployment_id,
            )
            raise

    def tell(self, view: DeploymentView) -> None:
        try:
            self.notifier.deployment_changed(view)
        except Exception:  # a chat outage never stops a deployment
            log.exception("could not tell the channel about deployment #%s", view.deployment.id)

    def tell_soaked(self, view: DeploymentView) -> None:
        try:
            self.notifier.deployment_soaked(view)
        except Exception:
            log.exception("could not tell the channel that #%s soaked", view.deployment.id)

    def tell_alert(self, view: AlertView) -> None:
        try:
            self.notifier.alert_changed(view)
        except Exception:
            log.exception("could not tell the channel about alert #%s", view.alert.id)
