"""The database schema's version: Alembic migrations run and checked from code."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import URL
from sqlalchemy.exc import DBAPIError

import chatops
from chatops.adapters.db.uow import describe_url, make_engine, normalise_url, store_error
from chatops.errors import SchemaOutOfDate, StoreError

__all__ = ["current", "ensure_current", "head", "migrations_dir", "upgrade"]

UPGRADE_HINT = "run `chatops db upgrade`"


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
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if url is not None:
        # An attribute, not a main option: ConfigParser would take `%` in a password
        # for interpolation. migrations/env.py reads it from here.
        config.attributes["sqlalchemy.url"] = url
    return config


def head() -> str:
    """The newest revision among the migrations."""
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
            return MigrationContext.configure(connection).get_current_revision()
    except DBAPIError as exc:
        raise store_error(sa_url, exc) from exc
    finally:
        engine.dispose()


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Migrate the database to `revision` (the newest by default), in one transaction.

    Raises:
        StoreError: the database cannot be reached or a migration failed.
    """
    sa_url = normalise_url(url)
    engine = make_engine(sa_url)
    config = _config(sa_url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except DBAPIError as exc:
        raise store_error(sa_url, exc) from exc
    except CommandError as exc:
        raise StoreError(f"cannot migrate {describe_url(sa_url)}: {exc}") from exc
    finally:
        engine.dispose()


def ensure_current(url: str | URL) -> None:
    """Check that the database has every migration applied.

    Raises:
        SchemaOutOfDate: the database is empty or behind (or ahead of this chatops).
        StoreError: the database cannot be reached.
    """
    sa_url = normalise_url(url)
    at, wanted = current(sa_url), head()
    if at == wanted:
        return
    where = describe_url(sa_url)
    if at is None:
        raise SchemaOutOfDate(f"the database {where} has no chatops tables yet", hint=UPGRADE_HINT)
    known = {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}
    if at not in known:
        raise SchemaOutOfDate(
            f"the database {where} is at revision {at}, which this chatops does not know",
            hint="upgrade chatops to the version that migrated it",
        )
    raise SchemaOutOfDate(
        f"the database {where} is at revision {at}, this chatops needs {wanted}",
        hint=UPGRADE_HINT,
    )
