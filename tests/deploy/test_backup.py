"""`chatops backup`: refusals that say what to do, and never a copy of nothing or a password.

(The copies themselves, restored, are checked by test_operations_doc.py.)
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy
import yaml
from typer.testing import CliRunner

from chatops.adapters.db import schema
from chatops.entrypoints.cli import app

PASSWORD = "s3cret-pw"


def _invoke(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--config", str(config), "backup", *args])
    return result.exit_code, result.stdout, result.stderr


def _config(tmp_path: Path, database_url: str) -> Path:
    config = tmp_path / "chatops.yaml"
    config.write_text(yaml.safe_dump({"database_url": database_url, "environments": {"s": {}}}))
    return config


def test_a_missing_sqlite_database_is_refused_and_nothing_is_made(tmp_path: Path) -> None:
    config = _config(tmp_path, "sqlite:///data/chatops.db")
    target = tmp_path / "copy.db"

    code, _, err = _invoke(config, str(target))

    assert code == 1
    assert f"there is no SQLite database at {tmp_path / 'data' / 'chatops.db'}" in err
    assert "database_url" in err
    assert not target.exists() and not (tmp_path / "data").exists()


def test_a_sqlite_copy_is_written_whole_and_described(tmp_path: Path) -> None:
    config = _config(tmp_path, "sqlite:///chatops.db")
    schema.upgrade(f"sqlite:///{tmp_path / 'chatops.db'}")
    target = tmp_path / "copy.db"
    target.write_bytes(b"an older copy")

    code, out, err = _invoke(config, str(target), "--json")

    assert code == 0, err
    written = json.loads(out)
    assert written["path"] == str(target)
    assert written["format"] == "sqlite"
    assert written["revision"] == schema.head()
    assert written["bytes"] == target.stat().st_size
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_the_database_itself_is_never_the_target(tmp_path: Path) -> None:
    config = _config(tmp_path, "sqlite:///chatops.db")
    schema.upgrade(f"sqlite:///{tmp_path / 'chatops.db'}")
    before = (tmp_path / "chatops.db").read_bytes()

    code, _, err = _invoke(config, str(tmp_path / "chatops.db"))

    assert code == 1
    assert "is the database itself" in err
    assert (tmp_path / "chatops.db").read_bytes() == before


def test_a_missing_directory_or_a_directory_as_target_is_named(tmp_path: Path) -> None:
    config = _config(tmp_path, "sqlite:///chatops.db")
    schema.upgrade(f"sqlite:///{tmp_path / 'chatops.db'}")

    code, _, err = _invoke(config, str(tmp_path / "nowhere" / "copy.db"))
    code_dir, _, err_dir = _invoke(config, str(tmp_path))

    assert code == code_dir == 1
    assert f"{tmp_path / 'nowhere'} is not a directory" in err
    assert f"{tmp_path} is a directory" in err_dir


def _with_password(url: str) -> str:
    return sqlalchemy.make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


def test_without_pg_dump_postgres_is_refused_with_the_command_to_run(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, _with_password(postgres_url))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    code, out, err = _invoke(config, str(tmp_path / "chatops.dump"))

    assert code == 1
    assert "pg_dump is not installed" in err
    assert "pg_dump --format=custom" in err
    assert PASSWORD not in out + err
    assert not (tmp_path / "chatops.dump").exists()


def test_pg_dump_gets_the_password_but_no_output_shows_it(
    tmp_path: Path, postgres_url: str
) -> None:
    schema.upgrade(postgres_url)
    config = _config(tmp_path, _with_password(postgres_url))

    code, out, err = _invoke(config, str(tmp_path / "chatops.dump"), "--json")

    assert code == 0, err
    assert json.loads(out)["format"] == "pg_dump-custom"
    assert (tmp_path / "chatops.dump").read_bytes().startswith(b"PGDMP")
    assert PASSWORD not in out + err
