"""Connecting to the database: the URL, engines, migrations on start, and sessions.

Typical use::

    from storage import repository as repo
    from storage.db import session

    with session() as s:  # commits on success, rolls back on error
        user = repo.local_user(s)
        conversations = repo.list_conversations(s, user.id)

``session()`` uses the application's engine (application.py) for ``CHATDECK_DATABASE_URL`` (default: a SQLite
file in ``data/``). Creating an engine brings the schema up to date (Alembic ``upgrade head``).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Connection, Engine, create_engine, event, func, make_url, select
from sqlalchemy.orm import Session

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = REPO_ROOT / "data" / "chatdeck.db"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
ENV_VAR = "CHATDECK_DATABASE_URL"

SQLITE_BUSY_TIMEOUT_MS = 5000
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600  # a new data directory and SQLite file: their owner only
APPLICATION_NAME = "chatdeck"  # how Chatdeck's connections show in PostgreSQL's pg_stat_activity
CONNECT_TIMEOUT = 5  # seconds to open a PostgreSQL connection before giving up
PING_TIMEOUT = 2.0  # seconds the health check's query may take
# Any constant will do, as long as every Chatdeck process uses the same one.
MIGRATION_LOCK_KEY = zlib.crc32(b"chatdeck schema migrations")

log = logging.getLogger(__name__)

_migration_lock = threading.Lock()  # one upgrade at a time within this process


def database_url(env: Mapping[str, str] | None = None) -> str:
    """The configured database URL: ``CHATDECK_DATABASE_URL`` in ``env`` (default: the environment), else
    the SQLite file ``data/chatdeck.db``.

    ``postgresql://`` (and ``postgres://``) URLs are given the psycopg 3 driver.
    """
    url = (os.environ if env is None else env).get(ENV_VAR, "").strip()
    if not url:
        DEFAULT_SQLITE_PATH.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        return f"sqlite:///{DEFAULT_SQLITE_PATH}"
    return normalise_url(url)


def normalise_url(url: str) -> str:
    """Give a bare PostgreSQL URL the psycopg 3 driver; leave anything else alone."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def make_engine(url: str | None = None) -> Engine:
    """A new engine for ``url`` (default :func:`database_url`), with the schema migrated to head.

    SQLite: WAL journal, foreign keys on, a busy timeout, usable from any thread.
    PostgreSQL: a small pool whose connections are checked before use (``pool_pre_ping``), so after a
    database restart the dead ones are replaced on the next checkout and the app carries on; a connect
    timeout; ``application_name`` "chatdeck" (see :func:`postgres_connect_args`).
    Prefer :func:`get_engine` in the app; this is for tests and tools that want their own engine.
    """
    url = normalise_url(url or database_url())
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            create_private_file(Path(parsed.database))
        engine = create_engine(
            url,
            # The runner thread writes and Streamlit's script threads read; a pooled connection is used
            # by one thread at a time, so sharing it between threads is safe.
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        event.listen(engine, "connect", _configure_sqlite_connection)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, pool_recycle=1800,
                               connect_args=postgres_connect_args(parsed))
    event.listen(engine, "before_cursor_execute", _without_nul, retval=True)
    try:
        upgrade_to_head(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def create_private_file(path: Path) -> None:
    """Create the SQLite file (and missing directories) readable by its owner only, before SQLite opens it.

    Conversations and backend logins live in it. SQLite gives the ``-wal`` and ``-shm`` files it creates
    beside the database the database file's own permissions, so they are owner-only too. An existing
    file keeps the permissions an admin gave it; a warning says when others can read it.
    """
    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            log.warning("the database %s can be read by other users of this machine (chmod 600 it)", path)


def postgres_connect_args(url: URL) -> dict[str, Any]:
    """libpq settings for Chatdeck's connections, where the URL does not set them itself.

    ``application_name`` lets operators (and tests) find Chatdeck's connections in ``pg_stat_activity``;
    ``connect_timeout`` makes an unreachable server an error within seconds instead of a hang.
    """
    defaults: dict[str, Any] = {"application_name": APPLICATION_NAME, "connect_timeout": CONNECT_TIMEOUT}
    return {key: value for key, value in defaults.items() if key not in url.query}


def ping(engine: Engine, timeout: float = PING_TIMEOUT) -> None:
    """Ask the database the cheapest question (``SELECT 1``); raises if it cannot answer.

    A pooled connection the server dropped is replaced first (pre-ping). On PostgreSQL the query may
    take at most ``timeout`` seconds; opening a connection at most :data:`CONNECT_TIMEOUT`. Callers that
    must answer quickly whatever happens (``GET /api/health``) also bound the call itself.
    """
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, round(timeout * 1000))}")
        connection.exec_driver_sql("SELECT 1").scalar_one()
        connection.rollback()


def _without_nul(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                 _executemany: bool) -> tuple[str, Any]:
    """Every text value written or compared, with NUL characters removed: the one place where text
    from anywhere (chat input, the REST API, imports, a backend's answer) passes on its way to storage.

    PostgreSQL refuses NUL in text ("A string literal cannot contain NUL"), which would lose a whole
    message or answer over an invisible character; SQLite keeps it. Stripping it here makes both
    databases store the same text. Parameters without a NUL pass through untouched (no copy).

    The parameters are cleaned by their shape, not by the ``executemany`` flag: a batched ``INSERT`` of
    several rows (SQLAlchemy's "insertmanyvalues", as a send's prompt and reply) comes flagged as many but
    as one flat set of values.
    """
    return statement, _clean_parameters(parameters)


def _clean_parameters(value: Any) -> Any:
    """``value`` (a parameter, a set of them, or a list of sets) with NUL removed from every string in it;
    the same object when there was none (the common case: checked before anything is copied)."""
    return _strip_nul(value) if _has_nul(value) else value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def _strip_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {k: _strip_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_strip_nul(v) for v in value)
    return value


def _configure_sqlite_connection(dbapi_connection: Any, _connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")  # safe with WAL, and much faster for frequent flushes
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """Put a new database file in WAL mode (the mode is stored in the file, so this happens once).

    Switching needs the file to itself, and SQLite answers "database is locked" at once, without
    waiting on the busy timeout, when another process is in it: so retry for a while. That happens
    only when several processes open a brand-new file at the same moment.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def alembic_config() -> Config:
    """Alembic's configuration, built in code (there is no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Apply every pending migration, safely when several processes start at once.

    PostgreSQL: a transaction-scoped advisory lock makes concurrent starters wait for each other; the
    later ones then find the schema current. SQLite: the upgrade runs in one ``BEGIN IMMEDIATE``
    transaction (SQLite has transactional DDL), which also serialises writers; foreign keys are switched
    off meanwhile because batch migrations rebuild tables, and dropping a parent table would otherwise
    cascade-delete its children.
    """
    config = alembic_config()
    with _migration_lock:
        if engine.dialect.name == "sqlite":
            _upgrade_sqlite(engine, config)
            return
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")


def _upgrade_sqlite(engine: Engine, config: Config) -> None:
    with engine.connect() as connection:
        # PRAGMA foreign_keys is a no-op inside a transaction, so it is switched before BEGIN.
        connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise RuntimeError(f"a migration left rows with broken foreign keys: {problems[:5]}")
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.exec_driver_sql("PRAGMA foreign_keys = ON")
            connection.commit()


def get_engine() -> Engine:
    """The current application's engine (application.py): :func:`database_url`'s, created and migrated on first use."""
    from application import current

    return current().engine


@contextmanager
def session(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits when the block ends, rolls back if it raises, and always closes.

    Objects stay readable after the block (``expire_on_commit=False``), but relationships that were
    not loaded inside it cannot be loaded afterwards.
    """
    s = Session(engine if engine is not None else get_engine(), expire_on_commit=False)
    try:
        yield s
        s.commit()
    except BaseException:
        s.rollback()
        raise
    finally:
        s.close()


@contextmanager
def reading(engine: Engine | None = None) -> Iterator[Connection]:
    """A connection for reads only, for what every page run reads (issue 16: a rerun is a hot path).

    The repository's read functions take it as well as a session (``storage.repository.Reader``): Core
    selects of the columns drawn, as rows, with no ORM session to begin, track and commit: the five reads of
    a chat-page click took 4.3 ms this way against 10.2 as objects in sessions. Nothing is written or
    committed; the connection goes back to the pool when the block ends.
    """
    with (engine if engine is not None else get_engine()).connect() as connection:
        yield connection
