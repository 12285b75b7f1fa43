"""The generation runner, end to end: real storage (SQLite and PostgreSQL); a scripted provider (tests/scripted.py)
where the test is about the runner, the Ai2 simulator on loopback where it is about what a backend sends."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import event, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from providers.errors import UnavailableError
from providers.events import (
    AnsweredBy,
    Drift,
    Finished,
    Image,
    Notice,
    ReasoningDelta,
    Source,
    Sources,
    StateUpdate,
    TextDelta,
    Title,
    from_record,
    to_record,
)
from runner.accumulator import Accumulator
from runner.liveness import STALE_AFTER
from runner.runner import Run, Runner
from storage import backend_states, liveness
from storage import repository as repo
from storage.db import session
from storage.models import Message, utcnow
from tests.hostile_images import png_with_text
from tests.scripted import ScriptedProvider, words
from tests.sim_fixtures import SimHandle, wait_for

CHUNKS = [f"word{i} " for i in range(20)]


def new_conversation(engine: Engine) -> tuple[int, str]:
    with session(engine) as s:
        owner = repo.local_user(s).id
        conversation = repo.create_conversation(s, owner, provider="allenai", model="olmo-3.1-32b-instruct")
    return owner, conversation.id


def send(runner: Runner, owner: int, conversation_id: str, prompt: str) -> Run:
    return runner.start(
        owner_id=owner, conversation_id=conversation_id, provider="allenai",
        model="olmo-3.1-32b-instruct", prompt=prompt,
    )


def stored(engine: Engine, owner: int, conversation_id: str) -> list[repo.Message]:
    with session(engine) as s:
        return repo.recent_messages(s, owner, conversation_id, limit=100)


def test_reply_is_streamed_saved_and_timed(
    scripted_runner: Runner, engine: Engine, scripted: ScriptedProvider
) -> None:
    scripted.events = words(CHUNKS)
    owner, cid = new_conversation(engine)
    run = send(scripted_runner, owner, cid, "Count for me")
    assert run.saved.wait(10)
    user, reply = stored(engine, owner, cid)
    assert (user.role, user.content, user.status) == ("user", "Count for me", "complete")
    assert (reply.role, reply.content, reply.status) == ("assistant", "".join(CHUNKS), "complete")
    assert reply.ttft_ms is not None and reply.total_ms is not None and reply.ttft_ms <= reply.total_ms
    assert reply.chars == len("".join(CHUNKS))
    assert isinstance(run.events[-1], Finished)
    (request,) = scripted.requests
    assert request.model == "olmo-3.1-32b-instruct" and request.messages[-1].content == "Count for me"


def test_a_recorded_run_replays_through_the_accumulator_to_the_stored_message(
    scripted_runner: Runner, engine: Engine, scripted: ScriptedProvider
) -> None:
    scripted.events = [
        ReasoningDelta("Let me think.", status="thinking"), TextDelta("Hello "), Drift("a line that is not JSON", "{x"),
        Sources((Source("https://a.example", "A"),)), Title("Greeting"), Notice("A new chat was started."),
        Image("https://img.example/1.png", "image/png", "a dot", png_with_text()), AnsweredBy("m-7b", "auto"),
        TextDelta("world"), StateUpdate({"parent": "msg_9", "ids": [1, 2]}),
    ]
    scripted.failure = UnavailableError("Ai2 Playground closed the connection mid-answer")
    owner, cid = new_conversation(engine)
    run = send(scripted_runner, owner, cid, "Hi")
    assert run.saved.wait(10)
    recorded = json.dumps([to_record(event) for event in run.events])  # a run, as data

    replayed = Accumulator()
    for record in json.loads(recorded):
        replayed.apply(from_record(record))
    fields = replayed.fields()
    reply = stored(engine, owner, cid)[-1]
    assert (reply.content, reply.reasoning, reply.status, reply.finish_reason, reply.error) == (
        fields["content"], fields["reasoning"], fields["status"], fields["finish_reason"], fields["error"])
    assert reply.extra == {**run.base_extra, **fields["extra"], "backend_state": replayed.state}
    assert reply.extra["images"][0]["data_b64"] and reply.error == "Ai2 Playground closed the connection mid-answer"


def test_user_message_is_saved_before_the_backend_answers(
    scripted_runner: Runner, engine: Engine, scripted: ScriptedProvider
) -> None:
    gate = threading.Event()
    scripted.events, scripted.gate = words(["Yes."]), gate
    owner, cid = new_conversation(engine)
    run = send(scripted_runner, owner, cid, "Saved first?")
    assert scripted.started.wait(5)
    user, reply = stored(engine, owner, cid)  # the backend has not sent a byte yet
    assert user.content == "Saved first?" and reply.status == "streaming" and reply.content == ""
    gate.set()
    assert run.saved.wait(10)
    assert stored(engine, owner, cid)[-1].content == "Yes."


def test_partial_text_reaches_storage_while_streaming(
    scripted_runner: Runner, engine: Engine, scripted: ScriptedProvider
) -> None:
    scripted.events, scripted.delay = words(CHUNKS), 0.05
    owner, cid = new_conversation(engine)
    run = send(scripted_runner, owner, cid, "Slowly")
    seen: set[str] = set()
    while not run.saved.is_set():
        reply = stored(engine, owner, cid)[-1]
        if reply.status == "streaming":
            seen.add(reply.content)
        time.sleep(0.02)
    full = "".join(CHUNKS)
    partials = {text for text in seen if text and text != full}
    assert partials, "no partial text was flushed while the reply streamed"
    assert all(full.startswith(text) for text in seen)


def test_any_number_of_readers_tail_from_any_point(
    scripted_runner: Runner, engine: Engine, scripted: ScriptedProvider
) -> None:
    scripted.events, scripted.delay = words(CHUNKS), 0.02
    owner, cid = new_conversation(engine)
    run = send(scripted_runner, owner, cid, "Tail me")

    def read_all(start_after: float) -> str:
        time.sleep(start_after)
        seq, text, done = 0, "", False
        while not done:
            events, done = run.wait(seq, 1.0)
            seq += len(events)
            text += "".join(e.text for e in events if isinstance(e, TextDelta))
        return text

    assert read_all(0) == read_all(0.1) == "".join(CHUNKS)
    events, done = run.wait(len(run.events), 0.01)
    assert done and events == []


def test_follow_up_sends_only_the_new_message_with_the_saved_parent(
    runner: Runner, engine: Engine, allenai_sim: SimHandle
) -> None:
    owner, cid = new_conversation(engine)
    assert send(runner, owner, cid, "First question").saved.wait(10)
    with session(engine) as s:
        state = backend_states.get_backend_state(s, cid, "allenai", "olmo-3.1-32b-instruct")
    assert state["parent"].startswith("msg_") and state["anonymous_user_id"]
    assert send(runner, owner, cid, "Second question").saved.wait(10)
    first, second = allenai_sim.sim.chat_requests()
    assert "parent" not in first.form
    assert second.form["parent"] == state["parent"]
    assert second.form["content"] == "Second question"
    assert second.headers["x-anonymous-user-id"] == first.headers["x-anonymous-user-id"]
    assert [m.status for m in stored(engine, owner, cid)] == ["complete"] * 4


def test_backend_failure_keeps_the_partial_answer_and_the_prompt(
    scripted_runner: Runner, engine: Engine, scripted: ScriptedProvider
) -> None:
    scripted.events = words(CHUNKS[:5])
    scripted.failure = UnavailableError("Ai2 Playground closed the connection mid-answer")
    owner, cid = new_conversation(engine)
    assert send(scripted_runner, owner, cid, "Cut me off").saved.wait(10)
    user, reply = stored(engine, owner, cid)
    assert user.content == "Cut me off"
    assert reply.status == "error" and reply.content == "".join(CHUNKS[:5])
    assert reply.error == "Ai2 Playground closed the connection mid-answer"


def test_http_error_is_shown_with_the_servers_words(runner: Runner, engine: Engine, allenai_sim: SimHandle) -> None:
    from simulators.common import ForcedError

    allenai_sim.sim.script.http_error = ForcedError(429, "Too many requests from you", headers={"Retry-After": "30"})
    owner, cid = new_conversation(engine)
    assert send(runner, owner, cid, "Hello?").saved.wait(10)
    reply = stored(engine, owner, cid)[-1]
    assert reply.status == "error" and "429" in reply.error and "30" in reply.error


def test_cancel_closes_the_backend_stream_and_keeps_the_text(
    scripted_runner: Runner, engine: Engine, scripted: ScriptedProvider
) -> None:
    scripted.events, scripted.delay = words(CHUNKS * 10), 0.02
    owner, cid = new_conversation(engine)
    run = send(scripted_runner, owner, cid, "Long one")
    assert wait_for(lambda: len(run.turn.text) > 20, 5)
    assert scripted_runner.cancel(run.message_id)
    assert run.saved.wait(10)
    reply = stored(engine, owner, cid)[-1]
    assert reply.status == "cancelled" and 20 <= len(reply.content) < len("".join(CHUNKS * 10))
    assert scripted.closed == 1, "the provider's stream was not closed"
    assert not scripted_runner.cancel(run.message_id)  # already finished


def age(engine: Engine, message_id: int, seconds: float) -> None:
    """Make a message look last written ``seconds`` ago."""
    with session(engine) as s:
        s.execute(update(Message).where(Message.id == message_id)
                  .values(updated_at=utcnow() - timedelta(seconds=seconds)))


def test_replies_cut_off_by_a_restart_are_marked_at_start(engine: Engine) -> None:
    owner, cid = new_conversation(engine)
    with session(engine) as s:
        message = repo.add_message(s, owner, cid, role="assistant", content="half", status="streaming")
    age(engine, message.id, 2 * STALE_AFTER)  # the process writing it died a while ago
    Runner(engine).shutdown()
    again = message_of(engine, owner, cid, message.id)
    assert again.status == "partial" and again.content == "half"
    assert again.error == repo.INTERRUPTED_ERROR


def test_shutdown_saves_running_replies_as_interrupted(engine: Engine) -> None:
    scripted = ScriptedProvider(words(CHUNKS * 10), delay=0.02)
    r = Runner(engine, flush_interval=0.05, provider_factory=scripted.factory)
    owner, cid = new_conversation(engine)
    run = send(r, owner, cid, "Going down")
    assert wait_for(lambda: len(run.turn.text) > 10, 5)
    r.shutdown()
    reply = stored(engine, owner, cid)[-1]
    assert reply.status == "partial" and reply.content and "Interrupted" in (reply.error or "")


# --- several processes on one database: heartbeat and sweep ------------------------------------------

QUICK = {"heartbeat": 0.1, "stale_after": 0.5, "sweep_interval": 0.1}  # runner/liveness.py's constants, shrunk


def message_of(engine: Engine, owner: int, conversation_id: str, message_id: int) -> repo.Message:
    with session(engine) as s:
        (message,) = repo.messages_from(s, owner, conversation_id, message_id, limit=1)
    assert message.id == message_id
    return message


def test_a_second_runner_starting_leaves_the_first_ones_reply_alone(engine: Engine) -> None:
    scripted = ScriptedProvider(words(CHUNKS), delay=0.05)
    first = Runner(engine, flush_interval=0.05, provider_factory=scripted.factory)
    try:
        owner, cid = new_conversation(engine)
        run = send(first, owner, cid, "Keep going")
        assert wait_for(lambda: len(run.turn.text) > 0, 5)
        second = Runner(engine, flush_interval=0.05, provider_factory=scripted.factory)  # another replica
        try:
            assert not run.done
            assert run.saved.wait(10)
        finally:
            second.shutdown()
        reply = stored(engine, owner, cid)[-1]
        assert (reply.status, reply.content, reply.error) == ("complete", "".join(CHUNKS), None)
    finally:
        first.shutdown()


def test_the_sweep_interrupts_replies_nobody_writes_any_more(engine: Engine) -> None:
    owner, cid = new_conversation(engine)
    with session(engine) as s:
        old = repo.add_message(s, owner, cid, role="assistant", content="old half", status="streaming")
        recent = repo.add_message(s, owner, cid, role="assistant", content="recent half", status="streaming")
        done = repo.add_message(s, owner, cid, role="assistant", content="done", status="complete")
    age(engine, old.id, 10)
    age(engine, done.id, 10)
    r = Runner(engine, **QUICK)
    try:
        assert message_of(engine, owner, cid, old.id).status == "partial"  # the sweep at start
        assert message_of(engine, owner, cid, recent.id).status == "streaming"  # written 0.5 s ago at most: spared
        # Nobody touches it: a later sweep interrupts it too.
        assert wait_for(lambda: message_of(engine, owner, cid, recent.id).status == "partial", 5)
    finally:
        r.shutdown()
    for message, text in ((old, "old half"), (recent, "recent half")):
        again = message_of(engine, owner, cid, message.id)
        assert (again.status, again.content, again.error) == ("partial", text, repo.INTERRUPTED_ERROR)
    untouched = message_of(engine, owner, cid, done.id)
    assert (untouched.status, untouched.error) == ("complete", None)


def test_the_heartbeat_keeps_a_silent_reply_alive(engine: Engine) -> None:
    # No token for three times stale_after (a slow reasoning model).
    scripted = ScriptedProvider(words(["At ", "last."]), first_delay=1.5)
    writer = Runner(engine, flush_interval=0.05, provider_factory=scripted.factory, **QUICK)
    sweeper = Runner(engine, provider_factory=scripted.factory, **QUICK)  # another replica, sweeping every 0.1 s
    try:
        owner, cid = new_conversation(engine)
        run = send(writer, owner, cid, "Think hard")
        statuses: set[str] = set()
        touches: set[object] = set()
        while not run.saved.is_set():
            reply = message_of(engine, owner, cid, run.message_id)
            statuses.add(reply.status)
            if not run.events:
                touches.add(reply.updated_at)
            time.sleep(0.05)
        reply = message_of(engine, owner, cid, run.message_id)
        assert (reply.status, reply.content, reply.error) == ("complete", "At last.", None)
        assert "partial" not in statuses
        assert len(touches) >= 5, "updated_at did not move while no token arrived"
    finally:
        sweeper.shutdown()
        writer.shutdown()


def test_a_runner_never_sweeps_its_own_replies(
    scripted_runner: Runner, engine: Engine, scripted: ScriptedProvider
) -> None:
    gate = threading.Event()
    scripted.events, scripted.gate = words(["Done."]), gate
    owner, cid = new_conversation(engine)
    run = send(scripted_runner, owner, cid, "Mine")
    assert scripted.started.wait(5)
    age(engine, run.message_id, 2 * STALE_AFTER)  # as if its heartbeat had been held up
    assert scripted_runner.liveness.sweep() == 0
    assert message_of(engine, owner, cid, run.message_id).status == "streaming"
    gate.set()
    assert run.saved.wait(10)
    reply = message_of(engine, owner, cid, run.message_id)
    assert (reply.status, reply.error) == ("complete", None)


def test_the_sweep_reads_the_partial_index_of_streaming_replies(engine: Engine) -> None:
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            captured.append((statement, parameters))

    with engine.connect() as connection:
        event.listen(connection, "before_cursor_execute", capture)
        with Session(connection) as s:
            liveness.mark_interrupted(s, stale_after=timedelta(seconds=STALE_AFTER), spare=[1, 2])
        event.remove(connection, "before_cursor_execute", capture)
        (statement, parameters), = captured
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a tiny table: make the planner choose
            plan = connection.exec_driver_sql("EXPLAIN " + statement, parameters).scalars().all()
        else:
            plan = [row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
        connection.rollback()
    assert any("ix_messages_streaming_updated_at" in line for line in plan), plan
