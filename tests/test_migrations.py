"""The Alembic migrations, on SQLite and PostgreSQL: they build exactly the schema the models describe."""

from __future__ import annotations

import subprocess
import sys
import time

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, pool

from storage import repository as repo
from storage.db import REPO_ROOT, alembic_config, make_engine, session, upgrade_to_head
from storage.models import Base

APP_TABLES = {"users", "conversations", "messages", "backend_states"}

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
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
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
    _run(engine, "base", downgrade=True)
    assert _tables(engine) == set()
    assert _current(engine) is None
    _run(engine, "head")
    assert _tables(engine) == APP_TABLES
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
