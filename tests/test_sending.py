"""The send use case (services/sending.py): real storage, a real runner, the Ai2 simulator on loopback."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from access import policy
from access.limits import RateLimitedError
from access.policy import BackendDisabledError
from providers.events import Options
from runner.runner import Runner
from services import sending
from storage import comparisons, usage
from storage import repository as repo
from storage.db import session
from tests.sim_fixtures import SimHandle, wait_for

MODEL = "olmo-3.1-32b-instruct"


def new_user(engine: Engine, who: str = "local", rate_limit: int | None = None) -> int:
    with session(engine) as s:
        owner = repo.get_or_create_user(s, who).id
        if rate_limit is not None:
            usage.set_rate_limit(s, owner, rate_limit)
        return owner


def conversations(engine: Engine, owner: int) -> list[tuple[str, str, str, str]]:
    with session(engine) as s:
        return [(c.id, c.title, c.model, c.system_prompt) for c in repo.list_conversations(s, owner)]


def messages(engine: Engine, owner: int, conversation_id: str) -> list[tuple[str, str, str]]:
    with session(engine) as s:
        return [(m.role, m.content, m.status) for m in repo.recent_messages(s, owner, conversation_id)]


def test_a_first_send_creates_the_titled_conversation_and_saves_the_prompt_before_the_backend_answers(
    runner: Runner, engine: Engine, allenai_sim: SimHandle
) -> None:
    allenai_sim.sim.script.first_byte_delay = 1.0
    owner = new_user(engine)
    prompt = "  " + "Otters-use-tools-" * 6 + "\nand a second line"
    sent = sending.send(runner, owner_id=owner, conversation=None, provider="allenai", model=MODEL, prompt=prompt,
                        system_prompt="Answer briefly.")
    assert sent.run.conversation_id == sent.conversation_id and sent.message_id == sent.run.message_id
    [(cid, title, model, system)] = conversations(engine, owner)
    assert cid == sent.conversation_id
    assert title == prompt.strip().splitlines()[0][:60] and len(title) == 60  # the one title rule
    assert (model, system) == (MODEL, "Answer briefly.")
    assert wait_for(lambda: len(allenai_sim.sim.chat_requests()) == 1, 5)
    assert messages(engine, owner, cid) == [("user", prompt, "complete"), ("assistant", "", "streaming")]
    assert sent.run.saved.wait(10)
    assert [status for _, _, status in messages(engine, owner, cid)] == ["complete", "complete"]


def test_a_refused_send_saves_nothing_and_calls_no_backend(
    runner: Runner, engine: Engine, allenai_sim: SimHandle
) -> None:
    owner = new_user(engine, rate_limit=1)
    first = sending.send(runner, owner_id=owner, conversation=None, provider="allenai", model=MODEL, prompt="One")
    assert first.run.saved.wait(10)
    picked: list[str] = []

    def pick(s: Session) -> str:  # an API's own choice of conversation: runs only once admitted
        picked.append("called")
        return first.conversation_id

    for conversation in (None, first.conversation_id, pick):
        with pytest.raises(RateLimitedError, match="You have sent 1 message in the last minute"):
            sending.send(runner, owner_id=owner, conversation=conversation, provider="allenai", model=MODEL,
                         prompt="Two")
    assert picked == []
    assert len(conversations(engine, owner)) == 1
    stored = messages(engine, owner, first.conversation_id)
    assert [(role, status) for role, _, status in stored] == [("user", "complete"), ("assistant", "complete")]
    assert stored[0][1] == "One"

    policy.set_backend_enabled(engine, "allenai", False)
    other = new_user(engine, who="bob@example.com")
    with pytest.raises(BackendDisabledError):
        sending.send(runner, owner_id=other, conversation=None, provider="allenai", model=MODEL, prompt="Hi")
    assert conversations(engine, other) == []
    assert len(allenai_sim.sim.chat_requests()) == 1


def test_a_round_is_admitted_once_for_every_column_or_refused_whole(
    runner: Runner, engine: Engine, allenai_sim: SimHandle
) -> None:
    owner = new_user(engine, rate_limit=3)
    columns = [("allenai", MODEL, ""), ("allenai", MODEL, "Be terse.")]
    with pytest.raises(RateLimitedError, match="This needs 4 replies at once"):  # never part of a round
        sending.send_round(runner, owner_id=owner, comparison=sending.NewComparison(columns * 2), prompt="Hi")
    with session(engine) as s:
        assert comparisons.list_recent(s, owner) == []
    assert conversations(engine, owner) == []

    sent = sending.send_round(runner, owner_id=owner, comparison=sending.NewComparison(columns), prompt="Hello",
                              options=Options(temperature=0.2))
    assert len(sent.runs) == 2 and all(run.saved.wait(10) for run in sent.runs.values())
    with session(engine) as s:
        comparison = comparisons.get(s, owner, sent.comparison_id)
        assert comparison is not None
        [round_] = comparisons.rounds(s, owner, comparison.id)
        assert {c: m.id for c, m in round_.answers.items()} == {c: r.message_id for c, r in sent.runs.items()}
        systems = [repo.get_conversation(s, owner, c.conversation_id) for c in comparison.columns]
        assert [c.system_prompt for c in systems if c is not None] == ["", "Be terse."]

    with pytest.raises(RateLimitedError, match="This needs 2 replies"):  # 2 of 3 spent: neither column goes
        sending.send_round(runner, owner_id=owner, comparison=sent.comparison_id, prompt="Again")
    with session(engine) as s:
        assert len(comparisons.rounds(s, owner, sent.comparison_id)) == 1
    assert len(allenai_sim.sim.chat_requests()) == 2
