"""Which buttons a message has: pure functions of the views, shown by Slack and the console alike.

Button contract (DESIGN §6): `promote`, `approve`, `reject` and `rollback` carry
a deployment id; `ack_alert` and `logs` (an alert's log lines, shown only to
whoever pressed it, when they are among the environment's viewers) carry an alert id.
"""

from __future__ import annotations

from chatops.domain.alerts import AlertState
from chatops.domain.deployment import Deployment, State
from chatops.domain.policy import INCONCLUSIVE_FINGERPRINT
from chatops.entrypoints.render import words
from chatops.entrypoints.render.document import Action, Confirm, Person, Strong
from chatops.services.views import AlertView, DeploymentView

__all__ = ["alert_actions", "deployment_actions", "soaked_actions"]


def deployment_actions(view: DeploymentView) -> tuple[Action, ...]:
    """Promote and Roll back on a live deployment, Approve and Reject on a pending one."""
    deployment = view.deployment
    if deployment.id is None:
        return ()
    value = str(deployment.id)
    if deployment.state is State.LIVE:
        return _live(view, value)
    if deployment.state is State.PENDING_APPROVAL:
        return _votes(deployment, value)
    return ()


def soaked_actions(view: DeploymentView) -> tuple[Action, ...]:
    """Promote, on the notice that a release has soaked long enough."""
    if view.deployment.id is None:
        return ()
    label = f"Promote to {view.promote_to}" if view.promote_to else "Promote"
    return (Action(label, "promote", str(view.deployment.id), style="primary"),)


def alert_actions(view: AlertView) -> tuple[Action, ...]:
    """Roll back while the alert is open, Acknowledge while it fires, Logs always."""
    alert = view.alert
    found: list[Action] = []
    if alert.deployment_id is not None and alert.state is not AlertState.RESOLVED:
        to = _name(view.rollback_to)
        running = view.release.version if view.release else alert.version
        if alert.action_taken:  # e.g. rolled back already: the alert's release may not run now
            running = None
        label = f"Roll back to {to}" if to else "Roll back"
        confirm = _rollback_confirm(alert.bot, alert.env, running=running, to=to)
        found.append(
            Action(label, "rollback", str(alert.deployment_id), style="danger", confirm=confirm)
        )
    inconclusive = alert.fingerprint.startswith(INCONCLUSIVE_FINGERPRINT)
    if inconclusive and alert.deployment_id is not None and alert.state is not AlertState.RESOLVED:
        # an approver of the next environment decides (checked when pressed)
        found.append(Action("Promote anyway", "promote_anyway", str(alert.deployment_id)))
    if alert.id is not None and alert.state is AlertState.FIRING:
        found.append(Action("Acknowledge", "ack_alert", str(alert.id)))
    if alert.id is not None:  # logs are shown to the environment's viewers alone, on request
        found.append(Action("Logs", "logs", str(alert.id)))
    return tuple(found)


def _name(version: int | None) -> str | None:
    """`vN`, or None when there is no such release."""
    return f"v{version}" if version else None


def _live(view: DeploymentView, value: str) -> tuple[Action, ...]:
    deployment = view.deployment
    found: list[Action] = []
    if view.promote_to:
        found.append(Action(f"Promote to {view.promote_to}", "promote", value, style="primary"))
    to = _name(view.rollback_to)
    confirm = _rollback_confirm(deployment.bot, deployment.env, running=deployment.version, to=to)
    found.append(Action("Roll back", "rollback", value, style="danger", confirm=confirm))
    return tuple(found)


def _votes(deployment: Deployment, value: str) -> tuple[Action, ...]:
    confirm = Confirm(
        "Reject this request?",
        (
            words.action(deployment),
            f" (#{value}) ends here; ",
            Person(deployment.requested_by),
            " would have to ask again.",
        ),
        confirm="Reject",
    )
    return (
        Action("Approve", "approve", value, style="primary"),
        Action("Reject", "reject", value, style="danger", confirm=confirm),
    )


def _rollback_confirm(bot: str, env: str, *, running: int | None, to: str | None) -> Confirm:
    """The question before a rollback, naming what goes and, when known, what comes back."""
    current = f" from v{running}" if running else ""
    return Confirm(
        f"Roll back {bot} in {env}?",
        (
            Strong(bot),
            " in ",
            Strong(env),
            f" goes back{current} to ",
            to or "the previous healthy release",
            ", without rebuilding.",
        ),
        confirm="Roll back",
    )
