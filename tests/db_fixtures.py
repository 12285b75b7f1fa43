"""Database fixtures (a pytest plugin loaded by tests/conftest.py).

- ``db_url``: a URL to an empty database, once for SQLite and once for PostgreSQL (parametrised).
  PostgreSQL gets a fresh schema in database ``test`` on 127.0.0.1:5432, dropped afterwards; the
  schema is chosen with ``options=-csearch_path=<schema>``, so Alembic's version table lands there too.
  If the server is unreachable the PostgreSQL variant is skipped, unless CHATDECK_REQUIRE_POSTGRES=1 or
  CI=true, where it fails. CHATDECK_TEST_POSTGRES_URL points at another server or database.
- ``engine``: ``make_engine(db_url)`` (schema migrated to head), disposed afterwards.
- ``db``: a session factory for that engine: ``with db() as s: ...`` commits at the end of the block.
- ``sqlite_url``: a URL to an empty SQLite file, not parametrised, for tests that just need a database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.orm import Session

import application
from storage.db import make_engine, session

POSTGRES_URL = os.environ.get("CHATDECK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

SessionFactory = Callable[[], AbstractContextManager[Session]]


def _postgres_required() -> bool:
    return os.environ.get("CHATDECK_REQUIRE_POSTGRES") == "1" or os.environ.get("CI", "").lower() == "true"


def _admin_connection() -> psycopg.Connection:
    try:
        return psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}".strip()
        if _postgres_required():
            pytest.fail(f"{reason} (required: CHATDECK_REQUIRE_POSTGRES=1 or CI=true)")
        pytest.skip(reason)


def _sqlite_url(directory: Path, name: str) -> str:
    return f"sqlite:///{directory / name}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database (no tables): SQLite in tmp_path, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield _sqlite_url(tmp_path, "db_url.db")
        application.reset()
        return

    schema = f"chatdeck_test_{uuid.uuid4().hex[:12]}"
    with _admin_connection() as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    base = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        application.reset()  # in case the test went through get_engine()
        with _admin_connection() as admin:
            admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine for ``db_url`` with the schema migrated to head."""
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def db(engine: Engine) -> SessionFactory:
    """``with db() as s:`` opens a session on ``engine`` that commits at the end of the block."""
    return partial(session, engine)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """A URL to an empty SQLite file in tmp_path (``make_engine(sqlite_url)`` migrates it)."""
    yield _sqlite_url(tmp_path, "sqlite_url.db")
    application.reset()
