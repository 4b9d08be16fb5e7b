"""The release a deployment runs: named, found for its commit, or built once.

A build waits for the bot's build slot (one build per bot at a time), streams
its output to a log file and the channel, and is stopped on the engine when
it runs past the bot's `build_timeout_seconds` or the deployment is cancelled.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from chatops.domain.audit import Outcome
from chatops.domain.catalog import Bot
from chatops.domain.deployment import Commit, Event, Release
from chatops.domain.names import image_name, release_tag
from chatops.domain.policy import format_duration
from chatops.domain.redact import check_build_args
from chatops.errors import BuildError, ChatOpsError, InfrastructureError, NotFound
from chatops.services.attempt import Attempt, Stopped, TakenOver, check, interrupted, save
from chatops.services.context import Actor, Deps, required
from chatops.services.ports import BuildRequest, Conflict, SlotTaken
from chatops.services.queries import announce

__all__ = ["Releases"]

SYSTEM = Actor("chatops", "pipeline")


class Releases:
    """Finds or builds the release of a deployment."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps

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
        deps = self._deps
        deployment = attempt.deployment
        if deployment.version is not None:
            with deps.uow() as uow:
                release = uow.releases.get(bot.name, deployment.version)
            if release is None:
                raise NotFound(f"{bot.name} v{deployment.version} does not exist")
            if vet is not None:
                vet(release.commit)
            return release
        deps.source.fetch(bot)
        commit = deps.source.resolve(bot, deployment.ref or bot.branch)
        save(deps, attempt, attempt.deployment.with_changes(commit=commit.sha))
        if vet is not None:
            vet(commit.sha)  # before anything is built or tagged
        with deps.uow() as uow:
            release = uow.releases.for_commit(bot.name, commit.sha)
        return release if release is not None else self._build(attempt, bot, commit)

    def _claim_build_slot(self, attempt: Attempt, bot: Bot, commit: Commit) -> Release | None:
        """Enter `building` once no other build of the bot runs; a release that
        appeared meanwhile is returned instead."""
        deps = self._deps
        deadline = deps.clock.now() + timedelta(seconds=deps.tuning.build_slot_wait_seconds)
        told = False
        tagged = deps.source.highest_release(bot)  # git, so outside the transactions below
        while True:
            with deps.uow() as uow:
                release = uow.releases.for_commit(bot.name, commit.sha)
                if release is not None:
                    return release
                version = max(uow.releases.highest_version(bot.name), tagged) + 1
                building = attempt.deployment.advance(
                    Event.BUILD, at=deps.clock.now()
                ).with_changes(version=version)
                try:
                    attempt.deployment = uow.deployments.save(building)
                    uow.commit()
                    break
                except SlotTaken as taken:
                    holder = taken.holder_id
                except Conflict as conflict:
                    raise interrupted(conflict.current) from None
            if deps.clock.now() > deadline:
                raise InfrastructureError(
                    f"gave up waiting for deployment #{holder} to finish building {bot.name}"
                )
            if not told:
                deps.notifier.build_output(
                    attempt.deployment, f"waiting for deployment #{holder} to finish its build"
                )
                told = True
            deps.clock.sleep(1.0)
        announce(deps, attempt.deployment)
        return None

    def _build(self, attempt: Attempt, bot: Bot, commit: Commit) -> Release:
        deps = self._deps
        # refused before anything is built: build args end up in the image's history
        check_build_args(self._build_args(bot, attempt.deployment.env), attempt.secrets)
        existing = self._claim_build_slot(attempt, bot, commit)
        if existing is not None:
            return existing
        deployment = attempt.deployment
        version = required(deployment.version, "the version being built")
        image = image_name(deps.catalog.registry, bot.name, version, deps.catalog.instance)
        source = attempt.redact(bot.repo)
        tail: deque[str] = deque(maxlen=deps.tuning.build_log_tail_lines)
        started = time.monotonic()
        ok = False
        try:
            image_id, digest = self._image(
                attempt, bot, commit, image=image, source=source, tail=tail
            )
            ok = True
        except BuildError as exc:
            attempt.log_tail = attempt.redact(exc.log_tail or "\n".join(tail))
            if attempt.stop is not None:
                raise attempt.stop from exc
            raise
        finally:
            deps.metrics.build_finished(bot.name, seconds=time.monotonic() - started, ok=ok)
        release = Release(
            bot=bot.name,
            version=version,
            commit=commit.sha,
            tag=release_tag(bot.name, version, deps.catalog.instance),
            image=image,
            image_id=image_id,
            digest=digest,
            created_by=deployment.requested_by,
            created_at=deps.clock.now(),
            deployment_id=deployment.id,
            source=source,
            subject=commit.subject,
        )
        conflict: Conflict | None = None
        with deps.uow() as uow:
            release = uow.releases.add(release)  # built and tagged: kept even when cancelled
            try:
                attempt.deployment = uow.deployments.save(
                    attempt.deployment.with_changes(log_tail="\n".join(tail))
                )
            except Conflict as changed:
                conflict = changed
            deps.audit(
                uow,
                SYSTEM,
                "build",
                Outcome.OK,
                of=deployment,
                detail=f"v{version} = {commit.sha[:12]} → {image} ({digest[:19]})",
            )
            uow.commit()
        if conflict is not None:
            raise interrupted(conflict.current)
        return release

    def _image(
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
        deps = self._deps
        deployment = attempt.deployment
        version = required(deployment.version, "the version being built")
        registry = deps.catalog.registry
        # built on the engine of the environment it is first deployed to (where it runs next),
        # or on its `build_docker_host`
        builder = deps.builder(deployment.env)
        request = BuildRequest(
            image=image,
            context=partial(deps.source.archive, bot, commit.sha, bot.context),
            dockerfile=bot.dockerfile,
            build_args=self._build_args(bot, deployment.env),
            labels={
                "org.opencontainers.image.revision": commit.sha,
                "org.opencontainers.image.version": f"v{version}",
                "org.opencontainers.image.source": source,
                "chatops.bot": bot.name,
                "chatops.instance": deps.catalog.instance,
            },
            log=deps.workdir / "logs" / bot.name / f"v{version}-deployment-{deployment.id}.log",
            mask=attempt.redact,
        )
        output = self._build_output(attempt, tail)
        image_id = builder.build(
            request, output=output, stop=self._build_stop(attempt, bot, version)
        )
        try:
            digest = builder.push(image) if registry else image_id
            deps.source.tag_release(
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
        deps = self._deps
        deadline = deps.clock.now() + bot.build_timeout

        def stop() -> str | None:
            if deps.clock.now() >= deadline:
                attempt.stop = Stopped(
                    f"v{version} did not build within {format_duration(bot.build_timeout)} "
                    "(build_timeout_seconds); the build was stopped",
                    hint="make the build faster, or raise `build_timeout_seconds` of "
                    f"{bot.name} in chatops.yaml",
                )
                return "it ran longer than build_timeout_seconds"
            try:
                check(deps, attempt)
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
            self._deps.notifier.build_output(attempt.deployment, line)

        return output

    def _build_args(self, bot: Bot, env: str) -> dict[str, str]:
        target = bot.targets.get(env)
        return {**bot.build_args, **(target.build_args if target else {})}
