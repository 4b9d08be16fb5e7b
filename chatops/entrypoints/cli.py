"""The `chatops` command line: operator commands, `db`, `config check`, `serve`, `console`, `demo`.

Exit codes: 0 success, 1 a refused or failed operation (reason on stderr),
2 bad usage or configuration.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from chatops.config import Config, load, load_settings
from chatops.domain.deployment import Deployment, State
from chatops.domain.names import parse_duration, parse_version
from chatops.domain.policy import MAX_LOCK
from chatops.errors import BadInput, ChatOpsError, ConfigError
from chatops.services.context import Actor
from chatops.services.ports import Notifier

if TYPE_CHECKING:
    from chatops.entrypoints.slack.wiring import SlackChannel

__all__ = ["app", "main"]

log = logging.getLogger("chatops")

app = typer.Typer(
    name="chatops",
    help="Deploy bots from git through staging to production, from Slack or here.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
config_app = typer.Typer(help="chatops.yaml.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")

SLACK_FLUSH_SECONDS = 5.0  # how long a command waits for Slack to take its messages

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class _State:
    config_path: Path | None = None
    quiet: bool = False


state = _State()

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="chatops.yaml (default: $CHATOPS_CONFIG, ./chatops.yaml)"),
]
UserOption = Annotated[
    str | None, typer.Option("--user", "-u", help="act as this user id (default: $USER)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON on stdout")]
ForceOption = Annotated[
    bool, typer.Option("--force", help="admins: go ahead despite a lock or freeze")
]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="why (needed with --force)")]


@app.callback()
def _global(
    config: ConfigOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log debug output")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress output")] = False,
) -> None:
    state.config_path = config
    state.quiet = quiet
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


# ── error handling: the one place ChatOpsErrors become exit codes ────────


def _fail(
    message: str, *, code: int, hint: str | None = None, as_json: bool = False, kind: str = ""
) -> NoReturn:
    from chatops.entrypoints.hints import for_cli

    message, hint = for_cli(message) or "", for_cli(hint)
    if as_json:
        print(json.dumps({"error": message, "hint": hint, "kind": kind}))
    err.print(f"[red]error:[/] {message}", highlight=False)
    if hint:
        err.print(f"[dim]→ {hint}[/]", highlight=False)
    raise typer.Exit(code)


@contextmanager
def _errors(as_json: bool = False) -> Iterator[None]:
    try:
        yield
    except typer.Exit:
        raise
    except BadInput as exc:
        hint = exc.hint or (f"usage: {exc.usage}" if exc.usage else None)
        _fail(exc.message, code=2, hint=hint, as_json=as_json, kind=type(exc).__name__)
    except ConfigError as exc:
        _fail(exc.message, code=2, hint=exc.hint, as_json=as_json, kind=type(exc).__name__)
    except ChatOpsError as exc:
        _fail(exc.message, code=1, hint=exc.hint, as_json=as_json, kind=type(exc).__name__)
    except Exception:
        incident = uuid.uuid4().hex[:8]
        log.exception("internal error (incident %s)", incident)
        _fail(
            f"sorry: chatops hit an internal error (incident {incident})",
            code=1,
            hint="the traceback above is logged with that id; please report it",
            as_json=as_json,
            kind="InternalError",
        )


def _config() -> Config:
    return load(state.config_path)


def _actor(user: str | None, config: Config) -> Actor:
    return Actor(user or config.settings.default_user(), "cli")


@contextmanager
def _application(*, recover: bool = True, progress: bool = True) -> Iterator[Any]:
    from chatops.adapters.notifiers import TerminalNotifier
    from chatops.bootstrap import build
    from chatops.entrypoints.slack.wiring import channel_for, directory_for, slack_client

    config = _config()
    client = slack_client(config.settings)
    notifiers: list[Notifier] = [] if state.quiet or not progress else [TerminalNotifier(err)]
    application = build(config, notifiers=notifiers, directory=directory_for(client))
    # the channel hears about deployments started here too
    channel = channel_for(
        config.settings,
        application.store.uow,
        owner=application.deps.processes.me(),
        remember=True,
    )
    leftovers: set[str] = set()
    if channel is not None:
        application.add_notifier(channel.notifier)
        # what earlier commands could not deliver is sent (and waited for) with this one's
        leftovers = {waiting.subject for waiting in channel.sender.flush(timeout=0)}
        channel.sender.start()
    try:
        if recover:
            application.recovery.recover()
            application.requests.expire_and_supersede()
        yield application
    finally:
        try:
            if channel is not None:
                _deliver(channel, leftovers)
        finally:
            application.close()


def _deliver(channel: SlackChannel, leftovers: set[str]) -> None:
    """Send the Slack messages of this run (and earlier leftovers) before exiting, for a while;
    say what stays queued."""
    from chatops.adapters.slack_sender import describe_waiting

    subjects = channel.outbox.queued | leftovers
    left = channel.sender.stop(flush_seconds=SLACK_FLUSH_SECONDS, subjects=subjects)
    if left:
        err.print(
            f"[yellow]warning:[/] Slack has not received {describe_waiting(left)}. "
            "They stay queued: `chatops serve`, or the next chatops command, sends them.",
            highlight=False,
        )


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2, default=str))


def _report(deployment: Deployment, as_json: bool) -> None:
    """Print the outcome of deploy/promote/rollback/approve; exit 1 when it failed."""
    from chatops.entrypoints.output import deployment_json

    failed = deployment.state in (State.FAILED, State.REJECTED, State.EXPIRED, State.SUPERSEDED)
    if as_json:
        _print_json(deployment_json(deployment))
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


def _force_reason(force: bool, reason: str | None) -> str | None:
    if not force:
        return None
    if not reason or not reason.strip():
        raise BadInput("--force needs --reason", usage="--force --reason 'why this cannot wait'")
    return reason


# ── operator commands ─────────────────────────────────────────────────────


@app.command()
def deploy(
    bot: str,
    env: str,
    ref: Annotated[
        str | None,
        typer.Option("--ref", "-r", help="branch, tag or commit (default: the bot's branch)"),
    ] = None,
    user: UserOption = None,
    as_json: JsonOption = False,
    force: ForceOption = False,
    reason: ReasonOption = None,
) -> None:
    """Build (or reuse) the release of REF and make it live in ENV."""
    with _errors(as_json), _application() as application:
        actor = _actor(user, application.config)
        deployment = application.requests.deploy(
            actor, bot, env, ref=ref, force_reason=_force_reason(force, reason)
        )
    _report(deployment, as_json)


@app.command()
def promote(
    bot: str,
    env: Annotated[
        str | None, typer.Argument(help="target (default: where the bot's live env promotes to)")
    ] = None,
    user: UserOption = None,
    as_json: JsonOption = False,
    force: ForceOption = False,
    reason: ReasonOption = None,
) -> None:
    """Promote what is live and soaked in the source environment to ENV."""
    with _errors(as_json), _application() as application:
        actor = _actor(user, application.config)
        deployment = application.requests.promote(
            actor, bot, env, force_reason=_force_reason(force, reason)
        )
    _report(deployment, as_json)


@app.command()
def approve(deployment_id: int, user: UserOption = None, as_json: JsonOption = False) -> None:
    """Approve a pending deployment."""
    with _errors(as_json), _application() as application:
        deployment = application.requests.approve(_actor(user, application.config), deployment_id)
    _report(deployment, as_json)


@app.command()
def reject(
    deployment_id: int,
    reason: Annotated[str | None, typer.Option("--reason", help="why (shown and audited)")] = None,
    user: UserOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reject a pending deployment."""
    with _errors(as_json), _application() as application:
        deployment = application.requests.reject(
            _actor(user, application.config), deployment_id, reason=reason
        )
    if as_json:
        from chatops.entrypoints.output import deployment_json

        _print_json(deployment_json(deployment))
    else:
        out.print(f"#{deployment.id} {deployment.state}")


@app.command()
def rollback(
    bot: str,
    env: str,
    to: Annotated[str | None, typer.Option("--to", help="the version to go to, e.g. v3")] = None,
    user: UserOption = None,
    as_json: JsonOption = False,
    force: ForceOption = False,
    reason: ReasonOption = None,
) -> None:
    """Go back to the previous healthy release of ENV (or --to vN), without building."""
    with _errors(as_json), _application() as application:
        version = parse_version(to) if to else None
        deployment = application.requests.rollback(
            _actor(user, application.config),
            bot,
            env,
            to_version=version,
            force_reason=_force_reason(force, reason),
        )
    _report(deployment, as_json)


@app.command()
def cancel(
    bot: str,
    env: str,
    wait: Annotated[
        float,
        typer.Option("--wait", min=0, help="seconds to wait for a running deployment to stop"),
    ] = 60.0,
    user: UserOption = None,
    as_json: JsonOption = False,
) -> None:
    """Stop the deployment that runs (or waits for approval) in ENV; the previous release stays."""
    from chatops.entrypoints.output import deployment_json

    with _errors(as_json), _application() as application:
        deployment = application.cancels.cancel(
            _actor(user, application.config), bot, env, wait_seconds=wait
        )
    if as_json:
        _print_json(deployment_json(deployment))
    elif deployment.in_progress:
        out.print(
            f"[green]✓[/] #{deployment.id} is asked to stop: it is still {deployment.state}; "
            "the process running it stops it at its next step",
            highlight=False,
        )
    else:
        out.print(
            f"[green]✓[/] #{deployment.id} {deployment.state}: {deployment.reason}",
            highlight=False,
        )


@app.command()
def releases(
    bot: str,
    env: Annotated[str | None, typer.Argument()] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 20,
    as_json: JsonOption = False,
) -> None:
    """Recent releases of BOT, newest first, with where each is live."""
    from chatops.entrypoints.output import release_json, releases_table

    with _errors(as_json), _application(recover=False, progress=False) as application:
        rows = application.queries.releases(bot, env, limit=limit)
    if as_json:
        _print_json([release_json(r) for r in rows])
    else:
        out.print(releases_table(rows, bot=bot))


@app.command()
def status(
    bot: Annotated[str | None, typer.Argument()] = None, as_json: JsonOption = False
) -> None:
    """What runs where, its health, open alerts, locks and pending approvals."""
    from chatops.entrypoints.output import status_json, status_table

    with _errors(as_json), _application(progress=False) as application:
        rows = application.queries.status(bot)
    if as_json:
        _print_json([status_json(r) for r in rows])
    elif rows:
        out.print(status_table(rows))
    else:
        out.print("nothing is deployed yet")


@app.command()
def logs(
    bot: str,
    env: str,
    lines: Annotated[int, typer.Option("--lines", "-n", min=1, max=1000)] = 50,
    user: UserOption = None,
) -> None:
    """The last lines of BOT's output in ENV, secrets masked (for ENV's viewers and admins)."""
    with _errors(), _application(recover=False, progress=False) as application:
        actor = _actor(user, application.config)
        text = application.queries.logs(actor, bot, env, lines=lines)
    print(text, end="" if text.endswith("\n") else "\n")


@app.command()
def lock(
    bot: str,
    env: str,
    reason: Annotated[str, typer.Option("--reason", help="why it is held")],
    for_: Annotated[str | None, typer.Option("--for", help="expire after e.g. 2h, 30m")] = None,
    user: UserOption = None,
    as_json: JsonOption = False,
) -> None:
    """Hold (BOT, ENV): no deployment starts until unlocked."""
    from chatops.entrypoints.output import lock_json

    with _errors(as_json), _application(recover=False, progress=False) as application:
        longest = int(MAX_LOCK.total_seconds())
        duration = timedelta(seconds=parse_duration(for_, at_most=longest)) if for_ else None
        held = application.locks.lock(
            _actor(user, application.config), bot, env, reason=reason, duration=duration
        )
    if as_json:
        _print_json(lock_json(held))
    else:
        out.print(f"🔒 {bot} in {env} is {held.describe()}")


@app.command()
def unlock(bot: str, env: str, user: UserOption = None, as_json: JsonOption = False) -> None:
    """Lift the lock on (BOT, ENV)."""
    from chatops.entrypoints.output import lock_json

    with _errors(as_json), _application(recover=False, progress=False) as application:
        lifted = application.locks.unlock(_actor(user, application.config), bot, env)
    if as_json:
        _print_json(lock_json(lifted))
    else:
        out.print(f"🔓 {bot} in {env} unlocked")


@app.command()
def audit(
    bot: Annotated[str | None, typer.Option("--bot")] = None,
    deployment: Annotated[int | None, typer.Option("--deployment")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000)] = 50,
    as_json: JsonOption = False,
) -> None:
    """The audit trail: who did what, where, when, and how it ended."""
    with (
        _errors(as_json),
        _application(recover=False, progress=False) as application,
        application.deps.uow() as uow,
    ):
        events = uow.audit.list(bot=bot, deployment_id=deployment, limit=limit)
    rows = [
        {
            "id": e.id,
            "at": e.at.isoformat(),
            "actor": e.actor,
            "source": e.source,
            "action": e.action,
            "outcome": str(e.outcome),
            "bot": e.bot,
            "env": e.env,
            "deployment_id": e.deployment_id,
            "detail": e.detail,
        }
        for e in events
    ]
    if as_json:
        _print_json(rows)
        return
    for row in rows:
        where = "/".join(x for x in (row["bot"], row["env"]) if x)
        dep = f" #{row['deployment_id']}" if row["deployment_id"] else ""
        out.print(
            f"{row['at'][:19]} {row['actor']:>10} {row['action']:<10} {row['outcome']:<8} "
            f"{where}{dep} {row['detail']}",
            highlight=False,
        )


# ── schema and configuration ──────────────────────────────────────────────


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date (creates the SQLite file if needed)."""
    from chatops.adapters.db.schema import current, upgrade

    with _errors():
        config = _config()
        upgrade(config.file.database_url)
        out.print(f"database at revision {current(config.file.database_url)}")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision of the database and whether it is up to date."""
    from chatops.adapters.db.schema import current, head

    with _errors():
        config = _config()
        revision = current(config.file.database_url)
        latest = head()
    if revision == latest:
        out.print(f"{revision} (head)")
    else:
        out.print(f"{revision or 'empty'} — behind {latest}: run `chatops db upgrade`")
        raise typer.Exit(1)


@app.command()
def backup(
    target: Annotated[Path, typer.Argument(help="the file to write (replaced if it exists)")],
    as_json: JsonOption = False,
) -> None:
    """Copy the database to TARGET while chatops runs (SQLite online backup, or pg_dump)."""
    from chatops.adapters.db.backup import backup as copy_database

    with _errors(as_json):
        written = copy_database(_config().file.database_url, target)
    if as_json:
        _print_json(
            {
                "database": written.database,
                "path": str(written.path),
                "bytes": written.bytes,
                "revision": written.revision,
                "format": written.format,
            }
        )
    else:
        out.print(
            f"[green]✓[/] {written.database} → {written.path} "
            f"({written.bytes} bytes, revision {written.revision or 'none'})",
            highlight=False,
        )


@config_app.command("check")
def config_check(as_json: JsonOption = False) -> None:
    """Validate chatops.yaml and the environment; print what it describes."""
    with _errors(as_json):
        settings = load_settings()
        config = load(state.config_path, settings=settings)
    catalog = config.catalog
    pipeline = []
    for env in catalog.environments.values():
        arrow = f"{env.promote_from} → {env.name}" if env.promote_from else env.name
        rules = []
        if env.approvals:
            rules.append(f"{env.approvals} approval(s)")
        if env.soak:
            rules.append(f"soak {int(env.soak.total_seconds())}s")
        if env.auto_rollback:
            rules.append("auto-rollback")
        if env.freeze:
            rules.append(f"{len(env.freeze)} freeze window(s)")
        pipeline.append((arrow, rules))
    if as_json:
        _print_json(
            {
                "config": str(config.file.path),
                "database": _safe_url(config.file.database_url),
                "environments": sorted(catalog.environments),
                "bots": {name: sorted(bot.targets) for name, bot in catalog.bots.items()},
            }
        )
        return
    out.print(f"[green]✓[/] {config.file.path} is valid")
    out.print(f"  database: {_safe_url(config.file.database_url)}")
    for arrow, rules in pipeline:
        out.print(f"  environment {arrow}" + (f" ({', '.join(rules)})" if rules else ""))
    for name, bot in sorted(catalog.bots.items()):
        out.print(f"  bot {name}: {bot.repo} @ {bot.branch} → {', '.join(sorted(bot.targets))}")


def _safe_url(url: str) -> str:
    from chatops.domain.redact import redact_url

    return redact_url(url)


# ── long-running and interactive entrypoints ─────────────────────────────


@app.command()
def serve(
    socket_mode: Annotated[
        bool, typer.Option("--socket-mode", help="connect to Slack over Socket Mode")
    ] = False,
) -> None:
    """Serve Slack, webhooks, metrics and the scheduled jobs."""
    from chatops.entrypoints.serve import run

    with _errors():
        run(_config(), socket_mode=socket_mode)


@app.command()
def console(user: UserOption = None) -> None:
    """The Slack commands in a terminal; buttons are listed and pressed by number."""
    from chatops.entrypoints.console import run

    with _errors():
        config = _config()
        run(config, user=user or config.settings.default_user())


@app.command()
def demo(
    workdir: Annotated[
        Path, typer.Option("--workdir", help="where the demo keeps its files")
    ] = Path(".chatops-demo"),
) -> None:
    """Deploy a sample bot end to end: staging, promotion with approval, rollback."""
    from chatops.entrypoints.demo import run

    with _errors():
        run(workdir.resolve(), console=out)


def main(argv: list[str] | None = None) -> None:
    """The console script."""
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="chatops", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
