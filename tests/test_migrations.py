"""Start-up: engines and their connection settings, and the Alembic migrations they apply.

The migrations run on SQLite and PostgreSQL and must build exactly the schema the models describe.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, pool

import application
from storage import repository as repo
from storage.db import (
    REPO_ROOT,
    alembic_config,
    database_url,
    get_engine,
    make_engine,
    normalise_url,
    session,
    upgrade_to_head,
)
from storage.models import SEARCH_TABLE_PREFIXES, Base, is_search_object

APP_TABLES = {
    "users", "conversations", "messages", "backend_states", "credentials", "api_tokens", "custom_endpoints",
    "comparisons", "comparison_columns", "comparison_rounds", "comparison_answers", "votes", "backend_health",
    "app_settings", "shares", "presets", "arena_battles", "team_votes", "prompt_sets", "batches", "batch_items",
}

WORKER = """
import sys, time
from storage.db import make_engine
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
make_engine(sys.argv[1]).dispose()
print("ok")
"""


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _current(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _tables(engine: Engine) -> set[str]:
    """The app's tables, without Alembic's and the full-text search tables (see test_search_objects_...)."""
    names = set(inspect(engine).get_table_names()) - {"alembic_version"}
    return {n for n in names if not n.startswith(SEARCH_TABLE_PREFIXES)}


def _search_objects(engine: Engine) -> set[str]:
    if engine.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type IN ('trigger', 'table') AND instr(name, '_fts')"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE right(indexname, 4) = '_tsv' AND schemaname = current_schema()"
    with engine.connect() as connection:
        return set(connection.exec_driver_sql(query).scalars())


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        opts = {"compare_type": True, "include_object": is_search_object}
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, Base.metadata))


def _run(engine: Engine, revision: str, *, downgrade: bool = False) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if downgrade else command.upgrade)(config, revision)


def test_there_is_one_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_upgrade_head_on_an_empty_database(db_url: str) -> None:
    bare = create_engine(db_url, poolclass=pool.NullPool)
    try:
        assert _tables(bare) == set()
        assert _current(bare) is None
    finally:
        bare.dispose()
    engine = make_engine(db_url)  # migrates on creation
    try:
        assert _tables(engine) == APP_TABLES
        assert _current(engine) == _head()
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    assert _differences(engine) == []


def test_downgrade_to_base_and_upgrade_again(engine: Engine) -> None:
    with session(engine) as s:  # some data, so the downgrade has to drop full tables
        owner = repo.local_user(s).id
        conversation = repo.create_conversation(s, owner, provider="sim", model="m")
        repo.add_message(s, owner, conversation.id, role="user", content="hello")
    search = _search_objects(engine)
    # PostgreSQL: two GIN indexes; SQLite: six triggers, messages_fts and four shadow tables, conversations_fts
    # and five (it keeps its own content)
    assert len(search) == (2 if engine.dialect.name == "postgresql" else 6 + 5 + 6)
    _run(engine, "base", downgrade=True)
    assert _tables(engine) == set()
    assert _search_objects(engine) == set()
    assert _current(engine) is None
    _run(engine, "head")
    assert _tables(engine) == APP_TABLES
    assert _search_objects(engine) == search
    assert _current(engine) == _head()
    assert _differences(engine) == []


def test_upgrading_an_up_to_date_database_changes_nothing(engine: Engine) -> None:
    with session(engine) as s:
        owner = repo.local_user(s).id
    upgrade_to_head(engine)
    again = make_engine(str(engine.url.render_as_string(hide_password=False)))
    try:
        assert _current(again) == _head()
        with session(again) as s:
            assert repo.local_user(s).id == owner
    finally:
        again.dispose()


def test_several_processes_starting_at_once_migrate_once(db_url: str) -> None:
    """Separate processes creating engines on a fresh database at the same moment all come up at head.

    Threads would not do: within one process upgrades are serialised by a lock; between processes it is
    PostgreSQL's advisory lock or SQLite's ``BEGIN IMMEDIATE`` that must hold.
    """
    start_at = str(time.time() + 2)  # after every worker has imported, so they collide
    workers = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-c", WORKER, db_url, start_at],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [worker.communicate(timeout=120) for worker in workers]
    for worker, (out, err) in zip(workers, results, strict=True):
        assert worker.returncode == 0, err
        assert out.strip() == "ok"
    engine = create_engine(db_url, poolclass=pool.NullPool)
    try:
        assert _current(engine) == _head()
        assert _tables(engine) == APP_TABLES
    finally:
        engine.dispose()


# --- engines and connections -------------------------------------------------------------------------


def test_sqlite_connections_use_wal_and_foreign_keys(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    finally:
        engine.dispose()


def test_database_url_defaults_to_sqlite_and_normalises_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHATDECK_DATABASE_URL", raising=False)
    assert database_url().startswith("sqlite:///") and database_url().endswith("data/chatdeck.db")
    monkeypatch.setenv("CHATDECK_DATABASE_URL", "postgresql://u:p@db:5432/chat")
    assert database_url() == "postgresql+psycopg://u:p@db:5432/chat"
    assert normalise_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"


def test_get_engine_is_one_per_application(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    monkeypatch.setenv("CHATDECK_DATABASE_URL", sqlite_url)
    engines: list[Engine] = []
    threads = [threading.Thread(target=lambda: engines.append(get_engine())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(e) for e in engines}) == 1
    with session() as s:  # the default engine
        assert repo.local_user(s).external_id == "local"
    other = sqlite_url.replace("sqlite_url.db", "other.db")
    monkeypatch.setenv("CHATDECK_DATABASE_URL", other)
    assert get_engine() is engines[0]  # the application was built for the first URL
    application.reset()  # a new application reads the environment again
    assert get_engine() is not engines[0]
    assert str(get_engine().url) == other
