"""The SQLite database is created readable by its owner only: the data directory (0700), the database
file and the ``-wal`` and ``-shm`` files SQLite puts beside it (0600), whatever the process's umask
would otherwise give (the usual 022 makes files readable by everyone on the machine).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import repository as repo
from storage.db import make_engine, session


@pytest.fixture
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("usual_umask")
def test_a_new_database_and_its_directory_are_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "data" / "chatdeck.db"
    engine = make_engine(f"sqlite:///{database}")
    try:
        with session(engine) as s:  # a write, so the WAL and its index exist
            repo.local_user(s)
        assert _mode(database.parent) == 0o700
        files = [database, database.with_name("chatdeck.db-wal"), database.with_name("chatdeck.db-shm")]
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        engine.dispose()


@pytest.mark.usefixtures("usual_umask")
def test_an_existing_database_readable_by_others_is_kept_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "shared.db"
    database.touch(mode=0o644)
    database.chmod(0o644)
    engine = make_engine(f"sqlite:///{database}")
    engine.dispose()
    assert _mode(database) == 0o644  # the admin's choice stands
    assert any("can be read by other users" in r.getMessage() for r in caplog.records)
