"""The pipeline's parts, one lazy property each: what runs a queued deployment.

Resolve the target and its secrets, find or build the release (one build per bot
at a time), wait for CI, run it, hold it to its health gate, go live, or fail and
put back what ran. `launcher` runs `pipeline.execute` inline or on a thread.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from chatops.bootstrap.wiring import Wiring

if TYPE_CHECKING:
    from chatops.services.attempt import Steps
    from chatops.services.building import Builds, BuildSlot, Images, Releases
    from chatops.services.ci_gate import CiGate
    from chatops.services.failures import Failures
    from chatops.services.going_live import GoLive
    from chatops.services.pipeline import Pipeline, Preparation
    from chatops.services.ports import Launcher
    from chatops.services.recovery import Heartbeat
    from chatops.services.rollout import HealthWait, Rollout

__all__ = ["Running"]


class Running(Wiring):
    """The pipeline and its parts, over the ports of `Wiring`."""

    @cached_property
    def heartbeat(self) -> Heartbeat:
        """This process's heartbeat: which deployments it is running now."""
        from chatops.services.recovery import Heartbeat

        return Heartbeat(
            uow=self.uow, clock=self.clock, processes=self.processes, tuning=self.tuning
        )

    @cached_property
    def steps(self) -> Steps:
        from chatops.services.attempt import Steps

        return Steps(uow=self.uow, clock=self.clock, announcer=self.announcer, tuning=self.tuning)

    @cached_property
    def build_slot(self) -> BuildSlot:
        from chatops.services.building import BuildSlot

        return BuildSlot(
            uow=self.uow,
            source=self.source,
            notifier=self.notifier,
            auditor=self.auditor,
            steps=self.steps,
        )

    @cached_property
    def images(self) -> Images:
        from chatops.services.building import Images

        return Images(
            self.catalog,
            engines=self.engines,
            source=self.source,
            workdir=self.workdir,
            notifier=self.notifier,
            steps=self.steps,
        )

    @cached_property
    def builds(self) -> Builds:
        from chatops.services.building import Builds

        return Builds(
            self.catalog,
            metrics=self.metrics,
            slot=self.build_slot,
            images=self.images,
            steps=self.steps,
        )

    @cached_property
    def releases(self) -> Releases:
        from chatops.services.building import Releases

        return Releases(uow=self.uow, source=self.source, steps=self.steps, builds=self.builds)

    @cached_property
    def ci_gate(self) -> CiGate:
        from chatops.services.ci_gate import CiGate

        return CiGate(ci=self.ci, auditor=self.auditor, steps=self.steps)

    @cached_property
    def preparation(self) -> Preparation:
        from chatops.services.pipeline import Preparation

        return Preparation(
            self.catalog, secrets=self.secrets, releases=self.releases, ci=self.ci_gate
        )

    @cached_property
    def health_wait(self) -> HealthWait:
        from chatops.services.rollout import HealthWait

        return HealthWait(observer=self.observer, engines=self.engines, steps=self.steps)

    @cached_property
    def going_live(self) -> GoLive:
        from chatops.services.going_live import GoLive

        return GoLive(
            self.catalog,
            uow=self.uow,
            auditor=self.auditor,
            metrics=self.metrics,
            source=self.source,
            steps=self.steps,
        )

    @cached_property
    def rollout(self) -> Rollout:
        from chatops.services.rollout import Rollout

        return Rollout(
            self.catalog,
            uow=self.uow,
            engines=self.engines,
            steps=self.steps,
            health=self.health_wait,
            go_live=self.going_live,
        )

    @cached_property
    def failures(self) -> Failures:
        from chatops.services.failures import Failures

        return Failures(uow=self.uow, engines=self.engines, auditor=self.auditor, steps=self.steps)

    @cached_property
    def pipeline(self) -> Pipeline:
        from chatops.services.pipeline import Pipeline

        return Pipeline(
            steps=self.steps,
            heartbeat=self.heartbeat,
            metrics=self.metrics,
            preparation=self.preparation,
            rollout=self.rollout,
            failures=self.failures,
        )

    @cached_property
    def launcher(self) -> Launcher:
        """Runs each deployment: inline for the CLI, on a thread of its own for `serve`."""
        from chatops.services.launchers import InlineLauncher

        chosen = (self._launcher_factory or InlineLauncher)(self.pipeline.execute)
        shutdown = getattr(chosen, "shutdown", None)
        if callable(shutdown):
            self.closers.append(shutdown)
        return chosen
