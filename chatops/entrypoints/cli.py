"""The `chatops` command line: the operator commands, in the grammar of the Slack commands.

`deploy BOT ENV [REF]`, `rollback BOT ENV [vN] [--reason R]` and the rest, each
taking `--config`, `--user`, `--json`, `-v` and `-q` before or after its arguments. The
schema, configuration and long-running commands are in `cli_admin`; what they
all share (errors → exit codes, wiring) in `cli_support`.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from chatops.entrypoints import cli_admin
from chatops.entrypoints.cli_support import (
    ConfigOption,
    ForceOption,
    JsonOption,
    QuietOption,
    UserOption,
    VerboseOption,
    actor,
    app,
    application,
    common,
    errors,
    force_reason,
    out,
    print_json,
    report,
)
from chatops.errors import BadInput

if TYPE_CHECKING:
    from chatops.services.views import StatusRow

__all__ = ["app", "main"]

ReasonOption = Annotated[
    str | None, typer.Option("--reason", help="why (recorded; needed with --force)")
]


def _one(positional: str | None, option: str | None, *, what: str, usage: str) -> str | None:
    """A value given as an argument or (the older way) as an option; both must agree."""
    if positional is not None and option is not None and positional != option:
        raise BadInput(f"two {what}s given: {positional!r} and {option!r}", usage=usage)
    return positional if positional is not None else option


# ── operator commands ─────────────────────────────────────────────────────


@app.command()
def deploy(
    bot: str,
    env: str,
    ref: Annotated[
        str | None, typer.Argument(help="branch, tag or commit (default: the bot's branch)")
    ] = None,
    ref_option: Annotated[str | None, typer.Option("--ref", "-r", hidden=True)] = None,
    force: ForceOption = False,
    reason: ReasonOption = None,
    config: ConfigOption = None,
    user: UserOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Build (or reuse) the release of REF and make it live in ENV."""
    user, as_json = common(config, user, as_json, verbose=verbose, quiet=quiet)
    with errors(as_json):
        the_ref = _one(ref, ref_option, what="ref", usage="chatops deploy BOT ENV [REF]")
        with application() as app_:
            deployment = app_.requests.deploy(
                actor(user, app_.config),
                bot,
                env,
                ref=the_ref,
                force_reason=force_reason(force, reason),
            )
    report(deployment, as_json)


@app.command()
def promote(
    bot: str,
    env: Annotated[
        str | None, typer.Argument(help="target (default: where the bot's live env promotes to)")
    ] = None,
    force: ForceOption = False,
    reason: ReasonOption = None,
    config: ConfigOption = None,
    user: UserOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Promote what is live and soaked in the source environment to ENV."""
    user, as_json = common(config, user, as_json, verbose=verbose, quiet=quiet)
    with errors(as_json), application() as app_:
        deployment = app_.requests.promote(
            actor(user, app_.config), bot, env, force_reason=force_reason(force, reason)
        )
    report(deployment, as_json)


@app.command()
def approve(
    deployment_id: int,
    config: ConfigOption = None,
    user: UserOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Approve a pending deployment."""
    user, as_json = common(config, user, as_json, verbose=verbose, quiet=quiet)
    with errors(as_json), application() as app_:
        deployment = app_.requests.approve(actor(user, app_.config), deployment_id)
    report(deployment, as_json)


@app.command()
def reject(
    deployment_id: int,
    reason: Annotated[str | None, typer.Option("--reason", help="why (shown and audited)")] = None,
    config: ConfigOption = None,
    user: UserOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Reject a pending deployment."""
    user, as_json = common(config, user, as_json, verbose=verbose, quiet=quiet)
    with errors(as_json), application() as app_:
        deployment = app_.requests.reject(actor(user, app_.config), deployment_id, reason=reason)
    if as_json:
        from chatops.entrypoints.output import deployment_json

        print_json(deployment_json(deployment))
    else:
        out.print(f"#{deployment.id} {deployment.state}")


@app.command()
def rollback(
    bot: str,
    env: str,
    version: Annotated[
        str | None, typer.Argument(help="the version to go to, e.g. v3 (default: the previous)")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", hidden=True)] = None,
    reason: ReasonOption = None,
    force: ForceOption = False,
    config: ConfigOption = None,
    user: UserOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Go back to the previous healthy release of ENV (or vN), without building."""
    from chatops.domain.names import parse_version

    user, as_json = common(config, user, as_json, verbose=verbose, quiet=quiet)
    with errors(as_json):
        usage = "chatops rollback BOT ENV [vN] [--reason R]"
        wanted = _one(version, to, what="version", usage=usage)
        to_version = parse_version(wanted) if wanted else None
        why = reason.strip() if reason and reason.strip() else None
        with application() as app_:
            deployment = app_.requests.rollback(
                actor(user, app_.config),
                bot,
                env,
                to_version=to_version,
                force_reason=force_reason(force, reason),
                reason=why,
            )
    report(deployment, as_json)


@app.command()
def cancel(
    bot: str,
    env: str,
    wait: Annotated[
        float,
        typer.Option("--wait", min=0, help="seconds to wait for a running deployment to stop"),
    ] = 60.0,
    config: ConfigOption = None,
    user: UserOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Stop the deployment that runs (or waits for approval) in ENV; the previous release stays."""
    from chatops.entrypoints.output import deployment_json

    user, as_json = common(config, user, as_json, verbose=verbose, quiet=quiet)
    with errors(as_json), application() as app_:
        deployment = app_.cancels.cancel(actor(user, app_.config), bot, env, wait_seconds=wait)
    if as_json:
        print_json(deployment_json(deployment))
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
    config: ConfigOption = None,
    user: UserOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Recent releases of BOT, newest first, with where each is live."""
    from chatops.entrypoints.output import release_json, releases_table

    _, as_json = common(config, user, as_json, verbose=verbose, quiet=quiet)
    with errors(as_json), application(reads_only=True) as app_:
        rows = app_.release_history.releases(bot, env, limit=limit)
    if as_json:
        print_json([release_json(r) for r in rows])
    else:
        out.print(releases_table(rows, bot=bot))


@app.command()
def status(
    bot: Annotated[str | None, typer.Argument()] = None,
    probe: Annotated[
        bool,
        typer.Option("--probe", help="ask the engines for health now (default: as last checked)"),
    ] = False,
    config: ConfigOption = None,
    user: UserOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """What runs where, its health, open alerts, locks and pending approvals."""
    from chatops.entrypoints.output import status_json, status_table

    _, as_json = common(config, user, as_json, verbose=verbose, quiet=quiet)
    with errors(as_json):
        rows = _status_rows(bot, probe=probe)
    if as_json:
        print_json([status_json(r) for r in rows])
    elif rows:
        out.print(status_table(rows))
    else:
        out.print("nothing is deployed yet")


def _status_rows(bot: str | None, *, probe: bool) -> list[StatusRow]:
    """Status as recorded, read without SQLAlchemy where it can be. A deployment under way
    or waiting for approval may be one a killed process left behind, or one whose approval
    ran out: then status is read again after recovery and expiry have ended those (and
    told the channel), as every other command does first."""
    with application(reads_only=True) as app_:
        rows = app_.status.status(bot, probe=probe)
        if not any(row.in_progress or row.pending for row in rows):
            return rows
    with application(progress=False) as app_:
        return app_.status.status(bot, probe=probe)


@app.command()
def logs(
    bot: str,
    env: str,
    lines: Annotated[int, typer.Option("--lines", "-n", min=1, max=1000)] = 50,
    config: ConfigOption = None,
    user: UserOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """The last lines of BOT's output in ENV, secrets masked (for ENV's viewers and admins)."""
    user, as_json = common(config, user, as_json, verbose=verbose, quiet=quiet)
    with errors(as_json), application(recover=False, progress=False) as app_:
        text = app_.queries.logs(actor(user, app_.config), bot, env, lines=lines)
    if as_json:
        print_json({"bot": bot, "env": env, "lines": text.splitlines()})
    else:
        print(text, end="" if text.endswith("\n") else "\n")


@app.command()
def lock(
    bot: str,
    env: str,
    reason: Annotated[str, typer.Option("--reason", help="why it is held")],
    for_: Annotated[str | None, typer.Option("--for", help="expire after e.g. 2h, 30m")] = None,
    config: ConfigOption = None,
    user: UserOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Hold (BOT, ENV): no deployment starts until unlocked."""
    from chatops.domain.names import parse_duration
    from chatops.domain.policy import MAX_LOCK
    from chatops.entrypoints.output import lock_json

    user, as_json = common(config, user, as_json, verbose=verbose, quiet=quiet)
    with errors(as_json), application(recover=False, progress=False) as app_:
        longest = int(MAX_LOCK.total_seconds())
        duration = timedelta(seconds=parse_duration(for_, at_most=longest)) if for_ else None
        held = app_.locks.lock(actor(user, app_.config), bot, env, reason=reason, duration=duration)
    if as_json:
        print_json(lock_json(held))
    else:
        out.print(f"🔒 {bot} in {env} is {held.describe()}", highlight=False, markup=False)


@app.command()
def unlock(
    bot: str,
    env: str,
    config: ConfigOption = None,
    user: UserOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Lift the lock on (BOT, ENV)."""
    from chatops.entrypoints.output import lock_json

    user, as_json = common(config, user, as_json, verbose=verbose, quiet=quiet)
    with errors(as_json), application(recover=False, progress=False) as app_:
        lifted = app_.locks.unlock(actor(user, app_.config), bot, env)
    if as_json:
        print_json(lock_json(lifted))
    else:
        out.print(f"🔓 {bot} in {env} unlocked", highlight=False, markup=False)


@app.command()
def audit(
    bot: Annotated[str | None, typer.Option("--bot", help="only this bot")] = None,
    by: Annotated[str | None, typer.Option("--by", help="only what this user id did")] = None,
    env: Annotated[str | None, typer.Option("--env", help="only this environment")] = None,
    action: Annotated[str | None, typer.Option("--action", help="e.g. deploy, rollback")] = None,
    deployment: Annotated[int | None, typer.Option("--deployment")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000)] = 50,
    config: ConfigOption = None,
    user: UserOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """The audit trail: who did what, where, when, and how it ended."""
    from chatops.entrypoints.output import audit_json

    _, as_json = common(config, user, as_json, verbose=verbose, quiet=quiet)
    with (
        errors(as_json),
        application(recover=False, progress=False) as app_,
        app_.store.uow() as uow,
    ):
        events = uow.audit.list(
            bot=bot, deployment_id=deployment, limit=limit, actor=by, env=env, action=action
        )
    rows = [audit_json(e) for e in events]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        where = "/".join(x for x in (row["bot"], row["env"]) if x)
        dep = f" #{row['deployment_id']}" if row["deployment_id"] else ""
        out.print(
            f"{row['at'][:19]} {row['actor']:>10} {row['action']:<10} {row['outcome']:<8} "
            f"{where}{dep} {row['detail']}",
            highlight=False,
            markup=False,
        )


cli_admin.register()


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
