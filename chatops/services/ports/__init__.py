"""The Protocols the services need from the outside world; adapters implement them.

Each port is small and has a fake in tests/fakes.py. Values crossing a port are
domain types or the small dataclasses beside the ports: never an SDK or ORM object.

::

    build     SourceControl (the bot's git remote), ImageBuilder and its BuildRequest
    runtime   Runtime and its RunSpec; HealthProbe, CiChecks, MetricQuery
    store     a repository per record, UnitOfWork over them; SlotTaken and Conflict
    chat      Notifier, MessageRef
    system    Clock, Secrets, Directory, FreezeCalendar, ProcessTable, Launcher, Metrics
"""

from __future__ import annotations

from chatops.services.ports.build import BuildRequest, ImageBuilder, SourceControl
from chatops.services.ports.chat import MessageRef, Notifier
from chatops.services.ports.runtime import CiChecks, HealthProbe, MetricQuery, RunSpec, Runtime
from chatops.services.ports.store import (
    AlertRepository,
    AuditLog,
    Conflict,
    DeliveryLog,
    DeploymentRepository,
    LeaseRepository,
    LockRepository,
    MeasurementRepository,
    MessageRepository,
    ReleaseRepository,
    SlotTaken,
    UnitOfWork,
    UnitOfWorkFactory,
    VoteRepository,
    WantedHead,
    WantedHeads,
)
from chatops.services.ports.system import (
    Clock,
    Directory,
    FreezeCalendar,
    Launcher,
    Metrics,
    ProcessTable,
    Secrets,
)

__all__ = [
    "AlertRepository",
    "AuditLog",
    "BuildRequest",
    "CiChecks",
    "Clock",
    "Conflict",
    "DeliveryLog",
    "DeploymentRepository",
    "Directory",
    "FreezeCalendar",
    "HealthProbe",
    "ImageBuilder",
    "Launcher",
    "LeaseRepository",
    "LockRepository",
    "MeasurementRepository",
    "MessageRef",
    "MessageRepository",
    "MetricQuery",
    "Metrics",
    "Notifier",
    "ProcessTable",
    "ReleaseRepository",
    "RunSpec",
    "Runtime",
    "Secrets",
    "SlotTaken",
    "SourceControl",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "VoteRepository",
    "WantedHead",
    "WantedHeads",
]
