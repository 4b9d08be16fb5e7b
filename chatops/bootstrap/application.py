"""`build`: the object graph of one entry point, and the only place that picks adapters.

`build(config, for_="cli" | "serve" | "console" | "demo")` decides what that entry
point is told (the terminal, the Slack channel), how deployments run (inline, or a
thread each for `serve`) and which metrics are kept. The services themselves are
made on first use, each from one constructor call below, so a read command
(`status`, `releases`) imports and connects only the store and the queries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import cached_property, partial
from typing import TYPE_CHECKING, Literal, cast

from chatops.bootstrap.adapters import Adapters, _Lazy, terminal_notifier
from chatops.config import Config

if TYPE_CHECKING:
    from rich.console import Console
    from slack_sdk import WebClient

    from chatops.adapters.db.uow import SqlStore
    from chatops.adapters.forge_sender import ForgeSender
    from chatops.adapters.metrics import PrometheusMetrics
    from chatops.adapters.notifiers import FanOut
    from chatops.bootstrap.monitoring import Monitoring
    from chatops.bootstrap.slack import ChannelRenderer, SlackChannel
    from chatops.services.autodeploy import AutoDeploy
    from chatops.services.board import Board
    from chatops.services.cancel import Cancellations
    from chatops.services.context import Deps
    from chatops.services.deliveries import Deliveries
    from chatops.services.leases import Leases
    from chatops.services.locks import LockService
    from chatops.services.pipeline import Pipeline
    from chatops.services.ports import CiChecks, Directory, Launcher, Metrics, Notifier
    from chatops.services.queries import Queries
    from chatops.services.recovery import Heartbeat, Recovery
    from chatops.services.requests import Requests
    from chatops.services.retention import Retention
    from chatops.services.throttle import Throttle
    from chatops.services.verification import Verifier

__all__ = ["Application", "Target", "build"]

log = logging.getLogger(__name__)

Target = Literal["cli", "serve", "console", "demo"]
LauncherFactory = Callable[[Callable[[int], object]], "Launcher"]


class Application:
    """Everything an entry point uses, wired by `build`; each service is made when first used."""

    def __init__(
        self,
        config: Config,
        *,
        target: Target,
        adapters: Adapters,
        notifiers: FanOut,
        metrics: Metrics,
        launcher: LauncherFactory,
        channel: SlackChannel | None = None,
        slack: WebClient | None = None,
    ) -> None:
        self.config = config
        self.target = target
        self.adapters = adapters
        self.store: SqlStore = adapters.store
        self.notifiers = notifiers
        self.metrics = metrics
        self.channel = channel  # Slack's notifier, outbox and sender (when configured)
        self.slack = slack  # the Web API client bolt answers with (`serve` only)
        self.forge_sender: ForgeSender | None = None  # started by `serve`
        self.closers: list[Callable[[], None]] = []
        self._launcher = launcher

    # ── the services, one constructor call each ─────────────────────────────

    @cached_property
    def deps(self) -> Deps:
        from chatops.services.context import Deps, Tuning

        ports, file = self.adapters, self.config.file
        return Deps(
            catalog=self.config.catalog,
            uow=self.store.uow,
            clock=ports.clock,
            source=ports.source,
            builders=ports.builders,
            runtimes=ports.runtimes,
            probe=ports.probe,
            secrets=ports.secrets,
            directory=ports.directory,
            freezes=ports.freezes,
            processes=ports.processes,
            notifier=self.notifiers,
            workdir=file.workdir,
            metrics=self.metrics,
            public_url=file.public_url,
            tuning=Tuning(ci_poll_seconds=self.config.settings.chatops_ci_poll_seconds),
            ci=cast("CiChecks", _Lazy(lambda: ports.forge)),
        )

    @cached_property
    def heartbeat(self) -> Heartbeat:
        from chatops.services.recovery import Heartbeat

        return Heartbeat(self.deps)

    @cached_property
    def pipeline(self) -> Pipeline:
        from chatops.services.pipeline import Pipeline

        return Pipeline(self.deps, self.heartbeat)

    @cached_property
    def launcher(self) -> Launcher:
        """Runs each deployment: inline for the CLI, on a thread of its own for `serve`."""
        chosen = self._launcher(self.pipeline.execute)
        shutdown = getattr(chosen, "shutdown", None)
        if callable(shutdown):
            self.closers.append(shutdown)
        return chosen

    @cached_property
    def requests(self) -> Requests:
        from chatops.services.requests import Requests

        return Requests(self.deps, self.launcher)

    @cached_property
    def queries(self) -> Queries:
        from chatops.services.queries import Queries

        return Queries(self.deps)

    @cached_property
    def locks(self) -> LockService:
        from chatops.services.locks import LockService

        return LockService(self.deps)

    @cached_property
    def recovery(self) -> Recovery:
        from chatops.services.recovery import Recovery

        return Recovery(self.deps, self.heartbeat)

    @cached_property
    def cancels(self) -> Cancellations:
        from chatops.services.cancel import Cancellations

        return Cancellations(self.deps)

    @cached_property
    def verifier(self) -> Verifier:
        from chatops.adapters.prometheus import PrometheusQuery
        from chatops.services.verification import Verifier

        return Verifier(self.deps, self.requests, PrometheusQuery())

    @cached_property
    def monitoring(self) -> Monitoring:
        """Alerts, health checks, incidents, soak notices and reconcile, sharing one state."""
        from chatops.bootstrap.monitoring import build_monitoring

        return build_monitoring(self.deps, self.requests, self.queries)

    @cached_property
    def autodeploy(self) -> AutoDeploy:
        from chatops.services.autodeploy import AutoDeploy

        return AutoDeploy(self.deps, self.requests)

    @cached_property
    def deliveries(self) -> Deliveries:
        from chatops.services.deliveries import Deliveries

        return Deliveries(self.deps)

    @cached_property
    def throttle(self) -> Throttle:
        from chatops.services.throttle import Throttle

        return Throttle(self.deps)

    @cached_property
    def retention(self) -> Retention:
        from chatops.services.retention import Retention

        return Retention(self.deps)

    @cached_property
    def leases(self) -> Leases:
        from chatops.services.leases import Leases

        return Leases(self.store.uow, self.adapters.clock, self.adapters.processes)

    @cached_property
    def board(self) -> Board:
        from chatops.services.board import Board

        return Board(self.deps)

    # ── the end ─────────────────────────────────────────────────────────────

    def running(self) -> int:
        """How many deployments this process runs now (`serve`'s launcher counts them)."""
        count = getattr(self.launcher, "running", None)
        return int(count()) if callable(count) else 0

    def close(self) -> None:
        for close in reversed(self.closers):
            try:
                close()
            except Exception:
                log.exception("error while shutting down")
        self.store.dispose()


def build(
    config: Config,
    *,
    for_: Target = "cli",
    terminal: Console | None = None,
    channel: ChannelRenderer | None = None,
    notifiers: Sequence[Notifier] = (),
    launcher: LauncherFactory | None = None,
    directory: Directory | None = None,
    metrics: Metrics | None = None,
) -> Application:
    """Wire chatops for one entry point.

    `for_`: `"cli"` (deployments run inline; the channel hears of them), `"serve"`
    (a thread per deployment, Prometheus metrics, the Slack client for bolt),
    `"console"` (the console is the chat: pass it in `notifiers`) or `"demo"`.
    `terminal`: print deployments' progress there. `channel`: renders the Slack
    channel's messages (`ChannelNotifier`); with SLACK_BOT_TOKEN, the CLI and `serve`
    tell the channel. Tests may replace `launcher`, `directory` and `metrics`.

    Raises:
        SchemaOutOfDate: the database needs `chatops db upgrade`.
        StoreError: the database cannot be reached.
        ConfigError: Slack is configured but `channel` is not given.
    """
    from chatops.adapters.notifiers import FanOut
    from chatops.services.launchers import InlineLauncher, ThreadLauncher

    slack_on = for_ in ("cli", "serve") and config.settings.slack_bot_token is not None
    client = None
    if slack_on:
        from chatops.bootstrap.slack import directory_for, slack_client

        client = slack_client(config.settings)
        directory = directory or directory_for(client)
    adapters = Adapters(config, directory=directory)
    adapters.store  # noqa: B018 (checked and opened first: nothing runs on an old schema)
    config.file.workdir.mkdir(parents=True, exist_ok=True)
    metrics = metrics or _metrics(for_)
    told = list(notifiers)
    if terminal is not None:
        told.append(terminal_notifier(terminal, build_output=for_ != "demo"))
    forge_sender = _forge(config, adapters, told)
    slack_channel = None
    if slack_on:
        slack_channel = _slack_channel(config, adapters, channel, for_=for_, metrics=metrics)
        told.append(slack_channel.notifier)
    if launcher is None and for_ == "serve":
        launcher = partial(ThreadLauncher, grace_seconds=0)  # `Server.drain` waits for them
    app = Application(
        config,
        target=for_,
        adapters=adapters,
        notifiers=FanOut(told),
        metrics=metrics,
        launcher=launcher or InlineLauncher,
        channel=slack_channel,
        slack=client if for_ == "serve" else None,
    )
    app.forge_sender = forge_sender
    if for_ == "serve":
        if slack_channel is not None:
            from chatops.bootstrap.serving import stop_sender

            # closers run last-added first: the sender stops after every other closer
            # (running deployments, Slack listeners) had its say
            app.closers.append(lambda: stop_sender(slack_channel.sender))
        app.launcher  # noqa: B018 (made now: it stops before the sender does)
    return app


def _metrics(for_: Target) -> Metrics:
    """`serve` exports Prometheus metrics; the others keep none."""
    if for_ == "serve":
        from chatops.bootstrap.serving import PrometheusMetrics

        return PrometheusMetrics()
    from chatops.services.context import NullMetrics

    return NullMetrics()


def _forge(config: Config, adapters: Adapters, told: list[Notifier]) -> ForgeSender | None:
    """When a bot reports to GitHub or GitLab: the notifier queueing its deployment statuses
    (added to `told`) and the sender delivering them (started by `serve`)."""
    if not adapters.uses_forge:
        return None
    # deployment statuses go through the outbox: a forge outage never holds a deployment
    from chatops.adapters.forge_sender import ForgeNotifier, ForgeSender
    from chatops.adapters.slack import SlackOutbox  # (imports slack_sdk: only when needed)

    uow = adapters.store.uow
    sender = ForgeSender(uow, adapters.forge, adapters.clock, owner=adapters.processes.me())
    queue = SlackOutbox(uow, wake=sender.wake)
    public_url = config.file.public_url
    told.append(ForgeNotifier(queue, uow, config.catalog, public_url=public_url))
    return sender


def _slack_channel(
    config: Config,
    adapters: Adapters,
    render: ChannelRenderer | None,
    *,
    for_: Target,
    metrics: Metrics,
) -> SlackChannel:
    from chatops.bootstrap.slack import channel_for
    from chatops.errors import ConfigError

    if render is None:
        raise ConfigError(f"Slack is configured but build(for_={for_!r}) was given no channel")
    made = channel_for(
        config.settings,
        adapters.store.uow,
        render=render,
        owner=adapters.processes.me(),
        metrics=cast("PrometheusMetrics", metrics) if for_ == "serve" else None,
        remember=for_ == "cli",  # the CLI waits for its own messages before exiting
    )
    if made is None:  # (SLACK_BOT_TOKEN was checked before)
        raise ConfigError("Slack's channel needs SLACK_BOT_TOKEN")
    return made
