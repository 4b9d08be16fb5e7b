"""Which adapter implements each port, made on first use.

A read command (`status`, `releases`) touches the store and little else, so
nothing here is imported or connected before something asks for it: Docker,
git, APScheduler's cron parser, the secret providers and the HTTP probes cost
start-up time only to the commands that use them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from chatops.config import Config, Settings, environ
from chatops.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import SecretStr
    from rich.console import Console

    from chatops.adapters.db.plain_reads import PlainStore
    from chatops.adapters.db.uow import SqlStore, SqlUnitOfWork
    from chatops.adapters.forge import ForgeClient
    from chatops.services.ports import (
        Clock,
        Directory,
        FreezeCalendar,
        HealthProbe,
        ImageBuilder,
        Notifier,
        ProcessTable,
        Runtime,
        Secrets,
        SourceControl,
    )
    from chatops.services.status_reads import ReadsFactory

__all__ = ["Adapters", "plain_store", "slack_directory", "source_control", "terminal_notifier"]


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


def source_control(workdir: Path, instance: str | None = None) -> SourceControl:
    """Git, with chatops' mirrors under `workdir` (`instance` namespaces the tags it pushes)."""
    from chatops.adapters.git import GitSourceControl

    if instance is None:
        return GitSourceControl(workdir)
    return GitSourceControl(workdir, instance=instance)


def _docker_builder(docker_host: str | None, workdir: Path) -> ImageBuilder:
    from chatops.adapters.build import DockerImageBuilder
    from chatops.adapters.docker_client import connect

    return DockerImageBuilder(connect(docker_host), scratch=workdir / "builds")


def _runtime(kind: str, docker_host: str | None, instance: str) -> Runtime:
    from chatops.adapters.docker_client import connect

    if kind == "docker":
        from chatops.adapters.runtime.docker import DockerRuntime

        return DockerRuntime(connect(docker_host), instance=instance)
    if kind == "swarm":
        from chatops.adapters.runtime.swarm import SwarmRuntime

        return SwarmRuntime(connect(docker_host), instance=instance)
    raise ConfigError(f"unknown runtime {kind!r}")


def _freezes() -> FreezeCalendar:
    from chatops.adapters.freeze import CronFreezeCalendar

    return CronFreezeCalendar()


def _secrets() -> Secrets:
    from chatops.adapters.secrets import ProviderSecrets

    return ProviderSecrets(environ)


def _probe() -> HealthProbe:
    from chatops.adapters.health_probe import HttpHealthProbe

    return HttpHealthProbe()


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def plain_store(config: Config) -> PlainStore | None:
    """The database read through sqlite3 alone (a read command then never imports
    SQLAlchemy), when it is SQLite at this code's schema; else None."""
    from chatops.adapters.db.plain_reads import PlainStore

    return PlainStore.open(config.file.database_url)


def slack_directory(settings: Settings) -> Directory:
    """Slack's user groups, the client made (and slack_sdk imported) when first asked."""

    def made() -> Directory:
        from chatops.bootstrap.slack import directory_for, slack_client

        found = directory_for(slack_client(settings))
        if found is None:
            raise ConfigError("Slack's user groups need SLACK_BOT_TOKEN")
        return found

    return cast("Directory", _Lazy(made))


def terminal_notifier(console: Console, *, build_output: bool = True) -> Notifier:
    """Deployments' progress printed on `console` (the CLI's stderr, the demo's screen)."""
    from chatops.adapters.notifiers import TerminalNotifier

    return TerminalNotifier(console, build_output=build_output)


class Adapters:
    """The adapters of one configuration, each made when first asked for."""

    def __init__(
        self, config: Config, *, directory: Directory | None = None, plain: PlainStore | None = None
    ) -> None:
        self.config = config
        self._directory = directory
        self.plain = plain  # what status and releases read, when it can be read plainly

    @cached_property
    def store(self) -> SqlStore:
        """The database, checked to be at the schema this code expects.

        Raises:
            SchemaOutOfDate: the database needs `chatops db upgrade`.
            StoreError: the database cannot be reached.
        """
        from chatops.adapters.db.schema import ensure_current
        from chatops.adapters.db.uow import SqlStore

        url = self.config.file.database_url
        ensure_current(url)
        return SqlStore(url)

    def uow(self) -> SqlUnitOfWork:
        """A unit of work on the store."""
        return self.store.uow()

    @property
    def reads(self) -> ReadsFactory:
        """What `status` and `releases` read through: the plain reads, else the store's
        units of work."""
        return self.plain.reads if self.plain is not None else self.uow

    def close(self) -> None:
        """Close the databases this process opened."""
        if self.plain is not None:
            self.plain.close()
        if "store" in vars(self):
            self.store.dispose()

    @cached_property
    def clock(self) -> Clock:
        from chatops.adapters.system import SystemClock

        return SystemClock()

    @cached_property
    def processes(self) -> ProcessTable:
        from chatops.adapters.system import HostProcesses

        return HostProcesses()

    @cached_property
    def source(self) -> SourceControl:
        file = self.config.file
        factory = partial(source_control, file.workdir, self.config.catalog.instance)
        return cast("SourceControl", _Lazy(factory))

    @cached_property
    def _engines(self) -> dict[str, tuple[str, str | None]]:
        """Each environment's engine: (runtime kind, docker host)."""
        settings = self.config.settings
        return {
            env.name: (env.runtime, env.docker_host or settings.docker_host)
            for env in self.config.catalog.environments.values()
        }

    @cached_property
    def runtimes(self) -> Mapping[str, Runtime]:
        """One runtime per engine, shared by the environments on it."""
        instance = self.config.catalog.instance
        by_engine = {
            engine: cast("Runtime", _Lazy(partial(_runtime, *engine, instance)))
            for engine in set(self._engines.values())
        }
        return {name: by_engine[engine] for name, engine in self._engines.items()}

    @cached_property
    def builders(self) -> Mapping[str, ImageBuilder]:
        """One builder per build engine: bots' Dockerfiles are untrusted code, and
        `build_docker_host` builds them on another engine than the one running bots."""
        hosts = {
            env.name: env.build_docker_host or self._engines[env.name][1]
            for env in self.config.catalog.environments.values()
        }
        workdir = self.config.file.workdir
        by_host = {
            host: cast("ImageBuilder", _Lazy(partial(_docker_builder, host, workdir)))
            for host in set(hosts.values())
        }
        return {name: by_host[host] for name, host in hosts.items()}

    @cached_property
    def probe(self) -> HealthProbe:
        return cast("HealthProbe", _Lazy(_probe))

    @cached_property
    def secrets(self) -> Secrets:
        return cast("Secrets", _Lazy(_secrets))

    @cached_property
    def freezes(self) -> FreezeCalendar:
        return cast("FreezeCalendar", _Lazy(_freezes))

    @cached_property
    def directory(self) -> Directory:
        """Who is in which user group: Slack's user groups when Slack is configured."""
        if self._directory is not None:
            return self._directory
        from chatops.adapters.directory import StaticDirectory

        return StaticDirectory()

    @cached_property
    def forge(self) -> ForgeClient:
        """GitHub's and GitLab's APIs: CI checks read, deployment statuses written."""
        from chatops.adapters.forge import ForgeClient

        settings = self.config.settings
        return ForgeClient(
            github_url=settings.chatops_github_api_url,
            github_token=_secret(settings.chatops_github_token),
            gitlab_url=settings.chatops_gitlab_api_url,
            gitlab_token=_secret(settings.chatops_gitlab_token),
        )

    @property
    def uses_forge(self) -> bool:
        """Whether any bot reports deployment statuses to GitHub or GitLab."""
        return any(bot.github or bot.gitlab for bot in self.config.catalog.bots.values())
