"""The database schema's version: Alembic migrations run and checked from code."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import URL, inspect, select, text
from sqlalchemy.exc import DBAPIError

import chatops
from chatops.adapters.db.revision import HEAD
from chatops.adapters.db.uow import describe_url, make_engine, normalise_url, store_error
from chatops.errors import SchemaOutOfDate, StoreError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["HEAD", "current", "ensure_current", "head", "migrations_dir", "upgrade"]

# Checking a schema compares the database's alembic_version with HEAD, the newest
# migration, without loading Alembic.
UPGRADE_HINT = "run `chatops db upgrade`"
# replicas starting together on one new PostgreSQL database migrate it one at a time
_MIGRATION_LOCK = 0x63686174  # "chat"


def migrations_dir() -> Path:
    """`migrations/` of a source checkout, else the copy packaged as `chatops/_migrations`.

    Raises:
        StoreError: neither exists (a broken installation).
    """
    package = Path(chatops.__file__).resolve().parent
    checkout = package.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "migrations" / "env.py").is_file():
        return checkout / "migrations"
    if (package / "_migrations" / "env.py").is_file():
        return package / "_migrations"
    raise StoreError(f"the database migrations are missing from {package}")


def _config(url: URL | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if url is not None:
        # An attribute, not a main option: ConfigParser would take `%` in a password
        # for interpolation. migrations/env.py reads it from here.
        config.attributes["sqlalchemy.url"] = url
    return config


def head() -> str:
    """The newest revision among the migrations (read by Alembic)."""
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(_config()).get_current_head()
    if revision is None:
        raise StoreError(f"there are no migrations in {migrations_dir()}")
    return revision


def current(url: str | URL) -> str | None:
    """The revision the database is at; None when it has none (an empty database).

    Raises:
        StoreError: the database cannot be reached.
    """
    sa_url = normalise_url(url)
    engine = make_engine(sa_url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            version = text("version_num")
            rows = connection.execute(select(version).select_from(text("alembic_version")))
            revisions = [str(row[0]) for row in rows]
    except DBAPIError as exc:
        raise store_error(sa_url, exc) from exc
    finally:
        engine.dispose()
    return revisions[0] if len(revisions) == 1 else (",".join(sorted(revisions)) or None)


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Migrate the database to `revision` (the newest by default), in one transaction.

    Raises:
        StoreError: the database cannot be reached or a migration failed.
    """
    from alembic import command
    from alembic.util.exc import CommandError

    sa_url = normalise_url(url)
    engine = make_engine(sa_url)
    config = _config(sa_url)
    try:
        with engine.begin() as connection:
            if sa_url.get_backend_name() == "postgresql":
                # held until this transaction ends: the next replica then finds it done
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                )
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except DBAPIError as exc:
        raise store_error(sa_url, exc) from exc
    except CommandError as exc:
        raise StoreError(f"cannot migrate {describe_url(sa_url)}: {exc}") from exc
    finally:
        engine.dispose()


def ensure_current(url: str | URL, *, create: bool = True) -> None:
    """Check that the database has every migration applied; migrate a new, empty one.

    Raises:
        SchemaOutOfDate: the database is behind (or ahead of this chatops), or empty
            and `create` is false.
        StoreError: the database cannot be reached, or migrating the empty one failed.
    """
    sa_url = normalise_url(url)
    at = current(sa_url)
    if at == HEAD:
        return
    where = describe_url(sa_url)
    if at is None:
        if not create:
            raise SchemaOutOfDate(
                f"the database {where} has no chatops tables yet", hint=UPGRADE_HINT
            )
        upgrade(sa_url)
        return
    from alembic.script import ScriptDirectory

    known = {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}
    if at not in known:
        raise SchemaOutOfDate(
            f"the database {where} is at revision {at}, which this chatops does not know",
            hint="upgrade chatops to the version that migrated it",
        )
    raise SchemaOutOfDate(
        f"the database {where} is at revision {at}, this chatops needs {HEAD}",
        hint=UPGRADE_HINT,
    )
