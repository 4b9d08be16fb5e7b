"""A new, empty database is created and migrated on first use; a schema behind is refused.

Replicas starting together on one new PostgreSQL database migrate it once, one at a
time (an advisory lock), and both start.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatops.adapters.db import schema
from chatops.errors import SchemaOutOfDate

# what a replica does first: wire chatops, which checks (and on first use makes) the schema
FIRST_USE = """
import sys, time
from chatops.adapters.db.schema import ensure_current
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
ensure_current(sys.argv[1])
"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'new' / 'chatops.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_a_new_database_is_migrated_on_first_use(db_url: str) -> None:
    assert schema.current(db_url) is None
    schema.ensure_current(db_url)
    assert schema.current(db_url) == schema.HEAD


def test_a_schema_that_is_behind_is_refused_with_the_command_that_upgrades_it(
    db_url: str,
) -> None:
    schema.upgrade(db_url, "0003_outbox")
    with pytest.raises(SchemaOutOfDate) as refused:
        schema.ensure_current(db_url)
    assert "is at revision 0003_outbox" in refused.value.message
    assert refused.value.hint == "run `chatops db upgrade`"
    assert schema.current(db_url) == "0003_outbox", "never upgraded behind anyone's back"


def test_two_replicas_starting_together_on_a_new_database_both_start(db_url: str) -> None:
    import time

    start = str(time.time() + 2.0)  # both past their imports, then at once
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    replicas = [
        subprocess.Popen(
            [sys.executable, "-c", FIRST_USE, db_url, start],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    for replica in replicas:
        _, stderr = replica.communicate(timeout=120)
        assert replica.returncode == 0, stderr
    assert schema.current(db_url) == schema.HEAD
