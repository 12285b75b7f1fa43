"""Helpers for team-deployment tests: a fresh PostgreSQL database per test, and cutting its connections.

Plain functions (not a plugin): tests/test_db_restart.py and tests/test_replicas.py wrap them in fixtures.
The database is created from the admin connection to ``test`` (tests/db_fixtures.py), so without a
PostgreSQL server these tests skip with the reason, or fail where PostgreSQL is required.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from psycopg import sql
from sqlalchemy import make_url

from storage.db import APPLICATION_NAME
from tests.db_fixtures import POSTGRES_URL, _admin_connection


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database; yields its URL (``postgresql://...``) and drops it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with _admin_connection() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin_connection() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def database_name(url: str) -> str:
    name = make_url(url).database
    assert name
    return name


def chatdeck_connections(url: str) -> int:
    """How many connections Chatdeck's processes hold to the database at ``url``."""
    with _admin_connection() as admin:
        row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
                            (database_name(url), APPLICATION_NAME)).fetchone()
    assert row is not None
    return int(row[0])


def terminate_connections(url: str) -> int:
    """End every server-side connection to the database at ``url`` (as a database restart would).

    Returns how many of them were Chatdeck's (``application_name`` "chatdeck").
    """
    with _admin_connection() as admin:
        rows = admin.execute(
            "SELECT application_name, pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()", (database_name(url),)).fetchall()
    return sum(1 for application_name, ended in rows if ended and application_name == APPLICATION_NAME)
