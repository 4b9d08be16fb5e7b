"""What every `chatops` command shares: the apps, the common options, errors → exit codes, wiring.

Exit codes: 0 success, 1 a refused or failed operation (reason on stderr),
2 bad usage or configuration. `--config`, `--user`, `--json`, `-v` and `-q` are taken before
the command (`chatops --json status`) or with it (`chatops status --json`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

from chatops.errors import BadInput, ChatOpsError, ConfigError, InternalError, new_incident_id

if TYPE_CHECKING:
    from chatops.bootstrap import Application
    from chatops.bootstrap.slack import SlackChannel, SlackOutbox
    from chatops.config import Config
    from chatops.domain.deployment import Deployment
    from chatops.services.context import Actor
    from chatops.services.ports import Notifier

__all__ = [
    "ConfigOption",
    "JsonOption",
    "UserOption",
    "app",
    "config_app",
    "db_app",
    "err",
    "out",
]

log = logging.getLogger("chatops")

# plain help (click's): flags show as flags, not `<bool>`
app = typer.Typer(
    name="chatops",
    help="Deploy bots from git through staging to production, from Slack or here.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True, rich_markup_mode=None)
config_app = typer.Typer(help="chatops.yaml.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")

SLACK_FLUSH_SECONDS = 5.0  # how long a command waits for Slack to take its messages

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class _State:
    config_path: Path | None = None
    user: str | None = None
    as_json: bool = False
    quiet: bool = False


state = _State()

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="chatops.yaml (default: $CHATOPS_CONFIG, ./chatops.yaml)"),
]
UserOption = Annotated[
    str | None, typer.Option("--user", "-u", help="act (or ask) as this user id (default: $USER)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON on stdout")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="log debug output")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="no progress output")]
ForceOption = Annotated[
    bool, typer.Option("--force", help="admins: go ahead despite a lock, a freeze or red CI checks")
]


def common(
    config: Path | None,
    user: str | None,
    as_json: bool,
    *,
    verbose: bool = False,
    quiet: bool = False,
) -> tuple[str | None, bool]:
    """Merge a command's own --config/--user/--json/-v/-q with those given before it."""
    if config is not None:
        state.config_path = config
    if user is not None:
        state.user = user
    state.as_json = state.as_json or as_json
    state.quiet = state.quiet or quiet
    if verbose:
        configure_logging(verbose=True)
    return state.user, state.as_json


# ── the options given before the command ──────────────────────────────


def _version(value: bool) -> None:
    if value:
        from chatops import __version__

        print(f"chatops {__version__}")
        raise typer.Exit


@app.callback()
def _global(
    config: ConfigOption = None,
    user: UserOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="print the version"),
    ] = False,
) -> None:
    state.config_path, state.user, state.as_json, state.quiet = config, user, as_json, quiet
    configure_logging(verbose=verbose)


# ── error handling: the one place ChatOpsErrors become exit codes ────────


def fail(
    message: str, *, code: int, hint: str | None = None, as_json: bool = False, kind: str = ""
) -> NoReturn:
    from chatops.entrypoints.hints import for_cli

    message, hint = for_cli(message) or "", for_cli(hint)
    if as_json:
        print(json.dumps({"error": message, "hint": hint, "kind": kind}))
    from rich.markup import escape

    err.print(f"[red]error:[/] {escape(message)}", highlight=False)
    if hint:
        err.print(f"[dim]→ {escape(hint)}[/]", highlight=False)
    raise typer.Exit(code)


@contextmanager
def errors(as_json: bool = False) -> Iterator[None]:
    try:
        yield
    except typer.Exit:
        raise
    except BadInput as exc:
        hint = exc.hint or (f"usage: {exc.usage}" if exc.usage else None)
        fail(exc.message, code=2, hint=hint, as_json=as_json, kind=type(exc).__name__)
    except ConfigError as exc:
        fail(exc.message, code=2, hint=exc.hint, as_json=as_json, kind=type(exc).__name__)
    except InternalError:  # unsettled by the service below: a bug like any other
        _internal_error(as_json)
    except ChatOpsError as exc:
        fail(exc.message, code=1, hint=exc.hint, as_json=as_json, kind=type(exc).__name__)
    except Exception:
        _internal_error(as_json)


def _internal_error(as_json: bool) -> NoReturn:
    """A bug: its traceback logged under an incident id, which the message names."""
    incident = new_incident_id()
    log.exception("internal error (incident %s)", incident)
    fail(
        f"sorry: chatops hit an internal error (incident {incident})",
        code=1,
        hint="the traceback above is logged with that id; please report it",
        as_json=as_json,
        kind="InternalError",
    )


def load_config() -> Config:
    from chatops.config import load

    return load(state.config_path)


def actor(user: str | None, config: Config) -> Actor:
    from chatops.services.context import Actor

    return Actor(user or config.settings.default_user(), "cli")


@contextmanager
def application(
    *, recover: bool = True, progress: bool = True, reads_only: bool = False
) -> Iterator[Application]:
    """The application wired for the CLI; the channel's messages of this run are delivered
    (for a while) before it closes. `reads_only`: for `status` and `releases`, which
    change nothing and tell no one (see `build`); nothing is recovered first."""
    from chatops.bootstrap import build

    config = load_config()
    application = build(
        config,
        for_="cli",
        terminal=err if progress and not state.quiet else None,
        channel=_channel_notifier,
        reads_only=reads_only,
    )
    leftovers: set[str] = set()
    channel = application.channel
    if channel is not None:
        # what earlier commands could not deliver is sent (and waited for) with this one's
        leftovers = {waiting.subject for waiting in channel.sender.flush(timeout=0)}
        channel.sender.start()
    try:
        if recover and not reads_only:
            application.recovery.recover()
            application.requests.expire_and_supersede()
        yield application
    finally:
        try:
            if channel is not None:
                _deliver(channel, leftovers)
        finally:
            application.close()


def _channel_notifier(outbox: SlackOutbox) -> Notifier:
    """The channel hears about deployments started here too (rendered as `serve` renders)."""
    from chatops.entrypoints.slack.notifier import ChannelNotifier

    return ChannelNotifier(outbox)


def _deliver(channel: SlackChannel, leftovers: set[str]) -> None:
    """Send the Slack messages of this run (and earlier leftovers) before exiting, for a while;
    say what stays queued."""
    from chatops.bootstrap.slack import describe_waiting

    subjects = channel.outbox.queued | leftovers
    left = channel.sender.stop(flush_seconds=SLACK_FLUSH_SECONDS, subjects=subjects)
    if left:
        err.print(
            f"[yellow]warning:[/] Slack has not received {describe_waiting(left)}. "
            "They stay queued: `chatops serve`, or the next chatops command, sends them.",
            highlight=False,
        )


def print_json(value: object) -> None:
    print(json.dumps(value, indent=2, default=str))


def report(deployment: Deployment, as_json: bool) -> None:
    """Print the outcome of deploy/promote/rollback/approve; exit 1 when it failed."""
    from chatops.domain.deployment import State
    from chatops.entrypoints.output import deployment_json

    failed = deployment.state in (State.FAILED, State.REJECTED, State.EXPIRED, State.SUPERSEDED)
    if as_json:
        print_json(deployment_json(deployment))
    elif not failed:
        version = f" v{deployment.version}" if deployment.version else ""
        message = {
            State.LIVE: f"{deployment.bot}{version} is live in {deployment.env}",
            State.PENDING_APPROVAL: (
                f"#{deployment.id} waits for approval: `chatops approve {deployment.id}`"
            ),
            State.QUEUED: f"#{deployment.id} is queued",
        }.get(deployment.state, f"#{deployment.id} is {deployment.state}")
        out.print(f"[green]✓[/] {message} (deployment #{deployment.id})")
    if failed:
        err.print(
            f"[red]✗[/] #{deployment.id} {deployment.state}: {deployment.reason or ''}",
            highlight=False,
        )
        raise typer.Exit(1)


def force_reason(force: bool, reason: str | None) -> str | None:
    if not force:
        return None
    if not reason or not reason.strip():
        raise BadInput("--force needs --reason", usage="--force --reason 'why this cannot wait'")
    return reason


def configure_logging(*, verbose: bool) -> None:
    """Text or JSON lines (`CHATOPS_LOG_FORMAT`), on stderr."""
    from chatops.config import environ
    from chatops.entrypoints.logs import configure

    try:
        configure(environ("CHATOPS_LOG_FORMAT"), verbose=verbose)
    except ValueError as exc:
        fail(str(exc), code=2, hint="unset CHATOPS_LOG_FORMAT, or set it to json")
