"""The one exception tree of chatops.

::

    ChatOpsError                  root; every error carries a message and an optional hint
    ├── UserError                 the request cannot be honoured as asked (exit 1, ephemeral reply)
    │   ├── BadInput              what was typed is malformed (CLI exit 2, usage shown)
    │   ├── NotFound              an unknown bot, environment, deployment, release or ref
    │   └── Refused               policy says no
    │       ├── NotAllowed        not a deployer / approver / admin, or self-approval
    │       ├── Busy              another deployment holds (bot, environment)
    │       ├── Locked            a /lock holds (bot, environment)
    │       ├── Frozen            a freeze window is open
    │       ├── NotPromotable     not live, not healthy or not soaked in the source environment
    │       ├── NothingToRollBack no earlier healthy release
    │       ├── ChecksFailed      a required CI check failed, or did not finish in time
    │       └── AlreadyDecided    the deployment is no longer waiting for this decision
    ├── ConfigError               chatops.yaml or the environment is invalid (file, key, allowed)
    ├── Unhealthy                 a new release did not pass its health gate (the deployment fails)
    ├── InfrastructureError       a system chatops depends on failed; the request may be retried
    │   ├── SourceControlError    git: fetch, resolve, tag, push
    │   ├── BuildError            the image did not build
    │   ├── RegistryError         the image could not be pushed or pulled
    │   ├── RuntimeFailure        the container runtime could not run, stop or inspect
    │   │   └── EngineUnreachable the engine did not answer at all (down, or restarting)
    │   ├── StoreError            the database is unreachable or inconsistent
    │   │   └── SchemaOutOfDate   migrations are pending
    │   ├── NotifierError         the chat could not be told
    │   └── ForgeError            GitHub or GitLab could not be read or written
    └── InternalError             raised and settled inside chatops, never meant for a person
        ├── InvalidTransition     the state machine refused an event (a bug)
        ├── SlotTaken             the store: another deployment holds the slot a state needs
        └── Conflict              the store: the deployment changed since it was read

Entrypoints turn these into output in one place each (CLI exit codes, Slack
ephemeral replies, HTTP status codes). Anything that is not a ChatOpsError is a
bug, and so is an InternalError that reaches an entrypoint (the service below
should have settled it): it is logged with its traceback and answered with a
short apology and an incident id (`new_incident_id`).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chatops.domain.deployment import Deployment, Event, State

__all__ = [
    "AlreadyDecided",
    "BadInput",
    "BuildError",
    "Busy",
    "ChatOpsError",
    "ChecksFailed",
    "ConfigError",
    "Conflict",
    "EngineUnreachable",
    "ForgeError",
    "Frozen",
    "InfrastructureError",
    "InternalError",
    "InvalidTransition",
    "Locked",
    "NotAllowed",
    "NotFound",
    "NotPromotable",
    "NothingToRollBack",
    "NotifierError",
    "Refused",
    "RegistryError",
    "RuntimeFailure",
    "SchemaOutOfDate",
    "SlotTaken",
    "SourceControlError",
    "StoreError",
    "Unhealthy",
    "UserError",
    "new_incident_id",
]


class ChatOpsError(Exception):
    """Root of every error chatops raises on purpose.

    Args:
        message: what went wrong, in words a user can act on.
        hint: what to do instead, when there is something to do.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UserError(ChatOpsError):
    """The request cannot be honoured as asked."""


class BadInput(UserError):
    """What was typed is malformed; the usage is shown."""

    def __init__(self, message: str, *, hint: str | None = None, usage: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.usage = usage


class NotFound(UserError):
    """An unknown bot, environment, deployment, release or ref."""


class Refused(UserError):
    """Policy says no."""


class NotAllowed(Refused):
    """The person may not do this here."""


class Busy(Refused):
    """Another deployment holds (bot, environment)."""

    def __init__(self, message: str, *, deployment_id: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.deployment_id = deployment_id


class Locked(Refused):
    """A lock holds (bot, environment)."""


class Frozen(Refused):
    """A freeze window is open for the environment."""


class NotPromotable(Refused):
    """The release is not live, healthy or soaked long enough in the source environment."""


class NothingToRollBack(Refused):
    """There is no earlier healthy release to go back to."""


class ChecksFailed(Refused):
    """A required CI check of the commit failed, or was still pending at the timeout."""


class AlreadyDecided(Refused):
    """The deployment is no longer waiting for this decision."""


class ConfigError(ChatOpsError):
    """chatops.yaml or the environment variables are invalid."""


class Unhealthy(ChatOpsError):
    """The new release did not pass its health gate."""


class InfrastructureError(ChatOpsError):
    """A system chatops depends on failed."""


class SourceControlError(InfrastructureError):
    """git failed: fetch, resolve, tag or push."""


class BuildError(InfrastructureError):
    """The image did not build.

    Args:
        log_tail: the last lines of the build output, as the engine gave them (the pipeline
            masks secrets in it before it is stored or shown).
    """

    def __init__(self, message: str, *, log_tail: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.log_tail = log_tail


class RegistryError(InfrastructureError):
    """The image could not be pushed to or pulled from the registry."""


class RuntimeFailure(InfrastructureError):
    """The container runtime could not run, stop or inspect a container."""


class EngineUnreachable(RuntimeFailure):
    """The container engine did not answer at all: it is down, or restarting."""


class StoreError(InfrastructureError):
    """The database is unreachable or in an unexpected state."""


class SchemaOutOfDate(StoreError):
    """The database schema is behind the code's migrations."""


class NotifierError(InfrastructureError):
    """The chat could not be told."""


class ForgeError(InfrastructureError):
    """GitHub or GitLab did not answer, or answered with an error."""


class InternalError(ChatOpsError):
    """Raised and settled inside chatops: a service catches it and decides what it means.

    One that reaches an entrypoint is a bug, answered as any other bug is: logged
    with its traceback, and an incident id for the person who hit it.
    """


class InvalidTransition(InternalError):
    """An event that the current state does not accept: a bug, never user input."""

    def __init__(self, state: State, event: Event) -> None:
        super().__init__(f"a {state} deployment cannot take the event {event!r}")
        self.state = state
        self.event = event


class SlotTaken(InternalError):
    """Another deployment holds the slot (bot/env in progress, pending, or the bot's build).

    The store raises it; the service that wrote turns it into Busy, or waits.
    """

    def __init__(self, holder_id: int | None) -> None:
        super().__init__(f"slot held by deployment #{holder_id}")
        self.holder_id = holder_id


class Conflict(InternalError):
    """The deployment changed since it was read: another process or thread saved it first.

    Args:
        current: the deployment as it is now.
    """

    def __init__(self, current: Deployment) -> None:
        super().__init__(
            f"deployment #{current.id} changed meanwhile: it is {current.state} "
            f"(revision {current.revision})"
        )
        self.current = current


def new_incident_id() -> str:
    """A short id for one unexpected failure: logged with its traceback and told to the
    person who hit it, so that the two can be matched."""
    return uuid.uuid4().hex[:8]
