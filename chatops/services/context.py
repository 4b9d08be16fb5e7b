"""What every service is handed: the catalog, the ports, and who is asking."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from chatops.domain.audit import Outcome
from chatops.domain.catalog import Bot, Catalog
from chatops.domain.ci import CiResult
from chatops.domain.deployment import Deployment
from chatops.domain.redact import Redactor
from chatops.errors import ConfigError, StoreError
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

if TYPE_CHECKING:
    from chatops.services.auditor import Auditor
    from chatops.services.channel import Channel
    from chatops.services.engines import Engines
    from chatops.services.masking import Masker

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

    """Transition only: the ports `bootstrap` chose, on their way to `services.wiring`;
    the monitor and the alert service take it whole until they name their ports."""

    def builder(self, env: str) -> ImageBuilder:
        return self.engines.builder(env)

    def runtime(self, env: str) -> Runtime:
        return self.engines.runtime(env)

    @property
    def engines(self) -> Engines:
        from chatops.services.engines import Engines

        return Engines(self.runtimes, self.builders)

    @property
    def auditor(self) -> Auditor:
        from chatops.services.auditor import Auditor

        return Auditor(self.uow, self.clock)

    @property
    def masker(self) -> Masker:
        from chatops.services.masking import Masker

        return Masker(self.catalog, self.secrets)

    @property
    def channel(self) -> Channel:
        from chatops.services.channel import Channel

        return Channel(self.notifier)

    def page_url(self, deployment_id: int | None) -> str | None:
        from chatops.services.channel import Links

        return Links(self.public_url).page_url(deployment_id)

    def redactor(self, bot: str, env: str) -> Redactor:
        return self.masker.redactor(bot, env)

    def masked(self, bot: str, env: str, text: str) -> str:
        return self.masker.masked(bot, env, text)

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
        self.auditor.record(uow, actor, action, outcome, of=of, **fields)

    def audit_alone(
        self,
        actor: Actor,
        action: str,
        outcome: Outcome,
        *,
        of: Deployment | None = None,
        **fields: object,
    ) -> None:
        self.auditor.alone(actor, action, outcome, of=of, **fields)

    def refusals_audited(
        self,
        actor: Actor,
        action: str,
        *,
        bot: str | None = None,
        env: str | None = None,
        deployment_id: int | None = None,
    ) -> AbstractContextManager[None]:
        return self.auditor.refusals(actor, action, bot=bot, env=env, deployment_id=deployment_id)

    def view(self, deployment_id: int) -> DeploymentView:
        """The view of a deployment (the monitor's soak notice, until it takes `Views`)."""
        from chatops.services.channel import Links
        from chatops.services.queries import Views

        return Views(
            self.catalog,
            uow=self.uow,
            clock=self.clock,
            directory=self.directory,
            source=self.source,
            links=Links(self.public_url),
        ).view(deployment_id)

    def tell(self, view: DeploymentView) -> None:
        self.channel.tell(view)

    def tell_soaked(self, view: DeploymentView) -> None:
        self.channel.tell_soaked(view)

    def tell_alert(self, view: AlertView) -> None:
        self.channel.tell_alert(view)
