"""`chatops serve`: Slack (HTTP or Socket Mode), webhooks, metrics and the scheduled jobs.

On start-up every deployment a dead process left unfinished is failed (and the
channel told), the heartbeat, the lease-guarded scheduler and the Slack sender
(which delivers what the outbox holds, also what earlier runs left) start, then
uvicorn serves until SIGTERM/SIGINT. Then serve drains (see `drain`): it takes no
new work, stops the jobs and gives the lease up, and lets running deployments finish
for at most `CHATOPS_DRAIN_SECONDS` in all; then uvicorn stops, and the last
messages are delivered (the rest stays queued). A second signal stops at once.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, cast

import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette

from chatops.bootstrap import Application, build
from chatops.bootstrap.serving import SHUTDOWN_FLUSH_SECONDS, PrometheusMetrics
from chatops.bootstrap.slack import SlackSender
from chatops.config import Config
from chatops.entrypoints.chat import ChatCommands
from chatops.entrypoints.drain import Drain, DrainGate, wait_idle
from chatops.entrypoints.http import HttpDeps, create_http_app
from chatops.entrypoints.logs import RequestIds
from chatops.entrypoints.scheduler import Scheduler
from chatops.entrypoints.slack.notifier import ChannelNotifier
from chatops.entrypoints.web.wiring import web_deps
from chatops.errors import ConfigError

__all__ = ["HTTP_GRACE_SECONDS", "SHUTDOWN_FLUSH_SECONDS", "Server", "assemble", "run"]

log = logging.getLogger(__name__)

HTTP_GRACE_SECONDS = 5.0  # requests in flight when uvicorn stops (new ones were refused)


@dataclass
class Server:
    """Everything `serve` runs, assembled (tests start it in-process too)."""

    application: Application
    http: Starlette
    scheduler: Scheduler
    socket_mode: Any = None
    sender: SlackSender | None = None
    running: Callable[[], int] = lambda: 0  # deployments running in this process
    drain_seconds: float = 45.0
    draining: Drain = field(default_factory=Drain)

    def start_background(self) -> None:
        self.application.heartbeat.start()
        self.scheduler.start()
        if self.sender is not None:
            self.sender.start()
        forge = self.application.forge_sender
        if forge is not None:
            forge.start()
            self.application.closers.append(forge.stop)

    def drain(self) -> None:
        """Take no new work, stop the jobs, and wait for the running deployments (at most
        `drain_seconds`, less what stopping HTTP and delivering messages may take)."""
        if not self.draining.begin():
            return
        log.warning("stopping: no new work; waiting for %s running deployment(s)", self.running())
        if self.socket_mode is not None:
            self.socket_mode.close()
        self.scheduler.shutdown()
        wait = self.drain_seconds - HTTP_GRACE_SECONDS - SHUTDOWN_FLUSH_SECONDS
        left = wait_idle(self.running, wait)
        if left:
            log.warning(
                "%s deployment(s) still running after the drain: the next start fails them "
                "and restores what ran before",
                left,
            )

    def stop(self) -> None:
        self.drain()
        self.application.heartbeat.stop()
        self.application.close()


def assemble(config: Config, *, socket_mode: bool = False) -> Server:
    """Wire the application for `serve`, then Slack, the HTTP app and the scheduler around it.

    Raises:
        ConfigError: Slack is half configured (e.g. a token without the signing secret).
        SchemaOutOfDate: the database needs `chatops db upgrade`.
    """
    settings = config.settings
    has_token = settings.slack_bot_token is not None
    if has_token and not socket_mode and settings.slack_signing_secret is None:
        raise ConfigError(
            "SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not (an empty value counts "
            "as unset): chatops will not serve Slack over HTTP without verifying requests",
            hint="set SLACK_SIGNING_SECRET (or SLACK_SIGNING_SECRET_FILE) from the app's "
            "Basic Information page, or use --socket-mode",
        )
    if socket_mode and (not has_token or settings.slack_app_token is None):
        raise ConfigError("--socket-mode needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN (xapp-…)")
    application = build(config, for_="serve", channel=ChannelNotifier)
    try:
        server = _serve(config, application, socket_mode=socket_mode)
    except BaseException:
        application.close()
        raise
    server.running = application.running
    server.drain_seconds = settings.chatops_drain_seconds
    server.http.add_middleware(DrainGate, drain=server.draining)
    server.http.add_middleware(RequestIds)  # outermost: the drain's answers carry an id too
    return server


def _serve(config: Config, application: Application, *, socket_mode: bool) -> Server:
    """Everything around the wired application: recovery, Slack, HTTP and the scheduler."""
    settings = config.settings
    metrics = cast(PrometheusMetrics, application.metrics)
    for ended in application.recovery.recover():
        log.warning("failed interrupted deployment #%s: %s", ended.id, ended.reason)
    application.requests.expire_and_supersede()
    with application.store.uow() as uow:
        for live in uow.deployments.all_live():
            metrics.live_release(live.bot, live.env, live.version)
    monitoring = application.monitoring
    scheduler = Scheduler(
        application,
        application.autodeploy,
        metrics,
        application.deliveries,
        health=monitoring.health,
        soak=monitoring.soak,
        reconciler=monitoring.reconciler,
        retention=application.retention,
        leases=application.leases,
        lease_seconds=settings.chatops_lease_seconds,
    )
    chat = ChatCommands(application, monitoring.acknowledgements)
    bolt = None
    handler = None
    if application.slack is not None:
        from chatops.entrypoints.slack.app import create_bolt_app

        slack_work = ThreadPoolExecutor(max_workers=8, thread_name_prefix="chatops-slack")
        application.closers.append(slack_work.shutdown)
        bolt = create_bolt_app(
            client=application.slack,
            signing_secret=_secret(settings.slack_signing_secret),
            chat=chat,
            work=slack_work,
            deliveries=application.deliveries,
            throttle=application.throttle,
            socket_mode=socket_mode,
        )
        if socket_mode and settings.slack_app_token is not None:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            handler = SocketModeHandler(bolt, settings.slack_app_token.get_secret_value())
    http = create_http_app(
        HttpDeps(
            application=application,
            alerts=monitoring.intake,
            autodeploy=application.autodeploy,
            deliveries=application.deliveries,
            metrics=metrics,
            bolt=None if socket_mode else bolt,
            slack_signing_secret=None if socket_mode else _secret(settings.slack_signing_secret),
            alert_token=_secret(settings.chatops_alert_token),
            git_secret=_secret(settings.chatops_git_webhook_secret),
            metrics_token=_secret(settings.chatops_metrics_token),
            alert_labels=config.file.alert_labels,
            scheduler_running=lambda: scheduler.running,
            body_timeout=settings.chatops_http_body_timeout_seconds,
            web=web_deps(config, application),
        )
    )
    channel = application.channel
    return Server(
        application=application,
        http=http,
        scheduler=scheduler,
        socket_mode=handler,
        sender=channel.sender if channel is not None else None,
    )


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


class _Uvicorn(uvicorn.Server):
    """uvicorn that drains on SIGTERM/SIGINT, then stops and returns, so chatops can shut
    down in order; a second signal stops it at once.

    (uvicorn itself re-raises the signal after its shutdown, which would end the
    process before the scheduler gives up its lease and running deployments finish.)
    """

    def __init__(self, config: uvicorn.Config, *, drain: Callable[[], None]) -> None:
        super().__init__(config)
        self._drain = drain
        self._signalled = False

    def _drain_then_exit(self) -> None:
        try:
            self._drain()
        except Exception:
            log.exception("draining failed; stopping now")
        finally:
            self.should_exit = True

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        def stop(signum: int, frame: FrameType | None) -> None:
            if self._signalled:
                self.force_exit = True
                self.should_exit = True
                return
            self._signalled = True
            threading.Thread(target=self._drain_then_exit, name="chatops-drain").start()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def describe(config: Config, *, socket_mode: bool) -> list[str]:
    """What this server has on and off, said once at start (never a secret's value)."""
    settings = config.settings
    if settings.slack_bot_token is None:
        slack = "Slack: off (no SLACK_BOT_TOKEN); messages are not sent"
    elif socket_mode:
        slack = "Slack: on, over Socket Mode (no public URL needed)"
    else:
        slack = "Slack: on, over HTTP at POST /slack/events (signed requests only)"
    alerts = (
        "alert webhook POST /alerts/alertmanager: on (bearer CHATOPS_ALERT_TOKEN)"
        if settings.chatops_alert_token is not None
        else "alert webhook POST /alerts/alertmanager: off (set CHATOPS_ALERT_TOKEN)"
    )
    auto = sorted(
        f"{env.name} ← {env.auto_deploy}"
        + (f" (polled every {env.poll_seconds}s)" if env.poll_seconds else "")
        for env in config.catalog.environments.values()
        if env.auto_deploy
    )
    git = (
        "git webhook POST /webhooks/git: on (GitHub HMAC / GitLab token)"
        if settings.chatops_git_webhook_secret is not None
        else "git webhook POST /webhooks/git: off (set CHATOPS_GIT_WEBHOOK_SECRET)"
    )
    return [
        slack,
        alerts,
        git,
        "auto-deploy: " + ("; ".join(auto) if auto else "off (no environment sets auto_deploy)"),
        "scheduler: the replica holding the lease runs health checks, expiry, soak and reconcile",
    ]


def run(config: Config, *, socket_mode: bool = False) -> None:
    """Serve until SIGTERM or SIGINT."""
    server = assemble(config, socket_mode=socket_mode)
    settings = config.settings
    try:
        server.start_background()
        if server.socket_mode is not None:
            threading.Thread(
                target=server.socket_mode.connect, name="slack-socket-mode", daemon=True
            ).start()
        log.warning(
            "chatops serving on http://%s:%s",
            settings.chatops_http_host,
            settings.chatops_http_port,
        )
        for line in describe(config, socket_mode=socket_mode):
            log.warning("%s", line)
        _Uvicorn(
            uvicorn.Config(
                server.http,
                host=settings.chatops_http_host,
                port=settings.chatops_http_port,
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=int(HTTP_GRACE_SECONDS),
                log_config=None,  # uvicorn logs through chatops' handler, in its format
            ),
            drain=server.drain,
        ).run()
    finally:
        server.stop()
    if server.running():
        # The drain left these to the next start's recovery. End now, as a crash would,
        # rather than let them run on while the interpreter tears down around them and
        # record a failure that the teardown caused.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
