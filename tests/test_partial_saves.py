"""The runner's partial saves: every running reply's text in one statement (storage/liveness.py), never
over a reply already saved as finished; on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Engine, event

from runner.runner import FLUSH_MAX, Runner, flush_pause
from storage import liveness
from storage import repository as repo
from storage.db import session
from tests.scripted import ScriptedProvider, words
from tests.sim_fixtures import wait_for
from tests.test_runner import CHUNKS, new_conversation, send, stored


def test_partials_write_streaming_replies_and_never_a_finished_one(engine: Engine) -> None:
    owner, cid = new_conversation(engine)
    with session(engine) as s:
        one = repo.add_message(s, owner, cid, role="assistant", content="", status="streaming")
        two = repo.add_message(s, owner, cid, role="assistant", content="", status="streaming")
        done = repo.add_message(s, owner, cid, role="assistant", content="the whole answer", status="complete")
    partial = {"conversation_id": cid, "reasoning": "", "ttft_ms": 12, "extra": {"sources": []}}
    with session(engine) as s:
        liveness.save_streaming(s, [{**partial, "id": one.id, "content": "first so far"},
                                    {**partial, "id": two.id, "content": "second\x00 so far"},
                                    {**partial, "id": done.id, "content": "an older partial"}])
    by_id = {m.id: m for m in stored(engine, owner, cid)}
    assert (by_id[one.id].content, by_id[one.id].chars, by_id[one.id].status) == ("first so far", 12, "streaming")
    assert (by_id[two.id].content, by_id[two.id].ttft_ms) == ("second so far", 12)  # NUL dropped, as everywhere
    assert (by_id[done.id].content, by_id[done.id].status) == ("the whole answer", "complete")


def test_replies_streaming_at_once_share_one_partial_statement(engine: Engine) -> None:
    scripted = ScriptedProvider(words(CHUNKS * 3), delay=0.05)  # three seconds each
    statements: list[int] = []

    def count(_conn: object, _cursor: object, statement: str, parameters: object, _ctx: object, many: bool) -> None:
        if statement.lstrip().upper().startswith("UPDATE MESSAGES") and many:
            statements.append(len(parameters))  # type: ignore[arg-type]

    event.listen(engine, "before_cursor_execute", count)
    # Both replies gain text between any two partial saves.
    runner = Runner(engine, flush_interval=0.5, provider_factory=scripted.factory)
    try:
        first, second = new_conversation(engine), new_conversation(engine)
        runs = [send(runner, *first, "One"), send(runner, *second, "Two")]
        assert wait_for(lambda: 2 in statements, 10)  # both replies in one executemany
        for run in runs:
            assert run.saved.wait(10)
    finally:
        runner.shutdown()
    for owner, cid in (first, second):
        assert stored(engine, owner, cid)[-1].content == "".join(CHUNKS * 3)


def test_the_pause_between_partial_saves_grows_with_the_replies_streaming_up_to_a_second() -> None:
    assert flush_pause(0.25, 0) == flush_pause(0.25, 1) == flush_pause(0.25, 25) == 0.25  # a few: as configured
    assert flush_pause(0.25, 50) == 0.5  # the statement rewrites every reply's text: fewer of them with many
    assert flush_pause(0.25, 100) == flush_pause(0.25, 1000) == FLUSH_MAX == 1.0  # a crash loses at most a second
    assert flush_pause(2.0, 1000) == 2.0  # a longer configured pause is kept
