"""Regenerate, edit and versions in the runner: real storage, the Ai2 simulator on loopback.

What matters beyond the stored rows is the backend's continuation state: a new version must branch
from the answer before the turn, and the saved parent must always be the version the user keeps.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy.engine import Engine

from runner import turns
from runner.runner import Run, Runner
from runner.versions import branch_state, visible
from services import sending
from storage import backend_states
from storage import repository as repo
from storage.db import session
from tests.sim_fixtures import SimHandle, wait_for
from tests.sim_huggingchat import DEMO_COOKIES

MODEL = "olmo-3.1-32b-instruct"


def conversation(engine: Engine) -> tuple[int, str]:
    with session(engine) as s:
        owner = repo.local_user(s).id
        return owner, repo.create_conversation(s, owner, provider="allenai", model=MODEL).id


def finished(run: Run) -> Run:
    assert run.saved.wait(10)
    return run


def send(runner: Runner, owner: int, cid: str, prompt: str) -> Run:
    return finished(runner.start(owner_id=owner, conversation_id=cid, provider="allenai", model=MODEL, prompt=prompt))


def regenerate(runner: Runner, owner: int, cid: str, prompt: str | None = None) -> Run:
    return finished(sending.regenerate(runner, owner_id=owner, conversation_id=cid, provider="allenai", model=MODEL,
                                     prompt=prompt))


def rows(engine: Engine, owner: int, cid: str) -> list[repo.Message]:
    with session(engine) as s:
        return repo.recent_messages(s, owner, cid, limit=100)


def saved_parent(engine: Engine, cid: str) -> str:
    with session(engine) as s:
        return str(backend_states.get_backend_state(s, cid, "allenai", MODEL)["parent"])


def sim_reply_of(sim: SimHandle, request_index: int) -> str:
    """The Ai2 id of the answer the simulator stored for its n-th chat request."""
    request = sim.sim.chat_requests()[request_index]
    answers = [m for m in sim.sim.messages.values() if m.role == "assistant" and m.content]
    parent = request.form.get("parent")
    match = [m for m in answers if sim.sim.messages[m.parent].parent == parent
             and sim.sim.messages[m.parent].content == request.form["content"]]
    assert match, "the simulator stored no answer for that request"
    return match[-1].id


def test_regenerate_resends_the_prompt_from_the_parent_before_the_turn(
    runner: Runner, engine: Engine, allenai_sim: SimHandle
) -> None:
    owner, cid = conversation(engine)
    allenai_sim.sim.script.chunks = ["First answer."]
    send(runner, owner, cid, "One")
    first_parent = saved_parent(engine, cid)
    allenai_sim.sim.script.chunks = ["Second answer, take one."]
    send(runner, owner, cid, "Two")
    allenai_sim.sim.script.chunks = ["Second answer, take two."]
    run = regenerate(runner, owner, cid)

    requests = allenai_sim.sim.chat_requests()
    assert len(requests) == 3
    assert requests[2].form["content"] == "Two" and requests[2].form["parent"] == first_parent
    assert requests[2].headers["x-anonymous-user-id"] == requests[0].headers["x-anonymous-user-id"]
    stored = rows(engine, owner, cid)
    assert [m.role for m in stored] == ["user", "assistant", "user", "assistant", "assistant"]  # no new prompt
    assert [m.content for m in visible(stored)] == ["One", "First answer.", "Two", "Second answer, take two."]
    old, new = stored[3], stored[4]
    assert old.extra["superseded"] is True and new.extra["version_of"] == old.id
    assert new.extra["prompt_id"] == stored[2].id and new.id == run.message_id
    # The saved parent is the new answer in Ai2's tree, so a follow-up continues the kept version.
    assert saved_parent(engine, cid) == sim_reply_of(allenai_sim, 2)
    send(runner, owner, cid, "Three")
    assert allenai_sim.sim.chat_requests()[3].form["parent"] == sim_reply_of(allenai_sim, 2)


def test_switching_versions_moves_the_saved_parent_and_the_follow_up(
    runner: Runner, engine: Engine, allenai_sim: SimHandle
) -> None:
    owner, cid = conversation(engine)
    allenai_sim.sim.script.chunks = ["Version one."]
    send(runner, owner, cid, "Question")
    v1_parent = saved_parent(engine, cid)
    allenai_sim.sim.script.chunks = ["Version two."]
    regenerate(runner, owner, cid)
    v1, v2 = [m for m in rows(engine, owner, cid) if m.role == "assistant"]
    assert saved_parent(engine, cid) != v1_parent

    turns.select_version(engine, owner, cid, v1.id)
    assert [m.content for m in visible(rows(engine, owner, cid))] == ["Question", "Version one."]
    assert saved_parent(engine, cid) == v1_parent
    with session(engine) as s:
        turn = turns.load_last_turn(s, owner, cid)
    assert turn is not None and [r.id for r in turn.replies] == [v1.id, v2.id] and turn.index == 0

    send(runner, owner, cid, "Follow-up")
    follow_up = allenai_sim.sim.chat_requests()[-1]
    assert follow_up.form["parent"] == v1_parent and follow_up.form["content"] == "Follow-up"
    with pytest.raises(turns.TurnError):  # only the last turn changes
        turns.select_version(engine, owner, cid, v2.id)


def test_regenerating_a_first_turn_starts_a_new_thread_with_only_the_prompt(
    runner: Runner, engine: Engine, allenai_sim: SimHandle
) -> None:
    owner, cid = conversation(engine)
    send(runner, owner, cid, "Only question")
    regenerate(runner, owner, cid)
    first, again = allenai_sim.sim.chat_requests()
    assert "parent" not in again.form and again.form["content"] == first.form["content"]
    assert "Only question" in again.form["content"]


def test_edit_keeps_the_old_exchange_as_a_version_and_sends_the_new_prompt(
    runner: Runner, engine: Engine, allenai_sim: SimHandle
) -> None:
    owner, cid = conversation(engine)
    allenai_sim.sim.script.chunks = ["A."]
    send(runner, owner, cid, "First")
    first_parent = saved_parent(engine, cid)
    allenai_sim.sim.script.chunks = ["About cats."]
    send(runner, owner, cid, "Tell me about cats")
    allenai_sim.sim.script.chunks = ["About dogs."]
    finished(sending.edit(runner, owner_id=owner, conversation_id=cid, prompt="Tell me about dogs",
                        provider="allenai", model=MODEL))

    edited = allenai_sim.sim.chat_requests()[-1]
    assert edited.form["content"] == "Tell me about dogs" and edited.form["parent"] == first_parent
    shown = [m.content for m in visible(rows(engine, owner, cid))]
    assert shown == ["First", "A.", "Tell me about dogs", "About dogs."]
    cats_answer = next(m for m in rows(engine, owner, cid) if m.content == "About cats.")
    turns.select_version(engine, owner, cid, cats_answer.id)  # back to the old exchange, prompt included
    shown = [m.content for m in visible(rows(engine, owner, cid))]
    assert shown == ["First", "A.", "Tell me about cats", "About cats."]
    with pytest.raises(turns.TurnError):
        sending.edit(runner, owner_id=owner, conversation_id=cid, prompt="  ", provider="allenai", model=MODEL)


def test_history_sent_to_a_new_backend_thread_leaves_out_old_versions(
    runner: Runner, engine: Engine, allenai_sim: SimHandle
) -> None:
    owner, cid = conversation(engine)
    allenai_sim.sim.script.chunks = ["REJECTED-ANSWER"]
    send(runner, owner, cid, "Question")
    allenai_sim.sim.script.chunks = ["KEPT-ANSWER"]
    regenerate(runner, owner, cid)
    with session(engine) as s:  # forget Ai2's thread: the next turn sends the whole history as one prompt
        backend_states.save_backend_state(s, cid, "allenai", MODEL, {})
    send(runner, owner, cid, "Next")
    content = allenai_sim.sim.chat_requests()[-1].form["content"]
    assert "KEPT-ANSWER" in content and "REJECTED-ANSWER" not in content


def test_a_stopped_new_version_leaves_the_conversation_continuing_from_before_the_turn(
    runner: Runner, engine: Engine, allenai_sim: SimHandle
) -> None:
    owner, cid = conversation(engine)
    send(runner, owner, cid, "One")
    before_turn = saved_parent(engine, cid)
    send(runner, owner, cid, "Two")
    allenai_sim.sim.script.chunks, allenai_sim.sim.script.chunk_delay = [f"w{i} " for i in range(200)], 0.02
    run = sending.regenerate(runner, owner_id=owner, conversation_id=cid, provider="allenai", model=MODEL)
    assert wait_for(lambda: len(run.turn.text) > 10, 5)
    with pytest.raises(turns.TurnError):  # no second version while one is being written
        sending.regenerate(runner, owner_id=owner, conversation_id=cid, provider="allenai", model=MODEL)
    assert runner.cancel(run.message_id) and run.saved.wait(10)
    assert wait_for(lambda: allenai_sim.sim.disconnects == 1, 5), "the simulator never saw the client leave"
    reply = rows(engine, owner, cid)[-1]
    assert reply.status == "cancelled" and reply.content and not reply.extra.get("superseded")
    assert saved_parent(engine, cid) == before_turn  # never the replaced version's answer


def test_backends_that_cannot_branch_start_a_new_chat() -> None:
    assert branch_state("hailuo", {"chatID": "42", "account": "a"}) == {}
    assert branch_state("huggingchat", {"conversationId": "c"}) == {}
    assert branch_state("huggingchat", {"conversationId": "c", "messageId": "m"}) == {
        "conversationId": "c", "messageId": "m"}
    assert branch_state("allenai", {"parent": "msg_1", "anonymous_user_id": "u"})["parent"] == "msg_1"


def test_huggingchat_regenerate_branches_from_the_message_before_the_turn(
    engine: Engine, huggingchat_sim: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATDECK_HUGGINGCHAT_URL", huggingchat_sim.url + "/chat")
    monkeypatch.setenv("CHATDECK_HUGGINGCHAT_COOKIES", DEMO_COOKIES)
    model = "meta-llama/Llama-3.3-70B-Instruct"
    r = Runner(engine, flush_interval=0.05)
    try:
        owner, cid = conversation(engine)

        def state() -> dict[str, str]:
            with session(engine) as s:
                return backend_states.get_backend_state(s, cid, "huggingchat", model)

        def posted() -> list[dict[str, object]]:
            return [json.loads(q.form["data"]) for q in huggingchat_sim.sim.chat_requests() if "data" in q.form]

        for prompt in ("One", "Two"):
            finished(r.start(owner_id=owner, conversation_id=cid, provider="huggingchat", model=model, prompt=prompt))
            if prompt == "One":
                before_turn = state()["messageId"]
        second_answer = state()["messageId"]
        finished(sending.regenerate(r, owner_id=owner, conversation_id=cid, provider="huggingchat", model=model))
        assert posted()[-1]["id"] == before_turn and posted()[-1]["inputs"] == "Two"
        assert state()["messageId"] not in (before_turn, second_answer)  # the new answer is the parent now
        old = next(m for m in rows(engine, owner, cid) if m.extra.get("superseded"))
        turns.select_version(engine, owner, cid, old.id)
        assert state()["messageId"] == second_answer
    finally:
        r.shutdown()
