"""The final save of a reply is retried until it is stored (runner/saving.py): on a locked SQLite file and
after a lost PostgreSQL connection. The failure is made at the exact moment of the final save (an engine
listener sees its UPDATE), and undone only once the runner has counted a failed attempt: no timing windows."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, event, make_url

from runner import saving
from runner.runner import Runner
from storage import db as storage_db
from storage.db import make_engine
from tests.db_fixtures import POSTGRES_URL
from tests.scripted import ScriptedProvider, words
from tests.sim_fixtures import wait_for
from tests.test_runner import CHUNKS, new_conversation, send, stored


def is_final_update(statement: str, parameters: Any) -> bool:
    """The runner's final save: the UPDATE of the reply that writes its status "complete"."""
    values = parameters.values() if isinstance(parameters, dict) else parameters
    return statement.lstrip().upper().startswith("UPDATE MESSAGES") and "complete" in list(values or ())


@pytest.fixture
def quick_sqlite(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """An SQLite engine that gives up waiting on a lock after 0.1 s (so a held lock fails a save quickly)."""
    monkeypatch.setattr(storage_db, "SQLITE_BUSY_TIMEOUT_MS", 100)
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


def runner_for(engine: Engine) -> Runner:
    """A runner whose every reply is CHUNKS (the final save is what these tests are about)."""
    return Runner(engine, flush_interval=0.05, provider_factory=ScriptedProvider(words(CHUNKS)).factory)


def test_a_reply_finished_while_sqlite_is_locked_is_stored_whole_once_the_lock_goes(
    quick_sqlite: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    path = make_url(str(quick_sqlite.url)).database
    holder = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    locked = threading.Event()

    def lock_before_final_save(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if not locked.is_set() and is_final_update(statement, parameters):
            holder.execute("BEGIN IMMEDIATE")  # another connection takes the write lock and keeps it
            locked.set()

    event.listen(quick_sqlite, "before_cursor_execute", lock_before_final_save)
    runner = runner_for(quick_sqlite)
    try:
        caplog.set_level(logging.WARNING, logger="runner.saving")
        owner, cid = new_conversation(quick_sqlite)
        run = send(runner, owner, cid, "Count for me")
        assert wait_for(lambda: run.failed_saves >= 2, 20)  # the save failed, and failed again on a retry
        assert not run.saved.is_set()
        reply = stored(quick_sqlite, owner, cid)[-1]  # readers still read (WAL): the reply is not yet final
        assert reply.status == "streaming"
        assert any("database is locked" in r.getMessage() and f"reply {run.message_id}" in r.getMessage()
                   for r in caplog.records)
        assert run.message_id in runner._writing()  # still touched: no sweep marks it interrupted meanwhile

        holder.execute("ROLLBACK")  # the lock goes
        assert run.saved.wait(20)
        reply = stored(quick_sqlite, owner, cid)[-1]
        assert (reply.status, reply.content, reply.error) == ("complete", "".join(CHUNKS), None)
        assert run.message_id not in runner._writing()
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        runner.shutdown()
        holder.close()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_reply_whose_final_save_loses_its_postgresql_connection_is_stored_on_a_new_one(db_url: str) -> None:
    engine = make_engine(db_url)
    cut = threading.Event()

    def cut_before_final_save(conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if not cut.is_set() and is_final_update(statement, parameters):
            pid = conn.connection.dbapi_connection.info.backend_pid
            with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:  # the server drops this connection
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            cut.set()

    event.listen(engine, "before_cursor_execute", cut_before_final_save)
    runner = runner_for(engine)
    try:
        owner, cid = new_conversation(engine)
        run = send(runner, owner, cid, "Count for me")
        assert run.saved.wait(20)
        assert cut.is_set() and run.failed_saves == 1
        reply = stored(engine, owner, cid)[-1]
        assert (reply.status, reply.content, reply.error) == ("complete", "".join(CHUNKS), None)
    finally:
        runner.shutdown()
        engine.dispose()


def test_a_write_whose_task_is_cancelled_is_waited_for_to_its_end() -> None:
    # A shutdown cancels the runner's tasks, then disposes of the engine (a test then drops its schema): a write
    # still running in its thread would hold its connection and locks meanwhile. The cancellation waits for it.
    started, release, ended = threading.Event(), threading.Event(), threading.Event()

    def write() -> int:
        started.set()
        release.wait(10)
        ended.set()
        return 1

    async def cancel_during_the_write() -> None:
        task = asyncio.create_task(saving.write_in_thread(write))
        assert await asyncio.to_thread(started.wait, 10)
        task.cancel()
        await asyncio.sleep(0.1)
        assert not task.done(), "the task let go while its write went on"
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert ended.is_set()

    asyncio.run(cancel_during_the_write())
