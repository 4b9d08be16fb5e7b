"""`chatops demo`: a scripted end-to-end run on the sample bot, on the embedded defaults.

SQLite, the local Docker Engine (or, as root with Debian's docker.io, a private
one started for the demo and stopped after it), a git repository with a local
bare remote. It deploys to staging, promotes to prod with an approval (and says
who approved), ships a release that fails its health gate, then one that passes
it and breaks after going live in prod: the health checks raise an alert, and
the demo presses the alert's Rollback button. It ends with `status` and
`releases`, and leaves a config that `chatops status` can read afterwards.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import yaml
from rich.console import Console
from rich.markup import escape

from chatops.bootstrap import Application, build, tools
from chatops.config import load, load_settings
from chatops.domain.alerts import Alert
from chatops.entrypoints.output import releases_table, status_table
from chatops.entrypoints.sample import busybox_path, write_sample_bot
from chatops.errors import ChatOpsError, InfrastructureError, RuntimeFailure
from chatops.services.context import Actor

__all__ = ["run"]

DEV = Actor("U0DEV", "cli")
LEAD = Actor("U0LEAD", "cli")

_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Demo Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Demo Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}


def _git(*args: str, cwd: Path) -> None:
    import os

    subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={**os.environ, **_GIT_IDENTITY},
    )


@contextmanager
def _engine(workdir: Path, console: Console) -> Iterator[str | None]:
    """The Docker Engine to use: the configured one if it answers, else a private one (as root)."""
    settings = load_settings()
    try:
        tools.engine_answers(settings.docker_host)
        yield settings.docker_host
        return
    except RuntimeFailure:
        pass
    console.print("[yellow]No Docker Engine answers; starting a private one for the demo…[/]")
    try:
        engine = tools.start_dockerd(workdir / "dockerd")
    except tools.ServiceUnavailable as exc:
        raise InfrastructureError(
            str(exc), hint="apt-get install docker.io busybox-static"
        ) from None
    try:
        yield engine.env["DOCKER_HOST"]
    finally:
        console.print("stopping the private Docker Engine")
        engine.stop()


def _write_config(workdir: Path, remote: Path, docker_host: str | None) -> Path:
    staging_port, prod_port = tools.free_port(), tools.free_port()
    engine = {"docker_host": docker_host} if docker_host else {}
    document = {
        "database_url": "sqlite:///chatops.db",
        "workdir": "work",
        "instance": "demo",  # its containers, images and tags never touch an installation's
        "slack": {"admins": ["U0ADMIN"]},
        "environments": {
            "staging": {"network": "host", "auto_rollback": True, **engine},
            "prod": {
                "network": "host",
                "promote_from": "staging",
                "soak_seconds": 0,
                "approvals": 1,
                "approvers": ["U0LEAD"],
                "deployers": ["U0DEV", "U0LEAD"],
                **engine,
            },
        },
        "bots": {
            "mybot": {
                "repo": str(remote),
                "branch": "main",
                "health_timeout_seconds": 30,
                "environments": {
                    "staging": {"env": {"PORT": str(staging_port)}},
                    "prod": {"env": {"PORT": str(prod_port)}},
                },
            }
        },
    }
    config = workdir / "chatops.yaml"
    config.write_text("# written by `chatops demo`\n" + yaml.safe_dump(document, sort_keys=False))
    return config


def _commit(
    work: Path, message: str, *, healthy: bool = True, breaks_after: int | None = None
) -> None:
    write_sample_bot(work, message=message, healthy=healthy, breaks_after=breaks_after)
    _git("add", "-A", cwd=work)
    _git("commit", "-q", "-m", message, cwd=work)
    _git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=work)


def run(workdir: Path, *, console: Console) -> None:
    """Run the demo in `workdir` (its previous contents are replaced).

    Raises:
        InfrastructureError: no Docker Engine can be had, or busybox-static is missing.
    """
    try:
        busybox_path()
    except FileNotFoundError as exc:
        raise InfrastructureError(str(exc), hint="apt-get install busybox-static") from None
    for leftover in ("remote", "src", "work", "chatops.db", "chatops.yaml"):
        path = workdir / leftover
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    with _engine(workdir, console) as docker_host:
        remote = workdir / "remote" / "mybot.git"
        remote.mkdir(parents=True)
        _git("init", "-q", "--bare", "-b", "main", str(remote), cwd=workdir)
        work = workdir / "src" / "mybot"
        work.mkdir(parents=True)
        _git("init", "-q", "-b", "main", cwd=work)
        _git("remote", "add", "origin", str(remote), cwd=work)
        _commit(work, "mybot: first version")
        config_path = _write_config(workdir, remote, docker_host)
        config = load(config_path)
        tools.upgrade_schema(config.file.database_url)
        application = build(config, for_="demo", terminal=console)
        # the alert log is for `serve`; here the alerts are shown as they happen
        logging.getLogger("chatops.services.alerts").setLevel(logging.ERROR)
        try:
            _script(application, work, console)
        finally:
            for env in ("staging", "prod"):
                with suppress(ChatOpsError):
                    application.adapters.runtimes[env].remove("mybot", env)
            application.close()
    if docker_host is not None and docker_host != load_settings().docker_host:
        # the private engine is gone: `chatops status` here must not look for its socket
        _write_config(workdir, remote, None)
    console.print(
        f"\n[bold]Done.[/] The demo removed its containers. Its records stay in {workdir}: "
        f"`cd {workdir} && chatops status` and `chatops releases mybot` read them."
    )


def _step(console: Console, text: str) -> None:
    console.rule(f"[bold]{text}")


def _script(application: Application, work: Path, console: Console) -> None:
    requests = application.requests
    _step(console, "1. /deploy mybot staging")
    first = requests.deploy(DEV, "mybot", "staging")
    _expect(
        first.state == "live", f"v1 should be live in staging, it is {first.state}: {first.reason}"
    )

    _step(console, "2. /promote mybot prod: an approval by someone else")
    _promote(application, console)

    _step(console, "3. a broken commit fails its health gate; v1 keeps running")
    _commit(work, "mybot: broken release", healthy=False)
    broken = requests.deploy(DEV, "mybot", "staging")
    _expect(broken.state == "failed", "the broken release should fail its health gate")

    _step(console, "4. a release that passes the gate, then breaks once it is live")
    _commit(work, "mybot: breaks after a few seconds", breaks_after=BREAKS_AFTER)
    third = requests.deploy(DEV, "mybot", "staging")
    _expect(third.state == "live", f"it should pass the health gate, it is {third.state}")
    _promote(application, console)

    _step(console, "5. the health checks notice: an alert with a Rollback button")
    alert = _wait_for_alert(application, console)

    _step(console, "6. pressing the alert's Rollback button")
    console.print(f"U0LEAD presses Rollback on alert #{alert.id} (action_id rollback)")
    back = requests.rollback_deployment(LEAD, alert.deployment_id or 0)
    _expect(back.state == "live", f"prod should be back on v1, it is {back.state}")
    _checks_until_resolved(application)

    _step(console, "chatops status")
    console.print(status_table(application.queries.status(probe=False)))
    _step(console, "chatops releases mybot")
    console.print(releases_table(application.queries.releases("mybot"), bot="mybot"))


BREAKS_AFTER = 6  # seconds a release of step 4 stays healthy


def _promote(application: Application, console: Console) -> None:
    requests = application.requests
    pending = requests.promote(DEV, "mybot", "prod")
    console.print(f"#{pending.id} waits for approval; U0DEV may not approve their own request:")
    try:
        requests.approve(DEV, pending.id or 0)
    except ChatOpsError as refused:
        console.print(f"  [yellow]refused:[/] {escape(refused.message)}")
    live = requests.approve(LEAD, pending.id or 0)
    view = application.queries.view(live.id or 0)
    approved = ", ".join(view.tally.approved_by) if view.tally else "nobody"
    console.print(f"approved by {approved}: #{live.id} is {live.state} (v{live.version} in prod)")
    _expect(live.state == "live", f"prod should run the promoted release, it is {live.state}")


def _checks_until_resolved(application: Application) -> None:
    """The next health checks find v1 healthy again and resolve the alerts."""
    health = application.monitoring.health
    for _ in range(30):
        for env in ("staging", "prod"):
            health.check_environment(env)
        with application.store.uow() as uow:
            if not uow.alerts.open_alerts("mybot"):
                return
        time.sleep(1)


def _wait_for_alert(application: Application, console: Console) -> Alert:
    """Run the health checks (as `serve` does every 30 s) until prod's alert fires."""
    health = application.monitoring.health
    deadline = time.monotonic() + BREAKS_AFTER + 60
    while time.monotonic() < deadline:
        for env in ("staging", "prod"):
            health.check_environment(env)
        with application.store.uow() as uow:
            firing = [a for a in uow.alerts.open_alerts("mybot") if a.env == "prod"]
        if firing:
            alert = firing[0]
            console.print(
                f"alert #{alert.id} in prod: {escape(alert.summary)}\n"
                f"  buttons: [Rollback] (rollback #{alert.deployment_id}) · "
                f"[Acknowledge] (ack_alert #{alert.id})"
            )
            return alert
        time.sleep(1)
    raise InfrastructureError("the demo went off script: no alert in prod within a minute")


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise InfrastructureError(f"the demo went off script: {message}")
