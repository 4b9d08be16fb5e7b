"""Deployment statuses on the forge (DESIGN §10), through the outbox: queued, then sent.

`ForgeNotifier` is a Notifier: each change of a deployment of a bot with
`github:` or `gitlab:` queues the newest status for it (`forge:<id>`), so a
deployment never waits for the forge. `ForgeSender` claims those rows (one
sender per row, whichever replica), creates the forge's deployment once (its
id is remembered before the status is sent, so a retry never creates a second
one) and posts the status; a forge that is down is retried with a growing
pause, and given up on, logged, after `MAX_ATTEMPTS`.

States: queued, building, deploying, verifying → `in_progress`; live →
`success`; failed → `failure`; superseded → `inactive`. Deployments that never
ran (pending approval, rejected, expired) are not reported.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from chatops.adapters.db.outbox import Claimed, OutboxKind, Outgoing
from chatops.adapters.db.uow import SqlUnitOfWork
from chatops.adapters.forge import ForgeClient
from chatops.adapters.slack import SlackOutbox
from chatops.domain.catalog import Catalog
from chatops.domain.deployment import Deployment, State
from chatops.errors import ChatOpsError
from chatops.services.ports import Clock, MessageRef
from chatops.services.views import AlertView, DeploymentView

__all__ = ["MAX_ATTEMPTS", "ForgeNotifier", "ForgeSender", "forge_subject"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12  # about an hour of retries, doubling from 2 s up to 10 min
_PACE = {"chat.postMessage": timedelta(0), "chat.update": timedelta(0)}
_HOLD = timedelta(seconds=60)

_STATES = {
    State.QUEUED: "in_progress",
    State.BUILDING: "in_progress",
    State.DEPLOYING: "in_progress",
    State.VERIFYING: "in_progress",
    State.LIVE: "success",
    State.FAILED: "failure",
    State.SUPERSEDED: "inactive",
}


def forge_subject(deployment_id: int) -> str:
    return f"forge:{deployment_id}"


class ForgeNotifier:
    """Implements the Notifier port: queues each deployment's newest forge status."""

    def __init__(
        self,
        outbox: SlackOutbox,
        uow: Callable[[], SqlUnitOfWork],
        catalog: Catalog,
        *,
        public_url: str | None,
    ) -> None:
        self._outbox = outbox
        self._uow = uow
        self._catalog = catalog
        self._public_url = public_url.rstrip("/") if public_url else None

    def deployment_changed(self, view: DeploymentView) -> None:
        deployment = view.deployment
        bot = self._catalog.bots.get(deployment.bot)
        environment = self._catalog.environments.get(deployment.env)
        state = _STATES.get(deployment.state)
        sha = view.release.commit if view.release else deployment.commit
        if bot is None or environment is None or state is None or not sha:
            return
        if deployment.id is None or not (bot.github or bot.gitlab):
            return
        forge, project = ("github", bot.github) if bot.github else ("gitlab", bot.gitlab)
        queued = [self._status(view, forge, str(project), state, sha)]
        if deployment.state is State.LIVE:
            queued.extend(self._replaced(view, forge, str(project)))
        self._outbox.queue(*queued)

    def _replaced(self, view: DeploymentView, forge: str, project: str) -> list[Outgoing]:
        """`inactive` for the deployment this one replaced (superseded as it went live)."""
        deployment = view.deployment
        with self._uow() as uow:
            history = uow.deployments.history(deployment.bot, deployment.env, limit=10)
            superseded = [
                d for d in history if d.state is State.SUPERSEDED and d.id != deployment.id
            ]
            last = max(superseded, key=lambda d: d.finished_at or d.updated_at, default=None)
            if last is None or last.id is None:
                return []
            if uow.messages.get(forge_subject(last.id)) is None and not uow.outbox.waiting(
                [forge_subject(last.id)], kinds={OutboxKind.FORGE}
            ):
                return []  # never reported: nothing to make inactive
        sha = last.commit or ""
        return [self._status(DeploymentView(last, None), forge, project, "inactive", sha)]

    def _status(
        self, view: DeploymentView, forge: str, project: str, state: str, sha: str
    ) -> Outgoing:
        deployment = view.deployment
        bot = self._catalog.bots[deployment.bot]
        environment = self._catalog.environments[deployment.env]
        status = {
            "project": project,
            "sha": sha,
            "ref": bot.branch,
            "environment": deployment.env,
            "production": not self._catalog.downstream_of(deployment.env),
            "state": state,
            "description": _description(deployment),
            "log_url": f"{self._public_url}/ui/deployments/{deployment.id}"
            if self._public_url
            else None,
            "environment_url": environment.environment_url.replace("{bot}", bot.name)
            if environment.environment_url
            else None,
        }
        subject = forge_subject(deployment.id or 0)
        return Outgoing(subject, OutboxKind.FORGE, forge, json.dumps(status), [])

    def build_output(self, deployment: Deployment, line: str) -> None:
        pass

    def deployment_soaked(self, view: DeploymentView) -> None:
        pass

    def alert_changed(self, view: AlertView) -> None:
        pass

    def say(self, channel: str | None, text: str) -> None:
        pass


def _description(deployment: Deployment) -> str:
    what = f"v{deployment.version}" if deployment.version else "the branch head"
    return f"chatops #{deployment.id}: {deployment.kind} of {what} by {deployment.requested_by}"


class ForgeSender:
    """Sends queued forge statuses on a thread of its own; never blocks a deployment."""

    def __init__(
        self,
        uow: Callable[[], SqlUnitOfWork],
        client: ForgeClient,
        clock: Clock,
        *,
        owner: str,
        idle_seconds: float = 2.0,
    ) -> None:
        self._uow = uow
        self._client = client
        self._clock = clock
        self._owner = owner
        self._idle = idle_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="forge-sender", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def send_due(self) -> bool:
        """Send one due status, if any; whether one was claimed."""
        now = self._clock.now()
        with self._uow() as uow:
            claimed, _ = uow.outbox.claim(
                self._owner, now=now, hold=_HOLD, pace=_PACE, kinds={OutboxKind.FORGE}
            )
            uow.commit()
        if claimed is None:
            return False
        self._deliver(claimed)
        return True

    def _deliver(self, claimed: Claimed) -> None:
        status = json.loads(claimed.message.text)
        forge = claimed.message.channel
        subject = claimed.message.subject
        try:
            forge_id = claimed.ref.ts if claimed.ref else None
            if forge_id is None:
                forge_id = self._client.create_deployment(
                    forge,
                    status["project"],
                    sha=status["sha"],
                    ref=status["ref"],
                    environment=status["environment"],
                    production=status["production"],
                    description=status["description"],
                    state=status["state"],
                )
                with self._uow() as uow:  # remembered first: a retry never creates another
                    uow.messages.put(subject, MessageRef(forge, forge_id))
                    uow.commit()
            self._client.deployment_status(
                forge,
                status["project"],
                forge_id,
                state=status["state"],
                log_url=status["log_url"],
                environment_url=status["environment_url"],
                description=status["description"],
            )
        except ChatOpsError as exc:
            self._failed(claimed, exc.message)
            return
        with self._uow() as uow:
            uow.outbox.sent(claimed, ref=MessageRef(forge, forge_id), now=self._clock.now())
            uow.commit()

    def _failed(self, claimed: Claimed, error: str) -> None:
        now = self._clock.now()
        with self._uow() as uow:
            if claimed.attempts + 1 >= MAX_ATTEMPTS:
                log.error("gave up reporting %s to the forge: %s", claimed.message.subject, error)
                uow.outbox.give_up(claimed, error=error, now=now)
            else:
                pause = min(600.0, 2.0 * 2**claimed.attempts)
                log.warning(
                    "could not report %s to the forge (retrying in %.0fs): %s",
                    claimed.message.subject,
                    pause,
                    error,
                )
                uow.outbox.retry(claimed, at=now + timedelta(seconds=pause), error=error)
            uow.commit()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.send_due()
            except Exception:
                log.exception("the forge sender failed; trying again shortly")
                busy = False
            if not busy:
                self._wake.wait(self._idle)
                self._wake.clear()
