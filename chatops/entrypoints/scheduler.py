"""The scheduled jobs of `serve` (APScheduler 3), run only by the holder of the scheduler lease.

Several `serve` replicas may share one database: every replica tries to take or
renew the lease row every few seconds; the holder runs health checks, metric
verification, approval expiry, soak notices, reconcile, recovery, the heads
pushed while a deployment ran, the pruning of old delivery ids, and `retention`.
When the holder dies, its lease expires and another replica takes over within one lease period.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from chatops.bootstrap import Application
from chatops.bootstrap.serving import PrometheusMetrics
from chatops.services.autodeploy import AutoDeploy
from chatops.services.deliveries import Deliveries
from chatops.services.health_checks import HealthChecks
from chatops.services.leases import Leases
from chatops.services.reconcile import Reconciler
from chatops.services.retention import Retention
from chatops.services.soak import SoakNotices

__all__ = ["LEASE", "Scheduler"]

log = logging.getLogger(__name__)

LEASE = "scheduler"
WANTED_HEADS_SECONDS = 2  # how soon a head pushed during a deployment follows it


class Scheduler:
    """Background jobs behind a leader lease."""

    def __init__(
        self,
        application: Application,
        autodeploy: AutoDeploy,
        metrics: PrometheusMetrics,
        deliveries: Deliveries,
        *,
        health: HealthChecks,
        soak: SoakNotices,
        reconciler: Reconciler,
        retention: Retention,
        leases: Leases,
        lease_seconds: float = 15.0,
    ) -> None:
        self._app = application
        self._health = health
        self._soak = soak
        self._reconciler = reconciler
        self._retention = retention
        self._autodeploy = autodeploy
        self._metrics = metrics
        self._deliveries = deliveries
        self._leases = leases
        self._lease_seconds = lease_seconds
        self._leader = threading.Event()
        self._told_standby = False  # "stands by" is said once, and again after losing the lease
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 5},
            timezone="UTC",
        )

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        """Add the jobs and start; the lease is tried at once."""
        add = self._scheduler.add_job
        add(self._renew, "interval", seconds=max(1.0, self._lease_seconds / 3), id="lease")
        for env in self._app.config.catalog.environments.values():
            add(
                self._as_leader(partial(self._health.check_environment, env.name)),
                "interval",
                seconds=env.health_interval.total_seconds(),
                id=f"health:{env.name}",
            )
        for env in self._app.config.catalog.environments.values():
            if env.verify is not None:
                add(
                    self._as_leader(partial(self._app.verifier.verify_environment, env.name)),
                    "interval",
                    seconds=env.verify.interval.total_seconds(),
                    id=f"verify:{env.name}",
                )
        add(
            self._as_leader(self._app.requests.expire_and_supersede),
            "interval",
            seconds=5,
            id="approvals",
        )
        add(self._as_leader(self._soak.notify_soaked), "interval", seconds=10, id="soak")
        add(self._as_leader(self._reconciler.reconcile), "interval", seconds=60, id="reconcile")
        add(self._as_leader(self._app.recovery.recover), "interval", seconds=15, id="recovery")
        add(
            self._as_leader(self._autodeploy.drain),
            "interval",
            seconds=WANTED_HEADS_SECONDS,
            id="wanted-heads",
        )
        add(self._as_leader(self._deliveries.prune), "interval", hours=1, id="deliveries")
        if self._app.config.catalog.retention.configured:
            add(self._as_leader(self._retention.prune), "interval", hours=1, id="retention")
        add(self._as_leader(self._app.verifier.prune), "interval", hours=6, id="measurements")
        for env in self._app.config.catalog.environments.values():
            if env.auto_deploy and env.poll_seconds:
                add(
                    self._as_leader(partial(self._autodeploy.poll, env.name)),
                    "interval",
                    seconds=env.poll_seconds,
                    id=f"poll:{env.name}",
                )
        self._renew()
        self._scheduler.start()

    def shutdown(self) -> None:
        """Stop the jobs (waiting for running ones) and give the lease up."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        if self._leader.is_set():
            try:
                self._leases.give_up(LEASE)
            except Exception:
                log.exception("could not give up the scheduler lease")
            self._leader.clear()
            self._metrics.leader.set(0)

    def _renew(self) -> None:
        try:
            held = self._leases.hold(LEASE, ttl_seconds=self._lease_seconds)
        except Exception:
            log.exception("could not renew the scheduler lease")
            held = False
        if held and not self._leader.is_set():
            log.warning("scheduler: this process holds the lease and runs the scheduled jobs")
        elif not held and (self._leader.is_set() or not self._told_standby):
            log.warning("scheduler: another process holds the lease; this one stands by")
            self._told_standby = True
        if held:
            self._leader.set()
        else:
            self._leader.clear()
        self._metrics.leader.set(1 if held else 0)

    def _as_leader(self, job: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            if not self._leader.is_set():
                return
            try:
                job()
            except Exception:
                log.exception("scheduled job failed")

        return run
