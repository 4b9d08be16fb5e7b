"""Which exclusive slot a deployment's state holds: the rule that keeps two deployments apart.

A slot is held by at most one deployment at a time. A deployment in progress holds its
(bot, env)'s `running` slot, one waiting for approval its `pending` slot, and one that
builds its bot's `build` slot; a deployment in any other state holds none. The database
enforces it with one unique column per slot, the fakes by comparing; both ask this
module which slots a deployment needs.
"""

from __future__ import annotations

import enum

from chatops.domain.deployment import IN_PROGRESS_STATES, Deployment, State

__all__ = ["Slot", "slots_held"]


class Slot(enum.StrEnum):
    RUNNING = "running"  # `<bot>/<env>`: a process works on a deployment there
    PENDING = "pending"  # `<bot>/<env>`: a deployment there waits for approval
    BUILD = "build"  # `<bot>`: an image of the bot is being built


def slots_held(deployment: Deployment) -> dict[Slot, str]:
    """The slots `deployment`'s state holds, each with its key (`<bot>/<env>` or `<bot>`)."""
    bot_env = f"{deployment.bot}/{deployment.env}"
    held: dict[Slot, str] = {}
    if deployment.state in IN_PROGRESS_STATES:
        held[Slot.RUNNING] = bot_env
    if deployment.state == State.PENDING_APPROVAL:
        held[Slot.PENDING] = bot_env
    if deployment.state == State.BUILDING:
        held[Slot.BUILD] = deployment.bot
    return held
