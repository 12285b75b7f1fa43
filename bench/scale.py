"""The conversation library at scale: ``python -m bench.scale [--pg-messages N] [--rebuild]``.

One user with 100,000 conversations and 1,000,000 messages (one conversation holds 20,000 of them, the rest
about ten each; words drawn from a Zipf-like vocabulary of 5,000). Times, through the app's own functions:
the sidebar list (50 rows, grouped), opening a conversation (its latest 50 messages; a typical one and the
20,000-message one) and full-text searches for a rare, a medium and a very common word.

SQLite: the database is built once with bulk inserts (triggers off, then the FTS indexes rebuilt and the
triggers put back) into bench/out/scale.db and reused. PostgreSQL: a temporary schema in database ``test``,
filled with COPY, dropped afterwards; ``--pg-messages`` sets its size (default 1,000,000). Each step
stops at its time budget; prints a table.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from storage import library
from storage import repository as repo
from storage.db import make_engine, session
from storage.models import Conversation, utcnow

OUT = Path(__file__).resolve().parent / "out"
SQLITE_PATH = OUT / "scale.db"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CONVERSATIONS = 100_000
MESSAGES = 1_000_000
BIG = 20_000  # messages in the one long conversation
VOCABULARY = 5_000
REPEATS = 30
STEP_BUDGET = 20.0  # seconds of timing per measure at most
TARGETS = {"sidebar": 10.0, "open": 20.0, "search": 100.0}  # ms
RARE, MEDIUM, COMMON = "zanzibar", "w0300", "w0000"  # w0000 is the most frequent word
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def words() -> list[str]:
    return [f"w{i:04d}" for i in range(VOCABULARY)]


def corpus(n_conversations: int, n_messages: int) -> Iterator[tuple[str, str, list[tuple[str, str, datetime]]]]:
    """(conversation id, title, [(role, content, time)]) for every conversation, deterministic."""
    rng = random.Random(7)
    vocabulary = words()
    weights = [1 / (rank + 1) for rank in range(VOCABULARY)]
    pool = rng.choices(vocabulary, weights, k=200_000)  # sampled once; messages are slices of it
    rest = n_messages - BIG
    per = rest / (n_conversations - 1)
    made = 0
    for index in range(n_conversations):
        count = BIG if index == 0 else min(rest - made, int(per * (index)) - int(per * (index - 1)))
        if index:
            made += count
        start = NOW - timedelta(minutes=index * 5)
        messages = []
        for n in range(count):
            offset = rng.randrange(len(pool) - 40)
            text = " ".join(pool[offset:offset + rng.randint(8, 40)])
            if rng.random() < 0.0001:
                text += f" {RARE}"
            messages.append(("user" if n % 2 == 0 else "assistant", text, start - timedelta(seconds=count - n)))
        yield uuid.UUID(int=rng.getrandbits(128)).hex, f"Chat {index} about {pool[index % 1000]}", messages


def _migration_triggers() -> dict[str, str]:
    versions = Path(__file__).resolve().parent.parent / "storage" / "migrations" / "versions"
    path = versions / "0006_conversation_library_and_search.py"
    spec = importlib.util.spec_from_file_location("migration_0006", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.SQLITE_TRIGGERS)


def build_sqlite(path: Path) -> Engine:
    url = f"sqlite:///{path}"
    done = path.with_suffix(".done")
    if path.exists() and done.exists():
        return make_engine(url)
    for stale in (path, done, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    with session(engine) as s:
        owner = repo.local_user(s).id
    triggers = _migration_triggers()
    started = time.monotonic()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for name in triggers:
            cursor.execute(f"DROP TRIGGER {name}")
        for conversation_id, title, messages in corpus(CONVERSATIONS, MESSAGES):
            last = messages[-1][2] if messages else NOW
            cursor.execute(
                "INSERT INTO conversations (id, owner_id, title, provider, model, created_at, updated_at, pinned, "
                "archived) VALUES (?, ?, ?, 'allenai', 'olmo', ?, ?, 0, 0)",
                (conversation_id, owner, title, _text(messages[0][2] if messages else NOW), _text(last)),
            )
            cursor.executemany(
                "INSERT INTO messages (conversation_id, role, content, reasoning, attachments, status, chars, extra, "
                "created_at, updated_at) VALUES (?, ?, ?, '', '[]', 'complete', ?, '{}', ?, ?)",
                [(conversation_id, role, text, len(text), _text(at), _text(at)) for role, text, at in messages],
            )
        print(f"  inserted rows in {time.monotonic() - started:.0f} s; indexing…", file=sys.stderr)
        cursor.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")
        cursor.execute("INSERT INTO conversations_fts(title, conversation_id) SELECT title, id FROM conversations")
        for ddl in triggers.values():
            cursor.execute(ddl)
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    print(f"  SQLite corpus built in {time.monotonic() - started:.0f} s", file=sys.stderr)
    done.write_text("ok")
    return engine


def build_postgres(schema: str, n_messages: int) -> Engine:
    import psycopg

    admin = psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), autocommit=True)
    admin.execute(f"CREATE SCHEMA {schema}")
    admin.close()
    engine = make_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    with session(engine) as s:
        owner = repo.local_user(s).id
    started = time.monotonic()
    n_conversations = max(2, CONVERSATIONS * n_messages // MESSAGES)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("DROP INDEX ix_messages_content_tsv; DROP INDEX ix_conversations_title_tsv")
        conversations = cursor.copy(
            "COPY conversations (id, owner_id, title, provider, model, created_at, updated_at, pinned, archived) "
            "FROM STDIN"
        )
        with conversations as copy:  # two passes over the (deterministic) corpus: COPYs run one at a time
            for conversation_id, title, messages in corpus(n_conversations, n_messages):
                last = messages[-1][2] if messages else NOW
                copy.write_row((conversation_id, owner, title, "allenai", "olmo", messages[0][2] if messages else NOW,
                                last, False, False))
        with cursor.copy(
            "COPY messages (conversation_id, role, content, reasoning, attachments, status, chars, extra, created_at, "
            "updated_at) FROM STDIN"
        ) as copy:
            for conversation_id, _title, messages in corpus(n_conversations, n_messages):
                for role, text, at in messages:
                    copy.write_row((conversation_id, role, text, "", "[]", "complete", len(text), "{}", at, at))
        print(f"  PostgreSQL rows copied in {time.monotonic() - started:.0f} s; indexing…", file=sys.stderr)
        for table, column in (("messages", "content"), ("conversations", "title")):
            cursor.execute(f"CREATE INDEX ix_{table}_{column}_tsv ON {table} USING gin (search_tsv)")
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    print(f"  PostgreSQL corpus built in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return engine


def drop_postgres(schema: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def timed(step: Callable[[], Any]) -> tuple[float, float, int]:
    """Median and worst of up to REPEATS runs (after one warm-up), in ms, within STEP_BUDGET."""
    step()
    samples: list[float] = []
    deadline = time.monotonic() + STEP_BUDGET
    while len(samples) < REPEATS and time.monotonic() < deadline:
        start = time.perf_counter()
        step()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples), len(samples)


def measure(engine: Engine) -> list[tuple[str, str, float, float, int]]:
    with session(engine) as s:
        owner = repo.local_user(s).id
        newest = select(Conversation.id).order_by(Conversation.updated_at.desc())
        big = s.scalars(newest.limit(1)).one()  # the long conversation is the newest one
        typical = s.scalars(newest.offset(CONVERSATIONS // 20).limit(1)).first() or big
    results = []

    def sidebar() -> None:
        with session(engine) as s:
            library.group_by_date(library.sidebar_conversations(s, owner, limit=50), now=utcnow(), tz=UTC)

    def opener(conversation_id: str) -> Callable[[], None]:
        def run() -> None:
            with session(engine) as s:
                repo.recent_messages(s, owner, conversation_id, limit=50)
        return run

    def searcher(query: str) -> Callable[[], None]:
        def run() -> None:
            with session(engine) as s:
                library.search(s, owner, query)
        return run

    steps = [
        ("sidebar", "sidebar list (50, grouped)", sidebar),
        ("open", "open a conversation (latest 50 of ~10)", opener(typical)),
        ("open", f"open a conversation (latest 50 of {BIG:,})", opener(big)),
        ("search", f"search a rare word ({RARE})", searcher(RARE)),
        ("search", f"search a medium word ({MEDIUM})", searcher(MEDIUM)),
        ("search", f"search the commonest word ({COMMON})", searcher(COMMON)),
        ("search", "search two words (w0001 w0002)", searcher("w0001 w0002")),
    ]
    for kind, label, step in steps:
        median, worst, n = timed(step)
        results.append((kind, label, median, worst, n))
    return results


def table(rows: list[tuple[str, str, str, float, float, int]]) -> str:
    lines = ["| database | measure | median ms | worst ms | runs | target ms |", "|---|---|---|---|---|---|"]
    for database, kind, label, median, worst, n in rows:
        flag = "" if median <= TARGETS[kind] else " (over)"
        lines.append(f"| {database} | {label} | {median:.1f}{flag} | {worst:.1f} | {n} | {TARGETS[kind]:.0f} |")
    return "\n".join(lines)


def _exit_on_sigterm() -> None:
    """``kill`` (or ``timeout``) ends the run through ``finally``, so the PostgreSQL schema is dropped."""

    def stop(_signum: int, _frame: object) -> None:
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, stop)


def main() -> None:
    _exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-messages", type=int, default=MESSAGES, help="PostgreSQL corpus size (0: skip)")
    parser.add_argument("--rebuild", action="store_true", help="build the SQLite corpus again")
    args = parser.parse_args()
    if args.rebuild:
        SQLITE_PATH.with_suffix(".done").unlink(missing_ok=True)
    rows = []
    print(f"SQLite: {CONVERSATIONS:,} conversations, {MESSAGES:,} messages ({SQLITE_PATH})", file=sys.stderr)
    engine = build_sqlite(SQLITE_PATH)
    try:
        rows += [("SQLite", *r) for r in measure(engine)]
    finally:
        engine.dispose()
    if args.pg_messages:
        schema = f"chatdeck_scale_{uuid.uuid4().hex[:8]}"
        print(f"PostgreSQL: {args.pg_messages:,} messages in schema {schema}", file=sys.stderr)
        try:
            engine = build_postgres(schema, args.pg_messages)
            try:
                label = "PostgreSQL" + ("" if args.pg_messages == MESSAGES else f" ({args.pg_messages:,} msgs)")
                rows += [(label, *r) for r in measure(engine)]
            finally:
                engine.dispose()
        finally:
            drop_postgres(schema)
    print(table(rows))


if __name__ == "__main__":
    main()
