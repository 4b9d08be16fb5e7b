"""A chatops installation with a recorded history, written through the real repositories.

The history is what a team's week leaves behind: deploys, a promotion with an
approval, a failed release, a rollback with its reason and hold, an open alert,
a pending promotion and a lock, and the measurements of staging's verification
(v1 held; v2 broke the error-rate bound once). Used by the page tests and bench/web.py.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from chatops.adapters.db.schema import upgrade
from chatops.config import Config, Settings, load
from chatops.domain.alerts import Alert
from chatops.domain.approvals import Decision, Vote
from chatops.domain.audit import AuditEvent, Outcome
from chatops.domain.deployment import Deployment, Kind, Release, State
from chatops.domain.policy import Lock, LockKind
from chatops.domain.verification import Measurement, Verdict
from chatops.services.ports import MessageRef, UnitOfWork

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SECRET = "s3cr3t-value-never-shown"
ERROR_RATE = 'sum(rate(http_errors_total{job="{bot}-{env}"}[1m]))'


def write_config(
    home: Path,
    *,
    bots: dict[str, str],
    web: dict[str, Any] | None,
    public_url: str | None,
    env_file: str | None = None,
) -> Path:
    document: dict[str, Any] = {
        "database_url": "sqlite:///chatops.db",
        "workdir": "work",
        "slack": {"channel": "C0DEPLOYS", "admins": ["UADMIN"]},
        "environments": {
            "staging": {
                "deployers": ["*"],
                "viewers": ["UDEV", "ULEAD1"],
                "verify": {
                    "prometheus": "http://127.0.0.1:9",
                    "checks": [{"name": "error rate", "query": ERROR_RATE, "max": 0.01}],
                },
            },
            "prod": {
                "promote_from": "staging",
                "approvals": 1,
                "approvers": ["ULEAD1", "ULEAD2"],
                "deployers": ["UDEV", "ULEAD1"],
                "viewers": ["ULEAD1"],
            },
        },
        "bots": {name: {"repo": repo, "branch": "main"} for name, repo in bots.items()},
    }
    if env_file is not None:  # the bots' secrets in staging
        for bot in document["bots"].values():
            bot["environments"] = {"staging": {"env_file": env_file}, "prod": None}
    if web is not None:
        document["web"] = web
    if public_url is not None:
        document["public_url"] = public_url
    path = home / "chatops.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def load_config(path: Path, *, migrated: Path | None = None, **settings: Any) -> Config:
    """The config at `path`, its database migrated (or copied from `migrated`, an empty
    migrated SQLite database: much quicker than running the migrations again)."""
    config = load(path, settings=Settings(**settings))
    if migrated is not None:
        shutil.copyfile(migrated, path.parent / "chatops.db")
    else:
        upgrade(config.file.database_url)
    return config


@dataclass
class Story:
    """The ids of what `record` wrote, for the tests to look up."""

    first_staging: int
    first_prod: int
    second_staging: int
    failed_prod: int
    rollback_prod: int
    pending_prod: int
    alert: int


def _deployment(
    bot: str, env: str, kind: Kind, state: State, at: datetime, **more: Any
) -> Deployment:
    return Deployment(
        bot=bot,
        env=env,
        kind=kind,
        state=state,
        requested_by=more.pop("by", "UDEV"),
        requested_at=at,
        updated_at=at,
        **more,
    )


def record(uow: UnitOfWork, bot: str, commits: tuple[str, str], *, start: datetime = T0) -> Story:
    """Write the story of `bot` (two releases of the commits given) into the database."""
    c1, c2 = commits
    t = start
    step = timedelta(minutes=10)

    def release(version: int, commit: str, deployment_id: int | None) -> None:
        uow.releases.add(
            Release(
                bot=bot,
                version=version,
                commit=commit,
                tag=f"{bot}/v{version}",
                image=f"127.0.0.1:5000/{bot}:v{version}",
                image_id=f"sha256:{version:064d}",
                digest=f"sha256:{version + 10:064d}",
                created_by="UDEV",
                created_at=t,
                deployment_id=deployment_id,
                subject=f"version {version} of {bot}",
            )
        )

    def measure(deployment_id: int | None, at: datetime, value: float) -> None:
        above = value > 0.01
        uow.measurements.add(
            Measurement(
                "error rate",
                Verdict.FAIL if above else Verdict.PASS,
                at,
                value,
                f"{value:g} is above the maximum 0.01" if above else "",
                deployment_id,
            )
        )

    def audit(actor: str, action: str, env: str, deployment_id: int | None, **more: Any) -> None:
        uow.audit.add(
            AuditEvent(
                at=t,
                actor=actor,
                action=action,
                outcome=more.pop("outcome", Outcome.OK),
                source="slack",
                bot=bot,
                env=env,
                deployment_id=deployment_id,
                detail=more.pop("detail", ""),
            )
        )

    first = uow.deployments.add(
        _deployment(
            bot,
            "staging",
            Kind.DEPLOY,
            State.SUPERSEDED,
            t,
            version=1,
            commit=c1,
            live_at=t + step / 2,
            finished_at=t + 4 * step,
            log_tail="Step 1/3 : FROM scratch",
        )
    )
    release(1, c1, first.id)
    measure(first.id, t + step, 0.001)
    audit("UDEV", "deploy", "staging", first.id, detail="v1")
    t += step
    first_prod = uow.deployments.add(
        _deployment(
            bot,
            "prod",
            Kind.PROMOTE,
            State.SUPERSEDED,
            t,
            version=1,
            commit=c1,
            live_at=t + step / 2,
            finished_at=t + 5 * step,
        )
    )
    uow.votes.put(Vote(first_prod.id or 0, "ULEAD1", Decision.APPROVE, t + step / 4))
    audit("ULEAD1", "approve", "prod", first_prod.id)
    t += step
    second = uow.deployments.add(
        _deployment(
            bot,
            "staging",
            Kind.DEPLOY,
            State.LIVE,
            t,
            version=2,
            commit=c2,
            previous_version=1,
            live_at=t + step / 2,
            healthy_since=t + step / 2,
        )
    )
    release(2, c2, second.id)
    for minutes, value in ((6, 0.002), (7, 0.004), (8, 0.05)):
        measure(second.id, t + timedelta(minutes=minutes), value)
    audit("UDEV", "deploy", "staging", second.id, detail="v2")
    t += step
    failed = uow.deployments.add(
        _deployment(
            bot,
            "prod",
            Kind.PROMOTE,
            State.FAILED,
            t,
            version=2,
            commit=c2,
            previous_version=1,
            finished_at=t + step / 2,
            reason="v2 did not pass its health gate in 60s; v1 restored",
        )
    )
    uow.votes.put(Vote(failed.id or 0, "ULEAD2", Decision.APPROVE, t))
    audit("ULEAD2", "approve", "prod", failed.id)
    t += step
    back = uow.deployments.add(
        _deployment(
            bot,
            "prod",
            Kind.ROLLBACK,
            State.LIVE,
            t,
            version=1,
            commit=c1,
            previous_version=2,
            live_at=t + step / 2,
            by="ULEAD1",
            reason="v2 leaks memory under load",
            request_reason="v2 leaks memory under load",
        )
    )
    audit("ULEAD1", "rollback", "prod", back.id, detail="v2 leaks memory under load")
    uow.locks.put(
        Lock(
            bot=bot,
            env="prod",
            held_by="ULEAD1",
            reason="rolled back to v1",
            created_at=t,
            kind=LockKind.ROLLBACK_HOLD,
        )
    )
    t += step
    alert = uow.alerts.add(
        Alert(
            bot=bot,
            env="staging",
            source="alertmanager",
            fingerprint=f"{bot}-errors",
            summary="error rate above 1%",
            first_seen=t,
            last_seen=t,
            deployment_id=second.id,
            version=2,
        )
    )
    t += step
    pending = uow.deployments.add(
        _deployment(
            bot,
            "prod",
            Kind.PROMOTE,
            State.PENDING_APPROVAL,
            t,
            version=2,
            commit=c2,
            previous_version=1,
        )
    )
    audit("UDEV", "promote", "prod", pending.id, detail="awaits approval")
    audit("UNOBODY", "rollback", "prod", None, outcome=Outcome.REFUSED, detail="not a deployer")
    ts = f"{int(start.timestamp())}.{back.id or 0:06d}"
    uow.messages.put(f"deployment:{back.id}", MessageRef("C0PRODOPS", ts))
    return Story(
        first_staging=first.id or 0,
        first_prod=first_prod.id or 0,
        second_staging=second.id or 0,
        failed_prod=failed.id or 0,
        rollback_prod=back.id or 0,
        pending_prod=pending.id or 0,
        alert=alert.id or 0,
    )
