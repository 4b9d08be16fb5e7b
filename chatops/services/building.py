"""The release a deployment runs: named, found for its commit, or built once.

A build waits for the bot's build slot (one build per bot at a time), streams
its output to a log file and the channel, and is stopped on the engine when
it runs past the bot's `build_timeout_seconds` or the deployment is cancelled.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from functools import partial
from pathlib import Path

from chatops.domain.audit import Outcome
from chatops.domain.catalog import Bot, Catalog
from chatops.domain.deployment import Commit, Event, Release
from chatops.domain.names import image_name, release_tag
from chatops.domain.policy import format_duration
from chatops.domain.redact import check_build_args
from chatops.errors import BuildError, ChatOpsError, InfrastructureError, NotFound
from chatops.services.attempt import Attempt, Steps, Stopped, TakenOver, interrupted
from chatops.services.auditor import Auditor
from chatops.services.context import Actor, required
from chatops.services.engines import Engines
from chatops.services.ports import (
    BuildRequest,
    Conflict,
    Metrics,
    Notifier,
    SlotTaken,
    SourceControl,
    UnitOfWorkFactory,
)

__all__ = ["BuildSlot", "Builds", "Images", "Releases"]

SYSTEM = Actor("chatops", "pipeline")


class Releases:
    """Finds or builds the release of a deployment."""

    def __init__(
        self, *, uow: UnitOfWorkFactory, source: SourceControl, steps: Steps, builds: Builds
    ) -> None:
        self._uow = uow
        self._source = source
        self._steps = steps
        self._builds = builds

    def release(
        self, attempt: Attempt, bot: Bot, *, vet: Callable[[str], None] | None = None
    ) -> Release:
        """The release the deployment runs: the one it names, the commit's, or a new build.

        Raises:
            NotFound: the named version or the ref does not exist.
            BuildError, RegistryError, SourceControlError: the build did not make it.
            Stopped, TakenOver: cancelled, or out of time, while waiting or building.
            ChecksFailed: `vet` refused the commit.
        """
        deployment = attempt.deployment
        if deployment.version is not None:
            with self._uow() as uow:
                release = uow.releases.get(bot.name, deployment.version)
            if release is None:
                raise NotFound(f"{bot.name} v{deployment.version} does not exist")
            if vet is not None:
                vet(release.commit)
            return release
        self._source.fetch(bot)
        commit = self._source.resolve(bot, deployment.ref or bot.branch)
        self._steps.save(attempt, replace(attempt.deployment, commit=commit.sha))
        if vet is not None:
            vet(commit.sha)  # before anything is built or tagged
        with self._uow() as uow:
            release = uow.releases.for_commit(bot.name, commit.sha)
        return release if release is not None else self._builds.build(attempt, bot, commit)


class BuildSlot:
    """One build per bot at a time: held by the deployment in `building`, handed back by
    recording the release it built."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        source: SourceControl,
        notifier: Notifier,
        auditor: Auditor,
        steps: Steps,
    ) -> None:
        self._uow = uow
        self._source = source
        self._notifier = notifier
        self._auditor = auditor
        self._steps = steps

    def claim(self, attempt: Attempt, bot: Bot, commit: Commit) -> Release | None:
        """Enter `building` once no other build of the bot runs; a release that
        appeared meanwhile is returned instead."""
        steps = self._steps
        deadline = steps.now() + timedelta(seconds=steps.tuning.build_slot_wait_seconds)
        told = False
        tagged = self._source.highest_release(bot)  # git, so outside the transactions below
        while True:
            with self._uow() as uow:
                release = uow.releases.for_commit(bot.name, commit.sha)
                if release is not None:
                    return release
                version = max(uow.releases.highest_version(bot.name), tagged) + 1
                building = replace(
                    attempt.deployment.advance(Event.BUILD, at=steps.now()), version=version
                )
                try:
                    attempt.deployment = uow.deployments.save(building)
                    uow.commit()
                    break
                except SlotTaken as taken:
                    holder = taken.holder_id
                except Conflict as conflict:
                    raise interrupted(conflict.current) from None
            if steps.now() > deadline:
                raise InfrastructureError(
                    f"gave up waiting for deployment #{holder} to finish building {bot.name}"
                )
            if not told:
                self._notifier.build_output(
                    attempt.deployment, f"waiting for deployment #{holder} to finish its build"
                )
                told = True
            steps.sleep(1.0)
        steps.tell(attempt.deployment)
        return None

    def record(self, attempt: Attempt, release: Release, *, log_tail: str, detail: str) -> Release:
        """Record the built release (kept even when cancelled) and the build's output; the
        slot is free once the deployment moves on.

        Raises:
            Stopped, TakenOver: someone else changed the deployment meanwhile.
        """
        deployment = attempt.deployment
        conflict: Conflict | None = None
        with self._uow() as uow:
            release = uow.releases.add(release)  # built and tagged: kept even when cancelled
            try:
                attempt.deployment = uow.deployments.save(
                    replace(attempt.deployment, log_tail=log_tail)
                )
            except Conflict as changed:
                conflict = changed
            self._auditor.record(uow, SYSTEM, "build", Outcome.OK, of=deployment, detail=detail)
            uow.commit()
        if conflict is not None:
            raise interrupted(conflict.current)
        return release


class Builds:
    """Builds the release of a commit once: in the bot's build slot, on the engine of the
    environment, within the bot's build time."""

    def __init__(
        self, catalog: Catalog, *, metrics: Metrics, slot: BuildSlot, images: Images, steps: Steps
    ) -> None:
        self._catalog = catalog
        self._metrics = metrics
        self._slot = slot
        self._images = images
        self._steps = steps

    def build(self, attempt: Attempt, bot: Bot, commit: Commit) -> Release:
        # refused before anything is built: build args end up in the image's history
        check_build_args(build_args(bot, attempt.deployment.env), attempt.secrets)
        existing = self._slot.claim(attempt, bot, commit)
        if existing is not None:
            return existing
        deployment = attempt.deployment
        version = required(deployment.version, "the version being built")
        image = image_name(self._catalog.registry, bot.name, version, self._catalog.instance)
        source = attempt.redact(bot.repo)
        tail: deque[str] = deque(maxlen=self._steps.tuning.build_log_tail_lines)
        started = time.monotonic()
        ok = False
        try:
            image_id, digest = self._images.image(
                attempt, bot, commit, image=image, source=source, tail=tail
            )
            ok = True
        except BuildError as exc:
            attempt.log_tail = attempt.redact(exc.log_tail or "\n".join(tail))
            if attempt.stop is not None:
                raise attempt.stop from exc
            raise
        finally:
            self._metrics.build_finished(bot.name, seconds=time.monotonic() - started, ok=ok)
        release = Release(
            bot=bot.name,
            version=version,
            commit=commit.sha,
            tag=release_tag(bot.name, version, self._catalog.instance),
            image=image,
            image_id=image_id,
            digest=digest,
            created_by=deployment.requested_by,
            created_at=self._steps.now(),
            deployment_id=deployment.id,
            source=source,
            subject=commit.subject,
        )
        return self._slot.record(
            attempt,
            release,
            log_tail="\n".join(tail),
            detail=f"v{version} = {commit.sha[:12]} → {image} ({digest[:19]})",
        )


class Images:
    """Builds, pushes and tags one image, streaming its output, stopped when asked."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        engines: Engines,
        source: SourceControl,
        workdir: Path,
        notifier: Notifier,
        steps: Steps,
    ) -> None:
        self._catalog = catalog
        self._engines = engines
        self._source = source
        self._workdir = workdir
        self._notifier = notifier
        self._steps = steps

    def image(
        self,
        attempt: Attempt,
        bot: Bot,
        commit: Commit,
        *,
        image: str,
        source: str,
        tail: deque[str],
    ) -> tuple[str, str]:
        """Build, push and tag the image of `commit`; its id and digest."""
        deployment = attempt.deployment
        version = required(deployment.version, "the version being built")
        registry = self._catalog.registry
        # built on the engine of the environment it is first deployed to (where it runs next),
        # or on its `build_docker_host`
        builder = self._engines.builder(deployment.env)
        request = BuildRequest(
            image=image,
            context=partial(self._source.archive, bot, commit.sha, bot.context),
            dockerfile=bot.dockerfile,
            build_args=build_args(bot, deployment.env),
            labels={
                "org.opencontainers.image.revision": commit.sha,
                "org.opencontainers.image.version": f"v{version}",
                "org.opencontainers.image.source": source,
                "chatops.bot": bot.name,
                "chatops.instance": self._catalog.instance,
            },
            log=self._workdir / "logs" / bot.name / f"v{version}-deployment-{deployment.id}.log",
            mask=attempt.redact,
        )
        output = self._build_output(attempt, tail)
        image_id = builder.build(
            request, output=output, stop=self._build_stop(attempt, bot, version)
        )
        try:
            digest = builder.push(image) if registry else image_id
            self._source.tag_release(
                bot,
                version=version,
                commit=commit.sha,
                message=(
                    f"{bot.name} v{version}\n\nBuilt by chatops deployment #{deployment.id}, "
                    f"requested by {deployment.requested_by}."
                ),
            )
        except ChatOpsError:
            builder.remove(image)
            raise
        return image_id, digest

    def _build_stop(self, attempt: Attempt, bot: Bot, version: int) -> Callable[[], str | None]:
        """What the builder asks (from its own thread) whether to end the build early."""
        steps = self._steps
        deadline = steps.now() + bot.build_timeout

        def stop() -> str | None:
            if steps.now() >= deadline:
                attempt.stop = Stopped(
                    f"v{version} did not build within {format_duration(bot.build_timeout)} "
                    "(build_timeout_seconds); the build was stopped",
                    hint="make the build faster, or raise `build_timeout_seconds` of "
                    f"{bot.name} in chatops.yaml",
                )
                return "it ran longer than build_timeout_seconds"
            try:
                steps.check(attempt)
            except (Stopped, TakenOver) as exc:
                attempt.stop = exc
                return str(exc)
            return None

        return stop

    def _build_output(self, attempt: Attempt, tail: deque[str]) -> Callable[[str], None]:
        """Each line of output (masked by the builder): kept for the tail, and told."""

        def output(line: str) -> None:
            line = line.rstrip("\n")
            tail.append(line)
            self._notifier.build_output(attempt.deployment, line)

        return output


def build_args(bot: Bot, env: str) -> dict[str, str]:
    """The bot's build args, with those of its target in `env` over them."""
    target = bot.targets.get(env)
    return {**bot.build_args, **(target.build_args if target else {})}
