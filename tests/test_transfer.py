"""Export and import on SQLite and PostgreSQL: round trips, idempotency, ChatGPT exports, hostile files."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from storage import chatgpt, import_records, library, transfer
from storage import repository as repo
from storage.import_records import ImportProblem
from storage.models import Conversation, Message
from tests.db_fixtures import SessionFactory


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (3, 2), "blue").save(out, format="PNG")
    return out.getvalue()


_PNG = _png()  # a real image (imports pass images through the image door): re-encoded, it stays the same


def _seed(db: SessionFactory, name: str = "alice") -> tuple[int, str]:
    with db() as s:
        owner = repo.get_or_create_user(s, name).id
        conversation = repo.create_conversation(s, owner, provider="allenai", model="olmo", title="Tides")
        repo.add_message(s, owner, conversation.id, role="user", content="Why are there two tides a day?")
        reply = repo.add_message(s, owner, conversation.id, role="assistant", content="Because the Moon **pulls**.",
                                 provider="allenai", model="olmo", status="streaming",
                                 attachments=[repo.encode_attachment("a.png", "image/png", _PNG)])
        repo.update_message(s, reply.id, reasoning="Think about gravity.", status="complete",
                            extra={"sources": [{"url": "https://example.org", "title": "Tides"}],
                                   "backend_state": {"secret-ish": "parent-id"}, "usage": {"tokens": 12}})
        library.set_pinned(s, owner, conversation.id, True)
        return owner, conversation.id


def _counts(db: SessionFactory) -> tuple[int, int]:
    with db() as s:
        return (s.scalar(select(func.count()).select_from(Conversation)) or 0,
                s.scalar(select(func.count()).select_from(Message)) or 0)


def _import(db: SessionFactory, owner: int, data: bytes | Any) -> transfer.ImportResult:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    with db() as s:
        return transfer.import_file(s, owner, raw)


# --- export -----------------------------------------------------------------------------------------


def test_markdown_export_with_and_without_reasoning(db: SessionFactory) -> None:
    owner, conversation_id = _seed(db)
    with db() as s:
        plain = transfer.conversation_markdown(s, owner, conversation_id)
        full = transfer.conversation_markdown(s, owner, conversation_id, reasoning=True)
        assert transfer.conversation_markdown(s, owner + 99, conversation_id) is None
    assert plain is not None and full is not None
    assert plain.startswith("# Tides\n")
    assert "## You" in plain and "## Assistant · olmo" in plain
    assert "Because the Moon **pulls**." in plain and "gravity" not in plain
    assert "<details><summary>Reasoning</summary>" in full and "Think about gravity." in full


def test_markdown_export_writes_math_in_dollars_and_json_keeps_the_text(db: SessionFactory) -> None:
    answer = "Euler: \\(e^{i\\pi} + 1 = 0\\), and\n\\[\na^2 + b^2 = c^2\n\\]\nfor $5, not `\\(code\\)`."
    with db() as s:
        owner = repo.get_or_create_user(s, "math").id
        conversation = repo.create_conversation(s, owner, provider="allenai", model="olmo", title="Euler")
        reply = repo.add_message(s, owner, conversation.id, role="assistant", content=answer, provider="allenai",
                                 model="olmo")
        repo.update_message(s, reply.id, reasoning="so \\(x < 1\\)", status="complete")
        markdown = transfer.conversation_markdown(s, owner, conversation.id, reasoning=True)
        document = transfer.conversation_json(s, owner, conversation.id)
    assert markdown is not None and document is not None
    assert ("Euler: $e^{i\\pi} + 1 = 0$, and\n$$\na^2 + b^2 = c^2\n$$\nfor \\$5, not `\\(code\\)`."
            in markdown)
    assert "so $x < 1$" in markdown  # the TeX itself is untouched (no "\\lt" outside Chatdeck)
    message = json.loads(document)["conversations"][0]["messages"][0]
    assert message["content"] == answer and message["reasoning"] == "so \\(x < 1\\)"


def test_json_export_round_trip_into_another_database_user(db: SessionFactory) -> None:
    owner, conversation_id = _seed(db)
    with db() as s:
        one = transfer.conversation_json(s, owner, conversation_id, reasoning=False)
        everything = transfer.all_conversations_json(s, owner)
        assert transfer.conversation_json(s, owner + 99, conversation_id) is None
    assert one is not None
    record = json.loads(one)["conversations"][0]
    assert "reasoning" not in record["messages"][1]
    document = json.loads(everything)
    assert document["format"] == "chatdeck.conversations" and document["version"] == 1
    [exported] = document["conversations"]
    assert exported["id"] == conversation_id and exported["pinned"] is True
    assert exported["messages"][1]["reasoning"] == "Think about gravity."
    assert "backend_state" not in exported["messages"][1]["extra"]  # the backend's own ids stay home

    with db() as s:  # delete, then import the file back: the same conversation, id and all
        repo.delete_conversation(s, owner, conversation_id)
    assert _import(db, owner, everything) == transfer.ImportResult(imported=1, skipped=0, messages=2)
    with db() as s:
        again = json.loads(transfer.all_conversations_json(s, owner))["conversations"]
        [hit] = library.search(s, owner, "moon")  # imported messages are searchable at once
        assert hit.conversation_id == conversation_id
    for key in ("exported_at",):
        document.pop(key)
    assert again == document["conversations"]


def test_export_of_everything_pages_through_many_conversations(db: SessionFactory) -> None:
    with db() as s:
        owner = repo.local_user(s).id
        for n in range(transfer.EXPORT_BATCH * 2 + 5):
            c = repo.create_conversation(s, owner, provider="sim", model="m", title=f"c{n}")
            repo.add_message(s, owner, c.id, role="user", content=f"hello {n}")
        repo.create_conversation(s, repo.get_or_create_user(s, "bob").id, provider="sim", model="m", title="bob's")
    with db() as s:
        records = json.loads(transfer.all_conversations_json(s, owner))["conversations"]
    assert len(records) == transfer.EXPORT_BATCH * 2 + 5
    assert len({r["id"] for r in records}) == len(records)
    assert all(len(r["messages"]) == 1 for r in records) and "bob's" not in {r["title"] for r in records}


# --- import -----------------------------------------------------------------------------------------


def test_importing_twice_adds_nothing_the_second_time(db: SessionFactory) -> None:
    owner, _ = _seed(db)
    with db() as s:
        data = transfer.all_conversations_json(s, owner)
    assert _import(db, owner, data) == transfer.ImportResult(imported=0, skipped=1, messages=0)
    before = _counts(db)
    assert _import(db, owner, data).imported == 0
    assert _counts(db) == before


CHATGPT = [
    {
        "title": "Pancakes",
        "create_time": 1700000000.5,
        "update_time": 1700000100.0,
        "conversation_id": "6f1c2d3e-0000-4000-8000-000000000001",
        "current_node": "n4",
        "mapping": {
            "root": {"id": "root", "message": None, "parent": None, "children": ["n1"]},
            "n1": {"id": "n1", "parent": "root", "children": ["n2"], "message": {
                "author": {"role": "system"}, "content": {"content_type": "text", "parts": [""]},
                "metadata": {"is_visually_hidden_from_conversation": True}}},
            "n2": {"id": "n2", "parent": "n1", "children": ["n3", "n3b"], "message": {
                "author": {"role": "user"}, "create_time": 1700000001,
                "content": {"content_type": "multimodal_text",
                            "parts": [{"content_type": "image_asset_pointer"}, "How do I make pancakes?"]}}},
            "n3b": {"id": "n3b", "parent": "n2", "children": [], "message": {
                "author": {"role": "assistant"}, "content": {"content_type": "text", "parts": ["An abandoned draft"]}}},
            "n3": {"id": "n3", "parent": "n2", "children": ["n4"], "message": {
                "author": {"role": "assistant"}, "create_time": 1700000002,
                "content": {"content_type": "text", "parts": ["Mix flour, eggs and milk."]},
                "metadata": {"model_slug": "gpt-4o"}}},
            "n4": {"id": "n4", "parent": "n3", "children": [], "message": {
                "author": {"role": "tool"}, "content": {"content_type": "text", "parts": ["tool output"]}}},
        },
    }
]


def test_chatgpt_import_follows_the_current_branch(db: SessionFactory) -> None:
    with db() as s:
        owner = repo.local_user(s).id
    assert _import(db, owner, CHATGPT) == transfer.ImportResult(imported=1, skipped=0, messages=2)
    assert _import(db, owner, CHATGPT) == transfer.ImportResult(imported=0, skipped=1, messages=0)
    with db() as s:
        [listed] = library.sidebar_conversations(s, owner)
        assert listed.id == chatgpt.conversation_id(owner, CHATGPT[0]["conversation_id"])
        conversation = repo.get_conversation(s, owner, listed.id)
        assert conversation is not None
        assert (conversation.title, conversation.provider, conversation.model) == ("Pancakes", "chatgpt", "gpt-4o")
        assert conversation.created_at.timestamp() == 1700000000.5
        messages = repo.recent_messages(s, owner, conversation.id)
        assert [(m.role, m.content) for m in messages] == [
            ("user", "[image]\nHow do I make pancakes?"), ("assistant", "Mix flour, eggs and milk.")]
        assert messages[1].model == "gpt-4o"
        bob = repo.get_or_create_user(s, "bob").id
    assert _import(db, bob, CHATGPT).imported == 1  # another user's copy gets its own id


def _chatdeck(**conversation: Any) -> dict[str, Any]:
    record = {"id": "a" * 32, "title": "t", "provider": "sim", "model": "m", "created_at": "2026-01-01T00:00:00Z",
              "messages": [{"role": "user", "content": "hi", "created_at": "2026-01-01T00:00:01+02:00"}]}
    return {"format": "chatdeck.conversations", "version": 1, "conversations": [record | conversation]}


def _deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


def _cycle() -> list[Any]:
    bad = json.loads(json.dumps(CHATGPT))
    bad[0]["mapping"]["root"]["parent"] = "n4"
    return bad


HOSTILE: dict[str, tuple[Any, str]] = {
    "not json": (b"{nope", "not valid JSON"),
    "not utf-8": (b"\xff\xfe\x00", "not valid JSON"),
    "deeply nested": (_deep(100_000), "nested too deeply"),
    "unknown shape": ({"hello": "world"}, "neither a Chatdeck export"),
    "a number": (42, "neither a Chatdeck export"),
    "future version": ({"format": "chatdeck.conversations", "version": 9, "conversations": []}, "version 9"),
    "conversations not a list": ({"format": "chatdeck.conversations", "version": 1, "conversations": {}}, "list"),
    "bad id": (_chatdeck(id="../../etc"), "no valid id"),
    "title of the wrong type": (_chatdeck(title=["x"]), '"title" must be text'),
    "unknown role": (_chatdeck(messages=[{"role": "root", "content": "x", "created_at": "2026-01-01"}]),
                     "unknown role"),
    "content not text": (_chatdeck(messages=[{"role": "user", "content": {"$gt": 1}, "created_at": "2026-01-01"}]),
                         '"content" must be text'),
    "bad time": (_chatdeck(created_at="yesterday"), "not a valid date"),
    "huge message": (_chatdeck(messages=[{"role": "user", "content": "x" * (import_records.MAX_TEXT_CHARS + 1),
                                          "created_at": "2026-01-01"}]), "longer than"),
    "too many messages": (_chatdeck(messages=[{"role": "user", "content": "x", "created_at": "2026-01-01"}]
                                    * (import_records.MAX_MESSAGES_PER_CONVERSATION + 1)), "more than"),
    "attachment not base64": (_chatdeck(messages=[{"role": "user", "content": "x", "created_at": "2026-01-01",
                                                   "attachments": [{"name": "a", "mime": "image/png",
                                                                    "data_b64": "!!"}]}]), "base64"),
    "attachment not an image": (_chatdeck(messages=[{"role": "user", "content": "x", "created_at": "2026-01-01",
                                                     "attachments": [{"name": "a", "mime": "text/html",
                                                                      "data_b64": ""}]}]), "not an image"),
    "chatgpt loop": (_cycle(), "loop"),
    "chatgpt dangling parent": ([CHATGPT[0] | {"current_node": "ghost"}], "not in its mapping"),
    "chatgpt parts not a list": ([CHATGPT[0] | {"mapping": {"n": {"message": {
        "author": {"role": "user"}, "content": {"content_type": "text", "parts": "boom"}}}}, "current_node": "n"}],
        "not a list"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_malformed_or_hostile_file_is_refused_and_changes_nothing(db: SessionFactory, case: str) -> None:
    owner, _ = _seed(db)
    data, message = HOSTILE[case]
    # a good conversation first, so a half-done import would show
    if isinstance(data, dict) and isinstance(data.get("conversations"), list) and data["conversations"]:
        good = _chatdeck(id="b" * 32)["conversations"][0]
        data = data | {"conversations": [good, *data["conversations"]]}
    before = _counts(db)
    with pytest.raises(ImportProblem, match=message):
        _import(db, owner, data)
    assert _counts(db) == before


def test_another_users_conversation_ids_are_refused(db: SessionFactory) -> None:
    alice, conversation_id = _seed(db, "alice")
    with db() as s:
        stolen = transfer.all_conversations_json(s, alice)
        mallory = repo.get_or_create_user(s, "mallory").id
    document = json.loads(stolen)
    document["conversations"][0]["title"] = "mine now"
    document["conversations"].insert(0, _chatdeck(id="c" * 32)["conversations"][0])
    before = _counts(db)
    with pytest.raises(ImportProblem, match="belong to another account"):
        _import(db, mallory, document)
    assert _counts(db) == before
    with db() as s:
        assert repo.get_conversation(s, alice, conversation_id).title == "Tides"  # type: ignore[union-attr]
        assert library.sidebar_conversations(s, mallory) == []


def test_a_file_over_the_size_limit_is_refused_before_parsing(db: SessionFactory) -> None:
    with db() as s:
        owner = repo.local_user(s).id
    with pytest.raises(ImportProblem, match="larger than 50 MB"):
        _import(db, owner, b" " * (transfer.MAX_IMPORT_BYTES + 1))


def test_duplicate_ids_in_one_file_are_refused(db: SessionFactory) -> None:
    with db() as s:
        owner = repo.local_user(s).id
    document = _chatdeck()
    document["conversations"] *= 2
    with pytest.raises(ImportProblem, match="more than once"):
        _import(db, owner, document)
    assert _counts(db) == (0, 0)
