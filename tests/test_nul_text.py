"""Text with NUL characters is saved without them, on SQLite and on PostgreSQL (which refuses NUL in text
outright): a message, an answer as a backend streamed it, a title, an import. Without the stripping in
storage/db.py, PostgreSQL loses each of these whole ("A string literal cannot contain NUL").
"""

from __future__ import annotations

import json

from sqlalchemy.engine import Engine

from runner.runner import Runner
from storage import repository as repo
from storage import transfer
from storage.db import session
from tests.db_fixtures import SessionFactory
from tests.sim_fixtures import SimHandle


def test_messages_answers_and_titles_are_saved_without_nul(db: SessionFactory) -> None:
    with db() as s:
        owner = repo.local_user(s).id
        conversation = repo.create_conversation(s, owner, provider="allenai", model="m", title="Ti\x00tle")
        repo.add_message(s, owner, conversation.id, role="user", content="Hel\x00lo")
        reply = repo.add_message(s, owner, conversation.id, role="assistant", content="", status="streaming")
        repo.update_message(s, reply.id, content="an\x00swer", reasoning="\x00think", error="fa\x00iled",
                            status="error")
    with db() as s:
        assert repo.get_conversation(s, owner, conversation.id).title == "Title"  # type: ignore[union-attr]
        stored = repo.recent_messages(s, owner, conversation.id)
        assert [(m.content, m.reasoning, m.error) for m in stored] == [("Hello", "", None),
                                                                      ("answer", "think", "failed")]
        assert repo.rename_conversation(s, owner, conversation.id, "Re\x00named")
    with db() as s:
        assert repo.get_conversation(s, owner, conversation.id).title == "Renamed"  # type: ignore[union-attr]


def test_rows_inserted_in_one_batch_are_saved_without_nul(db: SessionFactory) -> None:
    # A send's prompt and reply go in one batched INSERT, whose values come as one flat set flagged "many".
    with db() as s:
        owner = repo.local_user(s).id
        conversation = repo.create_conversation(s, owner, provider="allenai", model="m")
        prompt, reply = repo.add_turn(s, owner, conversation.id, prompt="Say \x00hello", provider="allen\x00ai",
                                      model="m")
    with db() as s:
        stored = repo.recent_messages(s, owner, conversation.id)
        assert [(m.id, m.role, m.content, m.provider, m.status) for m in stored] == [
            (prompt.id, "user", "Say hello", "allenai", "complete"),
            (reply.id, "assistant", "", "allenai", "streaming"),
        ]


def test_an_import_with_nul_is_saved_without_it(db: SessionFactory) -> None:
    with db() as s:
        owner = repo.local_user(s).id
        conversation = repo.create_conversation(s, owner, provider="allenai", model="m", title="Export me")
        repo.add_message(s, owner, conversation.id, role="user", content="Question")
        exported = json.loads(transfer.all_conversations_json(s, owner))
        repo.delete_conversation(s, owner, conversation.id)
    record = exported["conversations"][0]
    record["title"] = "Ex\x00port me"
    record["messages"][0]["content"] = "Ques\x00tion"
    with db() as s:
        result = transfer.import_file(s, owner, json.dumps(exported).encode())
        assert result.imported == 1
    with db() as s:
        assert repo.get_conversation(s, owner, conversation.id).title == "Export me"  # type: ignore[union-attr]
        assert [m.content for m in repo.recent_messages(s, owner, conversation.id)] == ["Question"]


def test_a_backend_answer_with_nul_is_saved_without_it(runner: Runner, engine: Engine, allenai_sim: SimHandle) -> None:
    allenai_sim.sim.script.chunks = ["Hel\x00", "lo\x00 ", "world"]
    with session(engine) as s:
        owner = repo.local_user(s).id
        conversation = repo.create_conversation(s, owner, provider="allenai", model="olmo-3.1-32b-instruct")
    run = runner.start(owner_id=owner, conversation_id=conversation.id, provider="allenai",
                       model="olmo-3.1-32b-instruct", prompt="Say \x00hello")
    assert run.saved.wait(10)
    with session(engine) as s:
        stored = repo.recent_messages(s, owner, conversation.id)
    assert [(m.role, m.content, m.status) for m in stored] == [("user", "Say hello", "complete"),
                                                               ("assistant", "Hello world", "complete")]
