"""`build`: the object graph of one entry point, and the only place that picks adapters.

`build(config, for_="cli" | "serve" | "console" | "demo")` decides what that entry
point is told (the terminal, the Slack channel), how deployments run (inline, or a
thread each for `serve`) and which metrics are kept. The services themselves are
made on first use, each from one constructor call (services.py, running.py, over
the ports of wiring.py), so a read command (`status`, `releases`) imports and
connects only the store and the queries.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Literal, cast

from chatops.bootstrap.adapters import (
    Adapters,
    _Lazy,
    plain_store,
    slack_directory,
    terminal_notifier,
)
from chatops.bootstrap.services import Services
from chatops.bootstrap.wiring import LauncherFactory
from chatops.config import Config

if TYPE_CHECKING:
    from rich.console import Console
    from slack_sdk import WebClient

    from chatops.adapters.db.uow import SqlStore
    from chatops.adapters.forge_sender import ForgeSender
    from chatops.adapters.metrics import PrometheusMetrics
    from chatops.adapters.notifiers import FanOut
    from chatops.bootstrap.slack import ChannelRenderer, SlackChannel
    from chatops.services.ports import CiChecks, Directory, MetricQuery, Metrics, Notifier

__all__ = ["Application", "Target", "build"]

log = logging.getLogger(__name__)

Target = Literal["cli", "serve", "console", "demo"]


class Application(Services):
    """Everything an entry point uses, wired by `build`; each service is made when first
    used (services.py, running.py), over the adapters `build` chose."""

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
        from chatops.services.context import Tuning

        self.config = config
        self.target = target
        self.adapters = adapters
        self.notifiers = notifiers
        self.channel = channel  # Slack's notifier, outbox and sender (when configured)
        self.slack = slack  # the Web API client bolt answers with (`serve` only)
        self.forge_sender: ForgeSender | None = None  # started by `serve`
        super().__init__(
            config.catalog,
            uow=adapters.uow,
            reads=adapters.reads,
            clock=adapters.clock,
            source=adapters.source,
            runtimes=adapters.runtimes,
            builders=adapters.builders,
            probe=adapters.probe,
            secrets=adapters.secrets,
            directory=adapters.directory,
            freezes=adapters.freezes,
            processes=adapters.processes,
            notifier=notifiers,
            metrics=metrics,
            ci=cast("CiChecks", _Lazy(lambda: adapters.forge)),
            workdir=config.file.workdir,
            tuning=Tuning(ci_poll_seconds=config.settings.chatops_ci_poll_seconds),
            public_url=config.file.public_url,
            launcher=launcher,
            metric_query=_prometheus,
        )

    @property
    def store(self) -> SqlStore:
        """The database (opened, and checked to be at this code's schema, on first use)."""
        return self.adapters.store

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
        self.adapters.close()


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
    reads_only: bool = False,
) -> Application:
    """Wire chatops for one entry point.

    `for_`: `"cli"` (deployments run inline; the channel hears of them), `"serve"`
    (a thread per deployment, Prometheus metrics, the Slack client for bolt),
    `"console"` (the console is the chat: pass it in `notifiers`) or `"demo"`.
    `terminal`: print deployments' progress there. `channel`: renders the Slack
    channel's messages (`ChannelNotifier`); with SLACK_BOT_TOKEN, the CLI and `serve`
    tell the channel. Tests may replace `launcher`, `directory` and `metrics`.
    `reads_only` (the CLI's `status` and `releases`): SQLite at this code's schema is
    read through sqlite3 alone, and the SQLAlchemy store is opened only if something
    asks for it; the forges are told nothing, nor is Slack unless the outbox holds
    messages earlier commands could not deliver (this command then delivers them).

    Raises:
        SchemaOutOfDate: the database needs `chatops db upgrade`.
        StoreError: the database cannot be reached.
        ConfigError: Slack is configured but `channel` is not given.
    """
    from chatops.adapters.notifiers import FanOut
    from chatops.services.launchers import InlineLauncher, ThreadLauncher

    plain = plain_store(config) if reads_only else None
    slack_configured = for_ in ("cli", "serve") and config.settings.slack_bot_token is not None
    # a read command tells Slack nothing, unless earlier commands left messages to deliver
    slack_on = slack_configured and not (plain is not None and not plain.holds_messages())
    client = None
    if slack_on:
        from chatops.bootstrap.slack import directory_for, slack_client

        client = slack_client(config.settings)
        directory = directory or directory_for(client)
    elif slack_configured:
        directory = directory or slack_directory(config.settings)  # (asked only if needed)
    adapters = Adapters(config, directory=directory, plain=plain)
    if plain is None:  # (plain reads checked the schema themselves)
        adapters.store  # noqa: B018 (checked and opened first: nothing runs on an old schema)
    config.file.workdir.mkdir(parents=True, exist_ok=True)
    metrics = metrics or _metrics(for_)
    told = list(notifiers)
    if terminal is not None:
        told.append(terminal_notifier(terminal, build_output=for_ != "demo"))
    forge_sender = None if reads_only else _forge(config, adapters, told)
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


def _prometheus() -> MetricQuery:
    """What verification asks: Prometheus's query API."""
    from chatops.adapters.prometheus import PrometheusQuery

    return PrometheusQuery()


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
