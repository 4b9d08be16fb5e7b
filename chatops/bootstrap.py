"""Builds the object graph from the configuration: the only place that picks adapters."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import SecretStr

from chatops.adapters.db.schema import ensure_current
from chatops.adapters.db.uow import SqlStore
from chatops.adapters.directory import StaticDirectory
from chatops.adapters.forge import ForgeClient
from chatops.adapters.freeze import CronFreezeCalendar
from chatops.adapters.health_probe import HttpHealthProbe
from chatops.adapters.notifiers import FanOut
from chatops.adapters.prometheus import PrometheusQuery
from chatops.adapters.secrets import ProviderSecrets
from chatops.adapters.system import HostProcesses, SystemClock
from chatops.config import Config, environ
from chatops.errors import ConfigError
from chatops.services.alerts import AlertService
from chatops.services.autodeploy import AutoDeploy
from chatops.services.board import Board
from chatops.services.cancel import Cancellations
from chatops.services.context import Deps, NullMetrics, Tuning
from chatops.services.deliveries import Deliveries
from chatops.services.launchers import InlineLauncher
from chatops.services.locks import LockService
from chatops.services.ports import (
    Directory,
    ImageBuilder,
    Launcher,
    Metrics,
    Notifier,
    Runtime,
    SourceControl,
)
from chatops.services.queries import Queries
from chatops.services.recovery import Heartbeat, Recovery
from chatops.services.requests import Requests
from chatops.services.retention import Retention
from chatops.services.throttle import Throttle
from chatops.services.verification import Verifier
from chatops.services.wiring import wire

if TYPE_CHECKING:
    from chatops.adapters.forge_sender import ForgeSender

__all__ = ["Application", "build"]

log = logging.getLogger(__name__)


class _Lazy:
    """Creates the real adapter on first use, so commands that never touch Docker never need it."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._target: Any = None
        self._guard = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if self._target is None:
            with self._guard:
                if self._target is None:
                    self._target = self._factory()
        return getattr(self._target, name)


def _source_control(workdir: Path, instance: str) -> SourceControl:
    from chatops.adapters.git import GitSourceControl

    return GitSourceControl(workdir, instance=instance)


def _docker_builder(docker_host: str | None) -> ImageBuilder:
    from chatops.adapters.build import DockerImageBuilder
    from chatops.adapters.docker_client import connect

    return DockerImageBuilder(connect(docker_host))


def _runtime(kind: str, docker_host: str | None, instance: str) -> Runtime:
    from chatops.adapters.docker_client import connect

    if kind == "docker":
        from chatops.adapters.runtime.docker import DockerRuntime

        return DockerRuntime(connect(docker_host), instance=instance)
    if kind == "swarm":
        from chatops.adapters.runtime.swarm import SwarmRuntime

        return SwarmRuntime(connect(docker_host), instance=instance)
    raise ConfigError(f"unknown runtime {kind!r}")


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


@dataclass
class Application:
    """Everything the entrypoints use, wired."""

    config: Config
    store: SqlStore
    deps: Deps  # the chosen ports, for the entry points that still read them
    requests: Requests
    queries: Queries
    locks: LockService
    recovery: Recovery
    heartbeat: Heartbeat
    notifiers: FanOut
    cancels: Cancellations
    verifier: Verifier
    alerts: AlertService
    autodeploy: AutoDeploy
    board: Board
    deliveries: Deliveries
    throttle: Throttle
    retention: Retention
    forge_sender: ForgeSender | None = None  # started by `serve`
    closers: list[Callable[[], None]] = field(default_factory=list)

    def add_notifier(self, notifier: Notifier) -> None:
        """Tell `notifier` too (e.g. Slack, once it is wired to the store)."""
        self.notifiers.add(notifier)

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
    notifiers: list[Notifier] | None = None,
    launcher: Callable[[Callable[[int], object]], Launcher] = InlineLauncher,
    directory: Directory | None = None,
    metrics: Metrics | None = None,
) -> Application:
    """Wire chatops for `config`.

    Raises:
        SchemaOutOfDate: the database needs `chatops db upgrade`.
        StoreError: the database cannot be reached.
    """
    settings = config.settings
    file = config.file
    ensure_current(file.database_url)
    store = SqlStore(file.database_url)
    file.workdir.mkdir(parents=True, exist_ok=True)
    environments = config.catalog.environments.values()
    engines = {
        env.name: (env.runtime, env.docker_host or settings.docker_host) for env in environments
    }
    # one runtime and one builder per engine, shared by the environments on it
    by_engine = {
        engine: cast(Runtime, _Lazy(partial(_runtime, *engine, config.catalog.instance)))
        for engine in set(engines.values())
    }
    # bots' Dockerfiles are untrusted code: `build_docker_host` builds them on another engine
    build_hosts = {env.name: env.build_docker_host or engines[env.name][1] for env in environments}
    builders_by_host = {
        host: cast(ImageBuilder, _Lazy(partial(_docker_builder, host)))
        for host in set(build_hosts.values())
    }
    fanout = FanOut(notifiers or [])
    forge = ForgeClient(
        github_url=settings.chatops_github_api_url,
        github_token=_secret(settings.chatops_github_token),
        gitlab_url=settings.chatops_gitlab_api_url,
        gitlab_token=_secret(settings.chatops_gitlab_token),
    )
    forge_sender = None
    if any(bot.github or bot.gitlab for bot in config.catalog.bots.values()):
        # deployment statuses go through the outbox: a forge outage never holds a deployment
        from chatops.adapters.forge_sender import ForgeNotifier, ForgeSender
        from chatops.adapters.slack import SlackOutbox  # (imports slack_sdk: only when needed)

        forge_sender = ForgeSender(store.uow, forge, SystemClock(), owner=HostProcesses().me())
        queue = SlackOutbox(store.uow, wake=forge_sender.wake)
        fanout.add(ForgeNotifier(queue, store.uow, config.catalog, public_url=file.public_url))
    deps = Deps(
        catalog=config.catalog,
        uow=store.uow,
        clock=SystemClock(),
        source=cast(
            SourceControl,
            _Lazy(partial(_source_control, file.workdir, config.catalog.instance)),
        ),
        builders={name: builders_by_host[host] for name, host in build_hosts.items()},
        runtimes={name: by_engine[engine] for name, engine in engines.items()},
        probe=HttpHealthProbe(),
        secrets=ProviderSecrets(environ),
        directory=directory or StaticDirectory(),
        freezes=CronFreezeCalendar(),
        processes=HostProcesses(),
        notifier=fanout,
        workdir=file.workdir,
        metrics=metrics or NullMetrics(),
        public_url=file.public_url,
        tuning=Tuning(ci_poll_seconds=settings.chatops_ci_poll_seconds),
        ci=forge,
    )
    services = wire(deps, launcher=launcher, metric_query=PrometheusQuery())
    app = Application(
        config=config,
        store=store,
        deps=deps,
        requests=services.requests,
        queries=services.queries,
        locks=services.locks,
        recovery=services.recovery,
        heartbeat=services.heartbeat,
        notifiers=fanout,
        cancels=services.cancels,
        verifier=services.verifier,
        alerts=services.alerts,
        autodeploy=services.autodeploy,
        board=services.board,
        deliveries=services.deliveries,
        throttle=services.throttle,
        retention=services.retention,
        forge_sender=forge_sender,
    )
    shutdown = getattr(services.launcher, "shutdown", None)
    if callable(shutdown):
        app.closers.append(shutdown)
    return app
