"""Alembic environment: chatops' tables, on the database its caller or $CHATOPS_DATABASE_URL names."""

from __future__ import annotations

import os
from logging.config import fileConfig
from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import URL, Connection

from chatops.adapters.db.tables import Base, UtcDateTime
from chatops.adapters.db.uow import make_engine, normalise_url

__all__: list[str] = []

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None:  # the alembic command line, with alembic.ini
    fileConfig(config.config_file_name)


def render_item(kind: str, item: object, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write plain SQLAlchemy types into new migrations, so they never import chatops."""
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def database_url() -> URL:
    """The URL set by chatops (`attributes`), else alembic.ini's, else $CHATOPS_DATABASE_URL."""
    url = config.attributes.get("sqlalchemy.url") or config.get_main_option("sqlalchemy.url")
    url = url or os.environ.get("CHATOPS_DATABASE_URL")
    if not url:
        raise SystemExit("no database: set CHATOPS_DATABASE_URL (or sqlalchemy.url in alembic.ini)")
    return normalise_url(url)


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite alters most things by copying the table; batch mode does that.
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    url = database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.get_backend_name() == "sqlite",
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:  # chatops.adapters.db.schema.upgrade: its transaction, its commit
        run(given)
        return
    engine = make_engine(database_url())
    try:
        with engine.begin() as connection:
            run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
