"""The ports one process runs over, and the small helpers most services share.

`Wiring` holds the ports `build` chose (or the tests' fakes); `Running` and
`Services` (running.py, services.py) add one lazy property per service on top,
each a single constructor call naming what that service uses. Nothing is made
before it is first asked for, so a read command builds only the read side.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from chatops.domain.verification import Outcome

if TYPE_CHECKING:
    from chatops.domain.catalog import Catalog
    from chatops.services.announcer import Announcer
    from chatops.services.auditor import Auditor
    from chatops.services.channel import Channel, Links
    from chatops.services.context import Tuning
    from chatops.services.engines import Engines
    from chatops.services.masking import Masker
    from chatops.services.observing import HealthObserver
    from chatops.services.ports import (
        CiChecks,
        Clock,
        Directory,
        FreezeCalendar,
        HealthProbe,
        ImageBuilder,
        Launcher,
        MetricQuery,
        Metrics,
        Notifier,
        ProcessTable,
        Runtime,
        Secrets,
        SourceControl,
        UnitOfWorkFactory,
    )
    from chatops.services.queries import Views
    from chatops.services.status_reads import ReadsFactory

__all__ = ["LauncherFactory", "Wiring"]

LauncherFactory = Callable[[Callable[[int], object]], "Launcher"]


class Wiring:
    """The chosen ports, and the helpers built over them once."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        source: SourceControl,
        runtimes: Mapping[str, Runtime],
        builders: Mapping[str, ImageBuilder],
        probe: HealthProbe,
        secrets: Secrets,
        directory: Directory,
        freezes: FreezeCalendar,
        processes: ProcessTable,
        notifier: Notifier,
        metrics: Metrics,
        ci: CiChecks,
        workdir: Path,
        tuning: Tuning,
        public_url: str | None = None,
        launcher: LauncherFactory | None = None,
        metric_query: Callable[[], MetricQuery] | None = None,
        reads: ReadsFactory | None = None,
    ) -> None:
        self.catalog = catalog
        self.uow = uow
        self.reads: ReadsFactory = reads or uow  # what status and releases read
        self.clock = clock
        self.source = source
        self.runtimes = runtimes
        self.builders = builders
        self.probe = probe
        self.secrets = secrets
        self.directory = directory
        self.freezes = freezes
        self.processes = processes
        self.notifier = notifier
        self.metrics = metrics
        self.ci = ci
        self.workdir = workdir
        self.tuning = tuning
        self.public_url = public_url
        self.closers: list[Callable[[], None]] = []
        self._launcher_factory = launcher
        self._metric_query = metric_query

    # ── shared helpers ──────────────────────────────────────────────────────

    @cached_property
    def engines(self) -> Engines:
        from chatops.services.engines import Engines

        return Engines(self.runtimes, self.builders)

    @cached_property
    def auditor(self) -> Auditor:
        from chatops.services.auditor import Auditor

        return Auditor(self.uow, self.clock)

    @cached_property
    def masker(self) -> Masker:
        from chatops.services.masking import Masker

        return Masker(self.catalog, self.secrets)

    @cached_property
    def observer(self) -> HealthObserver:
        from chatops.services.observing import HealthObserver

        return HealthObserver(self.catalog, self.engines, self.probe)

    @cached_property
    def links(self) -> Links:
        from chatops.services.channel import Links

        return Links(self.public_url)

    @cached_property
    def chat_channel(self) -> Channel:
        """The notifier, told views (a failing chat never stops anything)."""
        from chatops.services.channel import Channel

        return Channel(self.notifier)

    @cached_property
    def views(self) -> Views:
        from chatops.services.queries import Views

        return Views(
            self.catalog,
            uow=self.uow,
            clock=self.clock,
            directory=self.directory,
            source=self.source,
            links=self.links,
        )

    @cached_property
    def announcer(self) -> Announcer:
        from chatops.services.announcer import Announcer

        return Announcer(self.views, self.chat_channel)

    def metric_query(self) -> MetricQuery:
        """What verification asks (Prometheus); where none is wired, every query reads
        as Prometheus being down."""
        if self._metric_query is not None:
            return self._metric_query()
        return _NoPrometheus()


class _NoPrometheus:
    """Where no metric source is wired: every query reads as Prometheus being down."""

    def query(self, prometheus: str, query: str, *, timeout: float) -> Outcome:
        return Outcome(error="no metric source is wired", down=True)
