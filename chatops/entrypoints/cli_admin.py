"""`chatops db …`, `config …`, `backup`, and the long-running `serve`, `console`, `demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from chatops.domain.catalog import Environment
from chatops.domain.names import unit_name
from chatops.entrypoints.cli_support import (
    ConfigOption,
    JsonOption,
    QuietOption,
    UserOption,
    VerboseOption,
    app,
    common,
    config_app,
    db_app,
    err,
    errors,
    load_config,
    out,
    print_json,
    state,
)

__all__ = ["register"]


# ── schema and configuration ──────────────────────────────────────────────


def db_upgrade(
    config: ConfigOption = None,
    user: UserOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Bring the database schema up to date (creates the SQLite file if needed)."""
    from chatops.bootstrap.tools import schema_revision, upgrade_schema

    _, as_json = common(config, user, as_json, verbose=verbose, quiet=quiet)
    with errors(as_json):
        url = load_config().file.database_url
        upgrade_schema(url)
        revision = schema_revision(url)
    if as_json:
        print_json({"revision": revision, "head": True})
    else:
        out.print(f"database at revision {revision}")


def db_current(
    config: ConfigOption = None,
    user: UserOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Show the schema revision of the database and whether it is up to date."""
    from chatops.bootstrap.tools import schema_head, schema_revision

    _, as_json = common(config, user, as_json, verbose=verbose, quiet=quiet)
    with errors(as_json):
        revision = schema_revision(load_config().file.database_url)
        latest = schema_head()
    if as_json:
        print_json({"revision": revision, "head": revision == latest, "latest": latest})
    elif revision == latest:
        out.print(f"{revision} (head)")
    else:
        out.print(f"{revision or 'empty'} — behind {latest}: run `chatops db upgrade`")
    if revision != latest:
        raise typer.Exit(1)


def backup(
    target: Annotated[Path, typer.Argument(help="the file to write (replaced if it exists)")],
    config: ConfigOption = None,
    user: UserOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Copy the database to TARGET while chatops runs (SQLite online backup, or pg_dump)."""
    from chatops.bootstrap.tools import write_backup as copy_database

    _, as_json = common(config, user, as_json, verbose=verbose, quiet=quiet)
    with errors(as_json):
        written = copy_database(load_config().file.database_url, target)
    if as_json:
        print_json(
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


def config_check(
    online: Annotated[
        bool,
        typer.Option("--online", help="also reach each repository, branch and Docker Engine"),
    ] = False,
    config: ConfigOption = None,
    user: UserOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Validate chatops.yaml, the environment and the files it names; print what it describes."""
    from chatops.config import load, load_settings
    from chatops.entrypoints.config_checks import missing_files, unreachable

    _, as_json = common(config, user, as_json, verbose=verbose, quiet=quiet)
    with errors(as_json):
        settings = load_settings()
        loaded = load(state.config_path, settings=settings)
        problems = missing_files(loaded) + (unreachable(loaded) if online else [])
    if problems:
        if as_json:
            print_json({"config": str(loaded.file.path), "problems": problems})
        err.print(
            f"[red]error:[/] {escape(str(loaded.file.path))}: {len(problems)} problem(s):",
            highlight=False,
        )
        for problem in problems:
            err.print(f"  {problem}", highlight=False, markup=False)
        raise typer.Exit(1)
    catalog = loaded.catalog
    pipeline = [_environment_rules(env) for env in catalog.environments.values()]
    if as_json:
        print_json(
            {
                "config": str(loaded.file.path),
                "database": _safe_url(loaded.file.database_url),
                "instance": catalog.instance,
                "environments": sorted(catalog.environments),
                "bots": {name: sorted(bot.targets) for name, bot in catalog.bots.items()},
                "problems": [],
                "online": online,
            }
        )
        return
    out.print(f"[green]✓[/] {loaded.file.path} is valid", highlight=False)
    out.print(f"  database: {_safe_url(loaded.file.database_url)}", highlight=False, markup=False)
    example = unit_name("<bot>", "<env>", catalog.instance)
    out.print(f"  instance: {catalog.instance} (containers and services {example})", markup=False)
    for arrow, rules in pipeline:
        line = f"  environment {arrow}" + (f" ({', '.join(rules)})" if rules else "")
        out.print(line, highlight=False, markup=False)
    for name, bot in sorted(catalog.bots.items()):
        out.print(
            f"  bot {name}: {bot.repo} @ {bot.branch} → {', '.join(sorted(bot.targets))}",
            highlight=False,
            markup=False,
        )


def _environment_rules(env: Environment) -> tuple[str, list[str]]:
    """An environment's place in the pipeline and the rules that guard it, for `config check`."""
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
    if env.verify:
        every = int(env.verify.interval.total_seconds())
        rules.append(f"verify {len(env.verify.checks)} metric check(s) every {every}s")
    if env.checks:
        names = ", ".join(env.checks.required) if env.checks.required else "all"
        rules.append(f"CI checks: {names}")
    return arrow, rules


def config_schema(
    table: Annotated[
        bool, typer.Option("--table", help="every key as the README's Markdown table")
    ] = False,
) -> None:
    """Print chatops.yaml's JSON Schema (for editors and CI), or its table of keys."""
    from chatops.entrypoints.config_schema import json_schema, keys_table

    if table:
        print(keys_table(), end="")
    else:
        print_json(json_schema())


def _safe_url(url: str) -> str:
    from chatops.domain.redact import redact_url

    return redact_url(url)


# ── long-running and interactive entrypoints ─────────────────────────────


def serve(
    socket_mode: Annotated[
        bool, typer.Option("--socket-mode", help="connect to Slack over Socket Mode")
    ] = False,
    config: ConfigOption = None,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Serve Slack, webhooks, metrics and the scheduled jobs."""
    from chatops.entrypoints.serve import run

    common(config, None, False, verbose=verbose, quiet=quiet)
    with errors():
        run(load_config(), socket_mode=socket_mode)


def console(
    config: ConfigOption = None,
    user: UserOption = None,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """The Slack commands in a terminal; buttons are listed and pressed by number."""
    from chatops.entrypoints.console import run

    user, _ = common(config, user, False, verbose=verbose, quiet=quiet)
    with errors():
        loaded = load_config()
        run(loaded, user=user or loaded.settings.default_user())


def demo(
    workdir: Annotated[
        Path, typer.Option("--workdir", help="where the demo keeps its files")
    ] = Path(".chatops-demo"),
) -> None:
    """A sample bot end to end: staging, an approved promotion, a broken release, a rollback."""
    from chatops.entrypoints.demo import run

    with errors():
        run(workdir.resolve(), console=out)


def register() -> None:
    """Add these commands to the `chatops` app, after the operator commands."""
    app.command()(backup)
    app.command()(serve)
    app.command()(console)
    app.command()(demo)
    db_app.command("upgrade")(db_upgrade)
    db_app.command("current")(db_current)
    config_app.command("check")(config_check)
    config_app.command("schema")(config_schema)
