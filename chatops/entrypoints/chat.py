"""Slash commands, button presses and reactions, whatever carries them (Slack, the console).

Each handler builds a command, calls one service and answers with an `Answer`
(render/replies.py) that Slack and the console each render their way. Every
refusal becomes an ephemeral reply saying what to do instead; nothing here raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from chatops.bootstrap import Application
from chatops.domain import commands as cmd
from chatops.domain.deployment import Deployment, State
from chatops.entrypoints.render.replies import (
    Answer,
    Help,
    Logs,
    Refusal,
    Releases,
    Said,
    Status,
    Usage,
)
from chatops.errors import (
    BadInput,
    ChatOpsError,
    InfrastructureError,
    InternalError,
    UserError,
    new_incident_id,
)
from chatops.services.acknowledgements import Acknowledgements
from chatops.services.context import Actor

__all__ = ["APPROVE_REACTION", "ChatCommands", "Reply"]

log = logging.getLogger(__name__)

APPROVE_REACTION = "white_check_mark"


@dataclass(frozen=True, slots=True)
class Reply:
    """What the person who typed or clicked sees; `ephemeral` replies are theirs alone."""

    content: Answer
    ephemeral: bool = True


def _plain(text: str) -> Reply:
    return Reply(Said(text))


def _internal_error() -> Reply:
    """A bug: its traceback logged under an incident id, which the reply names."""
    incident = new_incident_id()
    log.exception("chat request failed (incident %s)", incident)
    return _plain(f"Sorry, chatops hit an internal error (incident {incident}); it is logged.")


class ChatCommands:
    """The chat interface of DESIGN §6 over the services."""

    def __init__(self, application: Application, alerts: Acknowledgements) -> None:
        self._app = application
        self._alerts = alerts

    # ── entry points ───────────────────────────────────────────────────────

    def command(self, actor: Actor, command: str, text: str) -> Reply:
        """Handle `/deploy …` and the other slash commands (`/approve`, `/reject` do what
        the buttons do, for when a message is out of reach)."""
        try:
            parsed = cmd.parse(command, text)
        except BadInput as exc:
            return Reply(Usage(exc.message, exc.usage or cmd.USAGE["/chatops"]))
        return self._guarded(lambda: self._run(actor, parsed))

    def press(self, actor: Actor, action_id: str, value: str) -> Reply:
        """Handle a button: promote, approve, reject, rollback, ack_alert, logs,
        promote_anyway."""
        handler = self._buttons.get(action_id)
        if handler is None:
            return _plain(f"chatops does not know the button {action_id!r}")
        # ids are plain ASCII digits the database can hold (int() would also take
        # " 1", "1_0", Arabic-Indic digits or a number too large for an INTEGER column)
        if not (value.isascii() and value.isdigit() and 1 <= int(value[:12]) <= cmd.MAX_ID):
            return _plain(f"the button carried {value[:100]!r}, which is not an id")
        target = int(value)
        return self._guarded(lambda: handler(self, actor, target))

    def react(self, actor: Actor, reaction: str, channel: str, ts: str) -> Reply | None:
        """A `white_check_mark` on a pending deployment's message approves it; others are ignored"""
        if reaction != APPROVE_REACTION:
            return None
        from chatops.services.ports import MessageRef

        with self._app.store.uow() as uow:
            subject = uow.messages.subject_of(MessageRef(channel, ts))
        if subject is None or not subject.startswith("deployment:"):
            return None
        deployment_id = int(subject.split(":", 1)[1])
        return self._guarded(lambda: self._approve(actor, deployment_id))

    # ── commands ───────────────────────────────────────────────────────────

    def _run(self, actor: Actor, parsed: cmd.Command) -> Reply:
        app = self._app
        match parsed:
            case cmd.Help(topic):
                return Reply(Help(topic))
            case cmd.Deploy(bot, env, ref, force):
                started = app.requests.deploy(actor, bot, env, ref=ref, force_reason=force)
                return self._started(started)
            case cmd.Promote(bot, env, force):
                return self._started(app.requests.promote(actor, bot, env, force_reason=force))
            case cmd.Rollback(bot, env, version, force, reason):
                started = app.requests.rollback(
                    actor, bot, env, to_version=version, force_reason=force, reason=reason
                )
                return self._started(started)
            case cmd.Releases(bot, env):
                return Reply(Releases(bot, app.queries.releases(bot, env, limit=10)))
            case cmd.Status(bot):
                return Reply(Status(app.queries.status(bot)))
            case cmd.Logs(bot, env, lines):
                text = app.queries.logs(actor, bot, env, lines=lines)
                return Reply(Logs(bot, env, text))
            case cmd.Lock(bot, env, reason, seconds):
                duration = timedelta(seconds=seconds) if seconds else None
                lock = app.locks.lock(actor, bot, env, reason=reason, duration=duration)
                return _plain(f":lock: {bot} in {env} is {lock.describe()}")
            case cmd.Unlock(bot, env):
                app.locks.unlock(actor, bot, env)
                return _plain(f":unlock: {bot} in {env} is unlocked")
            case cmd.Approve(deployment_id):
                return self._approve(actor, deployment_id)
            case cmd.Reject(deployment_id, reason):
                return self._reject(actor, deployment_id, reason)
            case cmd.Cancel(bot, env):
                return self._cancelled(app.cancels.cancel(actor, bot, env))
        raise AssertionError(f"unhandled command {parsed!r}")  # pragma: no cover

    def _started(self, deployment: Deployment) -> Reply:
        channel = self._app.config.catalog.channel_for(deployment.env)
        where = " — its message in the channel follows it" if channel else ""
        if deployment.state is State.PENDING_APPROVAL:
            return _plain(
                f"#{deployment.id} waits for approval{where} "
                f"(approvers: its button, or /approve {deployment.id})"
            )
        if deployment.state is State.FAILED:
            return _plain(f"#{deployment.id} failed: {deployment.reason}")
        return _plain(
            f"#{deployment.id} {deployment.kind} of {deployment.bot} "
            f"to {deployment.env} started{where}"
        )

    def _cancelled(self, deployment: Deployment) -> Reply:
        if deployment.in_progress:
            return _plain(
                f"#{deployment.id} ({deployment.state}) is asked to stop; its message in the "
                "channel says when it has, with the previous release running"
            )
        return _plain(f"#{deployment.id} is {deployment.state}: {deployment.reason}")

    # ── buttons ────────────────────────────────────────────────────────────

    def _promote(self, actor: Actor, deployment_id: int) -> Reply:
        return self._started(self._app.requests.promote_deployment(actor, deployment_id))

    def _promote_anyway(self, actor: Actor, deployment_id: int) -> Reply:
        requests = self._app.requests
        return self._started(requests.promote_deployment(actor, deployment_id, anyway=True))

    def _approve(self, actor: Actor, deployment_id: int) -> Reply:
        deployment = self._app.requests.approve(actor, deployment_id)
        if deployment.state is State.PENDING_APPROVAL:
            return _plain(f"your approval of #{deployment_id} is counted; it needs more")
        return _plain(f"you approved #{deployment_id}")

    def _reject(self, actor: Actor, deployment_id: int, reason: str | None = None) -> Reply:
        self._app.requests.reject(actor, deployment_id, reason=reason)
        return _plain(f"you rejected #{deployment_id}" + (f": {reason}" if reason else ""))

    def _rollback(self, actor: Actor, deployment_id: int) -> Reply:
        return self._started(self._app.requests.rollback_deployment(actor, deployment_id))

    def _ack(self, actor: Actor, alert_id: int) -> Reply:
        alert = self._alerts.acknowledge(actor, alert_id)
        return _plain(f"you acknowledged alert #{alert.id}")

    def _alert_logs(self, actor: Actor, alert_id: int) -> Reply:
        alert, text = self._app.queries.alert_logs(actor, alert_id)
        return Reply(Logs(alert.bot, alert.env, text))

    _buttons: dict[str, Callable[[ChatCommands, Actor, int], Reply]] = {
        "promote": _promote,
        "promote_anyway": _promote_anyway,
        "approve": _approve,
        "reject": _reject,
        "rollback": _rollback,
        "ack_alert": _ack,
        "logs": _alert_logs,
    }

    # ── errors: the one place they become replies ──────────────────────────

    def _guarded(self, work: Callable[[], Reply]) -> Reply:
        try:
            return work()
        except BadInput as exc:
            return Reply(Usage(exc.message, exc.usage or ""))
        except UserError as exc:
            return Reply(Refusal(exc.message, exc.hint))
        except InfrastructureError as exc:
            return Reply(Refusal(f"chatops could not do that: {exc.message}", exc.hint))
        except InternalError:  # unsettled by the service below: a bug like any other
            return _internal_error()
        except ChatOpsError as exc:
            return Reply(Refusal(exc.message, exc.hint))
        except Exception:
            return _internal_error()
