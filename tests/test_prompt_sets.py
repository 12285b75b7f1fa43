"""Prompt sets and the batch worker (SQLite and PostgreSQL), against three simulated backends on loopback:
a batch runs to the end, waits for the rate limit instead of failing, keeps failures per column, can be
cancelled, and resumes after its process stops half-way through a prompt."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from access import limits, policy
from arena import batch_worker
from arena.batch_worker import BatchWorker
from runner.runner import Runner
from simulators.common import ForcedError
from simulators.hailuo import DEMO_DEVICE_ID, DEMO_TOKEN, DEMO_USER_ID
from simulators.openai_compat import SIM_TOKEN
from storage import comparisons
from storage import prompt_sets as store
from storage import repository as repo
from storage.db import session
from storage.models import Batch, BatchItem, Comparison, utcnow
from tests.sim_fixtures import SimHandle, wait_for

COLUMNS = [("allenai", "olmo-3.1-32b-instruct"), ("huggingface", "meta-llama/Llama-3.3-70B-Instruct"),
           ("hailuo", "MiniMax-Text-01")]
PROMPTS = [{"prompt": f"Prompt number {i}", "category": "code" if i % 2 else "writing"} for i in range(5)]


@pytest.fixture
def sims(allenai_sim: SimHandle, huggingface_sim: SimHandle, hailuo_sim: SimHandle,
         monkeypatch: pytest.MonkeyPatch) -> list[SimHandle]:
    for name, value in {
        "CHATDECK_ALLENAI_URL": allenai_sim.url, "CHATDECK_HF_URL": huggingface_sim.url, "HF_TOKEN": SIM_TOKEN,
        "CHATDECK_HAILUO_URL": hailuo_sim.url, "CHATDECK_HAILUO_TOKEN": DEMO_TOKEN,
        "CHATDECK_HAILUO_DEVICE_ID": DEMO_DEVICE_ID, "CHATDECK_HAILUO_USER_ID": DEMO_USER_ID,
        "CHATDECK_SECRET_KEY": "prompt-set-tests",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("CHATDECK_TRUSTED_HEADER", policy.ENV_RATE_LIMIT):
        monkeypatch.delenv(name, raising=False)
    policy.invalidate()
    sims = [allenai_sim, huggingface_sim, hailuo_sim]
    for handle in sims:
        handle.sim.script.chunks = ["An ", "answer ", "in ", "parts."]
    yield sims
    policy.invalidate()


class Server:
    """One process's runner and batch worker; ``restart`` stops both as a server stop does and starts anew."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.runner = Runner(engine, flush_interval=0.05)
        self.worker = BatchWorker(engine, self.runner, poll=0.05, idle=0.05)

    def stop(self) -> None:
        self.worker.stop()  # the lifespan's order: the worker lets go first, then the runner stops
        self.runner.shutdown()

    def restart(self) -> None:
        self.stop()
        self.runner = Runner(self.engine, flush_interval=0.05)
        self.worker = BatchWorker(self.engine, self.runner, poll=0.05, idle=0.05)


@pytest.fixture
def server(engine: Engine, sims: list[SimHandle]) -> Iterator[Server]:
    s = Server(engine)
    yield s
    s.stop()


def start_batch(engine: Engine, columns: list[tuple[str, str]] = COLUMNS) -> tuple[int, str]:
    with session(engine) as s:
        owner = repo.local_user(s).id
        prompt_set = store.save_set(s, owner, "Five prompts", PROMPTS)
        return owner, store.start_batch(s, owner, prompt_set, columns, blind=True).id


def state(engine: Engine, batch_id: str) -> tuple[Batch, list[BatchItem]]:
    with session(engine) as s:
        return s.get(Batch, batch_id, populate_existing=True), store.items(s, batch_id)


def answers(engine: Engine, owner: int, comparison_id: str) -> list[str]:
    with session(engine) as s:
        (round_,) = comparisons.rounds(s, owner, comparison_id)
        return sorted(m.status for m in round_.answers.values())


def test_five_prompts_over_three_backends_run_to_the_end_each_a_comparison_of_its_own(
    engine: Engine, server: Server, sims: list[SimHandle],
) -> None:
    sims[2].sim.script.http_error = ForcedError(503, "Hailuo is down")  # a failing column is kept, not fatal
    owner, batch_id = start_batch(engine)
    assert wait_for(lambda: state(engine, batch_id)[0].status == "done", timeout=60)
    batch, items = state(engine, batch_id)
    assert [i.status for i in items] == ["done"] * 5 and batch.lease_owner is None
    assert len({i.comparison_id for i in items}) == 5
    for item, prompt in zip(items, PROMPTS, strict=True):
        assert answers(engine, owner, item.comparison_id) == ["complete", "complete", "error"]
        with session(engine) as s:
            comparison = s.get(Comparison, item.comparison_id)
            assert comparison.blind and comparison.category == prompt["category"]
            (round_,) = comparisons.rounds(s, owner, item.comparison_id)
            assert round_.prompt == prompt["prompt"]
    asked = [r.json_body["messages"][-1]["content"] for r in sims[1].sim.chat_requests()]
    assert asked == [p["prompt"] for p in PROMPTS]  # one request each, and no earlier prompt as context


def test_a_batch_waits_for_the_rate_limit_instead_of_failing(
    engine: Engine, server: Server, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(policy.ENV_RATE_LIMIT, "3")  # one prompt of three columns a minute
    policy.invalidate()
    owner, batch_id = start_batch(engine)

    def waiting() -> bool:
        batch, items = state(engine, batch_id)
        return items[0].status == "done" and batch.waiting.startswith("Waiting: ")

    assert wait_for(waiting, timeout=30)
    batch, items = state(engine, batch_id)
    assert batch.status == "running" and "limit" in batch.waiting
    assert [i.status for i in items[1:]] == ["pending"] * 4  # waiting, not failed
    monkeypatch.setattr(limits, "clock", lambda: utcnow() + timedelta(hours=1))  # the minute has passed
    assert wait_for(lambda: state(engine, batch_id)[0].status == "done", timeout=60)
    batch, items = state(engine, batch_id)
    assert batch.waiting == "" and all(answers(engine, owner, i.comparison_id) == ["complete"] * 3 for i in items)


def test_a_cancelled_batch_asks_nothing_more(engine: Engine, server: Server, sims: list[SimHandle]) -> None:
    for handle in sims:
        handle.sim.script.chunk_delay = 0.3
    owner, batch_id = start_batch(engine)
    assert wait_for(lambda: state(engine, batch_id)[1][0].status == "running", timeout=30)
    with session(engine) as s:
        assert store.cancel(s, owner, batch_id)
        assert not store.cancel(s, owner, batch_id)  # once
    assert wait_for(lambda: state(engine, batch_id)[0].lease_owner is None, timeout=30)
    batch, items = state(engine, batch_id)
    assert batch.status == "cancelled" and [i.status for i in items[1:]] == ["cancelled"] * 4
    assert len(sims[0].sim.chat_requests()) == 1
    assert answers(engine, owner, items[0].comparison_id) == ["cancelled"] * 3  # stopped, text kept


def test_a_batch_resumes_after_its_server_stops_half_way_through_a_prompt(
    engine: Engine, server: Server, sims: list[SimHandle],
) -> None:
    for handle in sims:
        handle.sim.script.chunk_delay = 0.2
    owner, batch_id = start_batch(engine)

    def second_prompt_streaming() -> bool:
        items = state(engine, batch_id)[1]
        return items[0].status == "done" and items[1].status == "running" and items[1].comparison_id is not None

    assert wait_for(second_prompt_streaming, timeout=30)
    cut = state(engine, batch_id)[1][1].comparison_id
    server.restart()
    for handle in sims:
        handle.sim.script.chunk_delay = 0.0
    assert wait_for(lambda: state(engine, batch_id)[0].status == "done", timeout=60)
    items = state(engine, batch_id)[1]
    assert [i.restarts for i in items] == [0, 1, 0, 0, 0]
    assert all(answers(engine, owner, i.comparison_id) == ["complete"] * 3 for i in items)
    assert items[1].comparison_id != cut
    with session(engine) as s:  # the cut-off comparison was deleted, with its columns' chats
        assert s.scalar(select(Comparison.id).where(Comparison.id == cut)) is None
        assert len(list(s.scalars(select(Comparison)))) == 5
        assert len(repo.list_conversations(s, owner, limit=100)) == 15


def test_prompt_sets_and_batches_are_their_owners_alone(engine: Engine) -> None:
    with session(engine) as s:
        ann = repo.get_or_create_user(s, "ann@example.com").id
        bob = repo.get_or_create_user(s, "bob@example.com").id
        prompt_set = store.save_set(s, ann, "Ann's", PROMPTS)
        batch = store.start_batch(s, ann, prompt_set, COLUMNS)
        assert store.get_set(s, bob, prompt_set.id) is None and store.list_sets(s, bob) == []
        assert store.get_batch(s, bob, batch.id) is None and store.list_batches(s, bob) == []
        assert not store.cancel(s, bob, batch.id)
        with pytest.raises(LookupError):
            store.start_batch(s, bob, prompt_set, COLUMNS)
        assert store.save_set(s, bob, "Bob's", [{"prompt": "x"}], set_id=prompt_set.id).id != prompt_set.id
        assert store.get_set(s, ann, prompt_set.id).name == "Ann's"
        with pytest.raises(ValueError, match="at least one prompt"):
            store.save_set(s, ann, "empty", [{"prompt": "  "}])
        assert store.get_batch(s, ann, batch.id).status == "running"


def test_a_backend_that_asks_to_slow_down_is_waited_for_and_its_prompt_asked_again(
    engine: Engine, server: Server, sims: list[SimHandle], monkeypatch: pytest.MonkeyPatch,
) -> None:
    sims[1].sim.script.http_error = ForcedError(429, "Slow down", headers={"Retry-After": "120"})
    owner, batch_id = start_batch(engine)

    def waiting_for_the_backend() -> bool:
        batch, items = state(engine, batch_id)
        return "asked to slow down" in batch.waiting and items[0].restarts == 1

    assert wait_for(waiting_for_the_backend, timeout=30)
    batch, items = state(engine, batch_id)
    assert batch.status == "running" and "huggingface" in batch.waiting
    assert items[0].status == "pending" and items[0].comparison_id is None  # to be asked again, not failed
    assert [i.status for i in items[1:]] == ["pending"] * 4
    sims[1].sim.script.http_error = None
    monkeypatch.setattr(batch_worker, "clock", lambda: utcnow() + timedelta(hours=1))  # its wait is over
    assert wait_for(lambda: state(engine, batch_id)[0].status == "done", timeout=60)
    items = state(engine, batch_id)[1]
    assert [i.restarts for i in items] == [1, 0, 0, 0, 0]
    assert all(answers(engine, owner, i.comparison_id) == ["complete"] * 3 for i in items)


def test_two_workers_on_one_database_never_ask_a_prompt_twice(engine: Engine, server: Server,
                                                              sims: list[SimHandle]) -> None:
    other = BatchWorker(engine, server.runner, poll=0.05, idle=0.05)  # a second replica's worker
    try:
        owner, batch_id = start_batch(engine)
        assert wait_for(lambda: state(engine, batch_id)[0].status == "done", timeout=60)
    finally:
        other.stop()
    for handle in sims:
        assert len(handle.sim.chat_requests()) == len(PROMPTS)
    assert all(answers(engine, owner, i.comparison_id) == ["complete"] * 3 for i in state(engine, batch_id)[1])
