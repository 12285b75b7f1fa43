"""Replies within bounds (issue 14): the reply cap, the idle and overall deadlines, finished runs freed.

End to end: the real runner on SQLite and PostgreSQL, the OpenAI-compatible provider over loopback HTTP
against the simulator's hostile scripts (simulators/openai_compat.py, ``Script.hostile``). Memory is the
process's resident set, asserted with generous bounds (the test process also runs the simulator).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from providers.base import Guarded
from providers.events import Drift, Finished, ReasoningDelta, Sources, StateUpdate, TextDelta
from providers.openai_compatible import OpenAICompatible
from runner.bounds import Bounds, ReplyCap, duration, is_content
from runner.run import Run
from runner.runner import Runner
from simulators.openai_compat import SIM_TOKEN
from storage import repository as repo
from storage.db import session
from storage.models import Message
from tests.sim_fixtures import SimHandle, wait_for

MB = 1_000_000
MODEL = "meta-llama/Llama-3.3-70B-Instruct"


def rss() -> int:
    """This process's resident memory in bytes."""
    with open("/proc/self/statm") as statm:
        import os

        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture
def make_runner(engine: Engine, huggingface_sim: SimHandle) -> Iterator[type[Runner]]:
    """Runners whose Hugging Face backend is the test's simulator (``make_runner(bounds=..., ...)``)."""
    made: list[Runner] = []

    def build(**kwargs: object) -> Runner:
        runner = Runner(engine, flush_interval=0.05, provider_factory=lambda _name, client, _creds: Guarded(
            OpenAICompatible(base_url=huggingface_sim.url, token=SIM_TOKEN, client=client)), **kwargs)  # type: ignore[arg-type]
        made.append(runner)
        return runner

    yield build  # type: ignore[misc]
    for runner in made:
        runner.shutdown()


def ask(runner: Runner, engine: Engine, prompt: str = "Go on") -> Run:
    with session(engine) as s:
        owner = repo.local_user(s).id
        conversation = repo.create_conversation(s, owner, provider="huggingface", model=MODEL)
    return runner.start(owner_id=owner, conversation_id=conversation.id, provider="huggingface", model=MODEL,
                        prompt=prompt)


def stored(engine: Engine, run: Run) -> Message:
    with session(engine) as s:
        return repo.recent_messages(s, run.owner_id, run.conversation_id)[-1]


def test_an_endless_answer_is_cut_at_the_cap_and_the_backend_let_go(
    make_runner: type[Runner], engine: Engine, huggingface_sim: SimHandle
) -> None:
    sim = huggingface_sim.sim
    sim.script.hostile, sim.script.hostile_bytes = "endless", 50 * MB  # 50 MB if nothing stopped it
    runner = make_runner(bounds=Bounds(max_chars=MB))
    before = rss()
    run = ask(runner, engine)
    assert run.saved.wait(60)
    growth = rss() - before
    reply = stored(engine, run)
    assert len(reply.content) == MB and reply.content.startswith("Before. All work and no play")
    assert (reply.status, reply.finish_reason) == ("complete", "length")
    assert reply.error == "Answer cut at 1,000,000 characters (this server's limit for one reply)."
    assert wait_for(lambda: sim.disconnects == 1, 10), "the backend connection was not closed"
    assert sim.hostile_sent < 50 * MB
    assert growth < 200 * MB, f"resident memory grew by {growth / MB:.0f} MB"


def test_a_backend_sending_only_keep_alives_meets_the_idle_deadline(
    make_runner: type[Runner], engine: Engine, huggingface_sim: SimHandle
) -> None:
    huggingface_sim.sim.script.hostile, huggingface_sim.sim.script.chunk_delay = "keepalive", 0.05
    runner, before = make_runner(bounds=Bounds(idle=1.0)), rss()
    run = ask(runner, engine)
    assert run.saved.wait(30), "keep-alives kept the reply open"
    assert rss() - before < 200 * MB
    reply = stored(engine, run)
    assert (reply.content, reply.status) == ("Before. ", "error")
    assert reply.error == "no answer from Hugging Face for 1 s"
    assert wait_for(lambda: huggingface_sim.sim.disconnects == 1, 10)


def test_a_trickling_answer_meets_the_overall_deadline_with_its_text_kept(
    make_runner: type[Runner], engine: Engine, huggingface_sim: SimHandle
) -> None:
    huggingface_sim.sim.script.hostile, huggingface_sim.sim.script.chunk_delay = "trickle", 0.05
    runner, before = make_runner(bounds=Bounds(idle=30.0, overall=1.5)), rss()
    run = ask(runner, engine)
    assert run.saved.wait(30), "a steady trickle kept the reply open"
    assert rss() - before < 200 * MB
    reply = stored(engine, run)
    assert reply.content.startswith("Before. word word ") and reply.status == "error"
    assert reply.error == "Hugging Face took longer than 1.5 s to answer"
    assert wait_for(lambda: huggingface_sim.sim.disconnects == 1, 10)


def test_an_endless_line_is_dropped_as_it_arrives_and_meets_the_idle_deadline(
    make_runner: type[Runner], engine: Engine, huggingface_sim: SimHandle
) -> None:
    sim = huggingface_sim.sim
    sim.script.hostile = "endless_line"  # for ever: only the idle deadline ends it
    runner = make_runner(bounds=Bounds(idle=1.0))
    before = rss()
    run = ask(runner, engine)
    assert run.saved.wait(60)
    growth = rss() - before
    reply = stored(engine, run)
    assert (reply.content, reply.status, reply.error) == ("Before. ", "error", "no answer from Hugging Face for 1 s")
    assert wait_for(lambda: sim.disconnects == 1, 10), "the backend connection was not closed"
    assert growth < 200 * MB, f"resident memory grew by {growth / MB:.0f} MB after {sim.hostile_sent / MB:.0f} MB"


def test_finished_runs_are_dropped_and_their_events_freed_after_the_grace(
    make_runner: type[Runner], engine: Engine, huggingface_sim: SimHandle
) -> None:
    huggingface_sim.sim.script.reply, huggingface_sim.sim.script.n_chunks = "x" * 200_000, 400
    runner = make_runner(keep_finished=0.0)
    runs = [ask(runner, engine, f"Question {i}") for i in range(5)]
    for run in runs:
        assert run.saved.wait(30), repr(run.future.exception(1) if run.future else None)
        assert wait_for(lambda run=run: runner.get(run.message_id) is None, 10)  # type: ignore[misc]
        assert run.events == [] and run.wait(0, 0.0) == ([], True)
        assert run.text_so_far()[1] == "x" * 200_000  # a reader of the text still has it
        assert stored(engine, run).content == "x" * 200_000


def test_a_finished_run_stays_tailable_during_its_grace(
    make_runner: type[Runner], engine: Engine, huggingface_sim: SimHandle
) -> None:
    huggingface_sim.sim.script.chunks = ["Hello", " there"]
    runner = make_runner(keep_finished=3600.0)
    run = ask(runner, engine)
    assert run.saved.wait(30)
    assert runner.get(run.message_id) is run
    events, done = run.wait(0, 0.0)
    assert done and [e.text for e in events if isinstance(e, TextDelta)] == ["Hello", " there"]


# --- the cap and the deadlines' pieces, pure ----------------------------------------------------


def test_answer_and_reasoning_count_together_and_the_crossing_delta_is_cut() -> None:
    cap = ReplyCap(10)
    assert cap.admit(ReasoningDelta("think")) == (ReasoningDelta("think"), False)
    assert cap.admit(TextDelta("abc")) == (TextDelta("abc"), False)
    assert cap.admit(TextDelta("de")) == (TextDelta("de"), False)  # exactly full: the answer may end here
    assert cap.admit(TextDelta("f")) == (None, True)
    cap = ReplyCap(10)
    assert cap.admit(TextDelta("0123456789abc")) == (TextDelta("0123456789"), True)
    cap = ReplyCap(10)
    cap.admit(TextDelta("01234567"))
    assert cap.admit(TextDelta("rewritten", replace=True)) == (TextDelta("rewritten", replace=True), False)
    assert cap.admit(TextDelta("!!")) == (TextDelta("!"), True)
    assert cap.admit(Finished("stop")) == (Finished("stop"), False)
    assert str(cap.note()) == "Answer cut at 10 characters (this server's limit for one reply)."
    assert cap.note().kind == "reply_cut"


def test_a_flood_of_small_events_fills_the_cap_too() -> None:
    assert ReplyCap(10).other_limit == 1_000_000 and ReplyCap(2_000_000).other_limit == 2_000_000
    cap = ReplyCap(80, other_limit=80)
    assert cap.admit(TextDelta("x" * 80)) == (TextDelta("x" * 80), False)  # a budget of their own
    drift = Drift("a line that is not JSON", "{" * 10)
    assert cap.admit(drift) == (drift, False)
    assert cap.admit(StateUpdate({"a": 1})) == (StateUpdate({"a": 1}), False)
    assert cap.admit(drift) == (drift, False)
    assert cap.admit(drift) == (None, True)  # 33 + 8 + 33 + 33 > 80: the reply ends like a full one


def test_only_content_resets_the_idle_deadline() -> None:
    assert is_content(TextDelta("a")) and is_content(ReasoningDelta("b")) and is_content(Sources(()))
    assert not is_content(ReasoningDelta("", status="Thinking…")) and not is_content(TextDelta(""))
    assert not is_content(StateUpdate({})) and not is_content(Finished("stop"))


def test_bounds_from_the_environment_and_their_words() -> None:
    assert Bounds.from_env({}) == Bounds(1_000_000, 120.0, 900.0)
    env = {"CHATDECK_MAX_REPLY_CHARS": "5000", "CHATDECK_IDLE_TIMEOUT": "30", "CHATDECK_REPLY_TIMEOUT": "600"}
    assert Bounds.from_env(env) == Bounds(5000, 30.0, 600.0)
    assert (duration(900.0), duration(120.0), duration(90.0), duration(1.5)) == ("15 min", "2 min", "90 s", "1.5 s")
