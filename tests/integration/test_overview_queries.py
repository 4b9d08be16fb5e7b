"""The overview's status reads verification in a bounded number of queries (SQLite)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from chatops.bootstrap import Application, build
from chatops.domain.deployment import State
from chatops.domain.verification import Measurement, Verdict
from chatops.services.ports import UnitOfWork
from chatops.services.runs import downstream_soak, verification_of
from tests.web.story import load_config, record, write_config


@pytest.fixture
def application(tmp_path: Path) -> Iterator[Application]:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    names = [f"bot{n:02d}" for n in range(12)]
    path = write_config(tmp_path, bots=dict.fromkeys(names, str(remote)), web=None, public_url=None)
    built = build(load_config(path), for_="cli")
    try:
        with built.uow() as uow:
            for name in names:
                record(uow, name, ("a" * 40, "b" * 40))
            _redeploy(uow, "bot00")
            uow.commit()
        yield built
    finally:
        built.close()


def _redeploy(uow: UnitOfWork, bot: str) -> None:
    """A redeploy of the live staging version: the run goes on over both deployments."""
    before = uow.deployments.live(bot, "staging")
    assert before is not None and before.live_at is not None
    uow.deployments.save(replace(before, state=State.SUPERSEDED))
    later = before.live_at + timedelta(hours=1)
    again = uow.deployments.add(
        replace(before, id=None, revision=0, live_at=later, updated_at=later)
    )
    for minutes in (1, 2):
        uow.measurements.add(
            Measurement(
                "error rate",
                Verdict.FAIL,
                later + timedelta(minutes=minutes),
                0.5,
                f"0.5 is above the maximum 0.01 ({minutes})",
                again.id,
            )
        )


def _counted(application: Application, bot: str | None) -> tuple[int, list[Any]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = application.store.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        rows = application.queries.status(bot, probe=False)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements), rows


def test_status_reads_verification_in_queries_that_do_not_grow_with_the_bots(
    application: Application,
) -> None:
    one, [*single] = _counted(application, "bot00")
    every, rows = _counted(application, None)

    assert {row.bot for row in rows} == {f"bot{n:02d}" for n in range(12)}
    verified = [row for row in rows if row.verification is not None]
    assert len(verified) == 12  # every bot's staging is live and verified
    assert every == one <= 10  # not one query (or three) per verified row: 41 before
    # the same verdicts, details and counts as one deployment read at a time
    catalog, now = application.catalog, application.clock.now()
    with application.uow() as uow:
        for row in rows:
            alone = verification_of(
                uow,
                catalog.environments[row.env].verify,
                row.deployment,
                soak=downstream_soak(catalog, row.env),
                now=now,
            )
            assert row.verification == alone, (row.bot, row.env)
    [redeployed] = [r for r in rows if r.bot == "bot00" and r.env == "staging"]
    assert redeployed.verification is not None
    assert redeployed.verification.measured == 5  # three before the redeploy, two after
    assert redeployed.verification.reason.endswith("(2)")  # the run's last failure
    assert [r.verification for r in single] == [r.verification for r in rows if r.bot == "bot00"]
