"""Alembic's entry point: runs migrations on the connection handed over by ``storage.db``.

``storage.db.upgrade_to_head`` passes an open connection in ``config.attributes["connection"]`` and
owns its transaction. Run without one (``python -m storage.migrations ...``), this connects to
``$CHATDECK_DATABASE_URL`` (or the default SQLite file) itself.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from storage.db import database_url
from storage.models import Base, UTCDateTime, is_search_object

target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Write our column types as plain SQLAlchemy types, so migrations do not import the app."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by rebuilding them
        render_item=render_item,
        include_object=is_search_object,  # the FTS tables and tsvector indexes of 0006 are not models
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or database_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            run_migrations(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported; run them against a database.")
main()
