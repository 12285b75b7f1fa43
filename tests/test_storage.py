"""The repository on SQLite and PostgreSQL (see tests/db_fixtures.py for ``db`` and ``engine``)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from storage import backend_states, liveness
from storage import repository as repo
from storage.db import session
from storage.models import BackendState, Conversation, Message, User
from tests.db_fixtures import SessionFactory


def _owner_and_conversation(db: SessionFactory, external_id: str = "alice") -> tuple[int, str]:
    with db() as s:
        user = repo.get_or_create_user(s, external_id)
        conversation = repo.create_conversation(s, user.id, provider="sim", model="m1")
        return user.id, conversation.id


def _add(db: SessionFactory, owner_id: int, conversation_id: str, n: int) -> list[int]:
    with db() as s:
        return [repo.add_message(s, owner_id, conversation_id, role="user", content=f"m{i}").id for i in range(n)]


# --- users and conversations ------------------------------------------------------------------------


def test_local_user_is_created_once(db: SessionFactory) -> None:
    with db() as s:
        first = repo.local_user(s)
    with db() as s:
        second = repo.local_user(s)
        assert s.scalar(select(func.count()).select_from(User)) == 1
    assert first.id == second.id
    assert first.external_id == "local"
    assert first.is_admin


def test_get_or_create_user_keeps_the_first_display_name(db: SessionFactory) -> None:
    with db() as s:
        created = repo.get_or_create_user(s, "bob", "Bob")
        again = repo.get_or_create_user(s, "bob", "Robert")
    assert created.id == again.id
    assert again.display_name == "Bob"
    assert not again.is_admin


def test_conversations_are_listed_most_recently_active_first(db: SessionFactory) -> None:
    with db() as s:
        owner = repo.local_user(s).id
        ids = [repo.create_conversation(s, owner, provider="sim", model="m", title=f"c{i}").id for i in range(3)]
    with db() as s:
        assert [c.id for c in repo.list_conversations(s, owner)] == ids[::-1]
        assert [c.id for c in repo.list_conversations(s, owner, limit=2)] == ids[:0:-1]
        assert repo.list_conversations(s, owner, limit=0) == []
    _add(db, owner, ids[0], 1)  # adding a message makes the oldest conversation the most recent
    with db() as s:
        assert [c.id for c in repo.list_conversations(s, owner)] == [ids[0], ids[2], ids[1]]


def test_rename_and_model_switch_do_not_reorder(db: SessionFactory) -> None:
    owner, first = _owner_and_conversation(db)
    with db() as s:
        second = repo.create_conversation(s, owner, provider="sim", model="m").id
    with db() as s:
        assert repo.rename_conversation(s, owner, first, "  A new title  ")
        repo.set_conversation_model(s, owner, first, "other", "m2")
    with db() as s:
        conversation = repo.get_conversation(s, owner, first)
        assert conversation is not None
        assert (conversation.title, conversation.provider, conversation.model) == ("A new title", "other", "m2")
        assert [c.id for c in repo.list_conversations(s, owner)] == [second, first]
        assert repo.rename_conversation(s, owner, first, "x" * 600)
        assert len(repo.get_conversation(s, owner, first).title) == repo.TITLE_MAX_CHARS  # type: ignore[union-attr]


def test_new_conversation_defaults(db: SessionFactory) -> None:
    owner, conversation_id = _owner_and_conversation(db)
    assert len(conversation_id) == 32
    assert repo.is_conversation_id(conversation_id)
    with db() as s:
        conversation = repo.get_conversation(s, owner, conversation_id)
        assert conversation is not None
        assert conversation.title == ""
        assert conversation.owner_id == owner


# --- owner scoping ----------------------------------------------------------------------------------


def _message(s: Session, owner: int, conversation_id: str, message_id: int) -> Message:
    """A stored message, read the way the app reads one (repository.messages_from)."""
    (message,) = repo.messages_from(s, owner, conversation_id, message_id, limit=1)
    assert message.id == message_id
    return message


def test_another_owners_conversation_is_not_found(db: SessionFactory) -> None:
    alice, conversation_id = _owner_and_conversation(db, "alice")
    [message_id] = _add(db, alice, conversation_id, 1)
    with db() as s:
        mallory = repo.get_or_create_user(s, "mallory").id
    with db() as s:
        assert repo.get_conversation(s, mallory, conversation_id) is None
        assert not repo.rename_conversation(s, mallory, conversation_id, "mine now")
        with pytest.raises(LookupError):
            repo.add_message(s, mallory, conversation_id, role="user", content="hi")
        with pytest.raises(LookupError):
            repo.set_conversation_model(s, mallory, conversation_id, "sim", "m9")
        assert repo.recent_messages(s, mallory, conversation_id) == []
        assert repo.messages_from(s, mallory, conversation_id, message_id) == []
        assert repo.list_conversations(s, mallory) == []
        assert not repo.delete_conversation(s, mallory, conversation_id)
    with db() as s:
        conversation = repo.get_conversation(s, alice, conversation_id)
        assert conversation is not None
        assert conversation.title == ""
        assert [m.id for m in repo.messages_from(s, alice, conversation_id, message_id)] == [message_id]


@pytest.mark.parametrize("bad_id", ["", "nope", "A" * 32, "0" * 33, "'; DROP TABLE users; --", None, 42])
def test_malformed_conversation_ids_are_not_found(db: SessionFactory, bad_id: object) -> None:
    owner, _ = _owner_and_conversation(db)
    with db() as s:
        assert repo.get_conversation(s, owner, bad_id) is None  # type: ignore[arg-type]
        assert repo.recent_messages(s, owner, bad_id) == []  # type: ignore[arg-type]
        assert not repo.rename_conversation(s, owner, bad_id, "t")  # type: ignore[arg-type]
        with pytest.raises(LookupError):
            repo.add_message(s, owner, bad_id, role="user", content="x")  # type: ignore[arg-type]


def test_invalid_role_or_status_is_refused(db: SessionFactory) -> None:
    owner, conversation_id = _owner_and_conversation(db)
    with db() as s:
        with pytest.raises(ValueError, match="role"):
            repo.add_message(s, owner, conversation_id, role="robot", content="x")
        with pytest.raises(ValueError, match="status"):
            repo.add_message(s, owner, conversation_id, role="user", content="x", status="done")
        message = repo.add_message(s, owner, conversation_id, role="assistant", content="", status="streaming")
        with pytest.raises(ValueError, match="status"):
            repo.update_message(s, message.id, status="finished")


def test_database_check_constraint_rejects_unknown_status(db: SessionFactory) -> None:
    _, conversation_id = _owner_and_conversation(db)
    with pytest.raises(IntegrityError), db() as s:
        s.add(Message(conversation_id=conversation_id, role="user", status="bogus"))
        s.flush()


# --- messages ---------------------------------------------------------------------------------------


def test_recent_messages_are_bounded_chronological_and_page_backwards(db: SessionFactory) -> None:
    owner, conversation_id = _owner_and_conversation(db)
    ids = _add(db, owner, conversation_id, 7)
    assert ids == sorted(ids)
    with db() as s:
        assert [m.id for m in repo.recent_messages(s, owner, conversation_id)] == ids
        last_three = repo.recent_messages(s, owner, conversation_id, limit=3)
        assert [m.content for m in last_three] == ["m4", "m5", "m6"]
        page = repo.recent_messages(s, owner, conversation_id, limit=3, before_id=last_three[0].id)
        assert [m.content for m in page] == ["m1", "m2", "m3"]
        page = repo.recent_messages(s, owner, conversation_id, limit=3, before_id=page[0].id)
        assert [m.content for m in page] == ["m0"]
        assert repo.recent_messages(s, owner, conversation_id, limit=3, before_id=ids[0]) == []
        assert repo.recent_messages(s, owner, conversation_id, limit=0) == []
        assert len(repo.recent_messages(s, owner, conversation_id, limit=repo.MAX_LIMIT)) == 7


def test_recent_messages_stay_within_their_conversation(db: SessionFactory) -> None:
    owner, first = _owner_and_conversation(db)
    with db() as s:
        second = repo.create_conversation(s, owner, provider="sim", model="m").id
    _add(db, owner, first, 2)
    _add(db, owner, second, 3)
    with db() as s:
        assert len(repo.recent_messages(s, owner, first)) == 2
        assert {m.conversation_id for m in repo.recent_messages(s, owner, second)} == {second}


def test_update_message_flushes_text_and_bumps_the_conversation(db: SessionFactory) -> None:
    owner, conversation_id = _owner_and_conversation(db)
    with db() as s:
        message = repo.add_message(
            s, owner, conversation_id, role="assistant", content="", provider="sim", model="m1", status="streaming"
        )
        before = repo.get_conversation(s, owner, conversation_id).updated_at  # type: ignore[union-attr]
    with db() as s:
        assert repo.update_message(s, message.id, content="Hel", reasoning="thinking", ttft_ms=12)
    with db() as s:
        flushed = _message(s, owner, conversation_id, message.id)
        assert flushed is not None
        assert (flushed.content, flushed.chars, flushed.reasoning) == ("Hel", 3, "thinking")
        assert flushed.status == "streaming"
    with db() as s:
        extra = {"usage": {"output_tokens": 3}, "sources": [{"url": "https://example.org", "title": "Ex"}]}
        repo.update_message(
            s, message.id, content="Hello, wörld", status="complete", finish_reason="stop", total_ms=99, extra=extra
        )
    with db() as s:
        final = _message(s, owner, conversation_id, message.id)
        assert final is not None
        assert (final.content, final.chars) == ("Hello, wörld", 12)
        assert (final.status, final.finish_reason) == ("complete", "stop")
        assert (final.reasoning, final.ttft_ms, final.total_ms, final.error) == ("thinking", 12, 99, None)
        assert final.extra["usage"] == {"output_tokens": 3}
        assert final.updated_at >= final.created_at
        assert repo.get_conversation(s, owner, conversation_id).updated_at > before  # type: ignore[union-attr]


def test_update_message_of_a_deleted_conversation_reports_false(db: SessionFactory) -> None:
    owner, conversation_id = _owner_and_conversation(db)
    with db() as s:
        message_id = repo.add_message(s, owner, conversation_id, role="assistant", content="", status="streaming").id
    with db() as s:
        assert repo.delete_conversation(s, owner, conversation_id)
    with db() as s:
        assert not repo.update_message(s, message_id, content="late text")
        # Message ids are never reused, so the late write cannot land in a newer message.
        fresh = repo.create_conversation(s, owner, provider="sim", model="m")
        newer = repo.add_message(s, owner, fresh.id, role="user", content="x")
        assert newer.id > message_id


def test_mark_interrupted_keeps_the_text(db: SessionFactory) -> None:
    owner, conversation_id = _owner_and_conversation(db)
    with db() as s:
        done = repo.add_message(s, owner, conversation_id, role="user", content="question")
        live = repo.add_message(s, owner, conversation_id, role="assistant", content="", status="streaming")
        repo.update_message(s, live.id, content="half an ans")
    with db() as s:
        assert liveness.mark_interrupted(s) == 1
    with db() as s:
        interrupted = _message(s, owner, conversation_id, live.id)
        assert interrupted is not None
        assert (interrupted.status, interrupted.content, interrupted.chars) == ("partial", "half an ans", 11)
        assert interrupted.error == repo.INTERRUPTED_ERROR
        assert _message(s, owner, conversation_id, done.id).status == "complete"  # type: ignore[union-attr]
        assert liveness.mark_interrupted(s) == 0


def test_a_reply_completed_after_a_sweep_marked_it_interrupted_loses_the_mark(db: SessionFactory) -> None:
    """A replica cut off from the database for a while finishes its reply after another one swept it."""
    owner, conversation_id = _owner_and_conversation(db)
    with db() as s:
        live = repo.add_message(s, owner, conversation_id, role="assistant", content="", status="streaming")
        repo.update_message(s, live.id, content="half")
    with db() as s:
        assert liveness.mark_interrupted(s) == 1
    with db() as s:
        repo.update_message(s, live.id, content="half and the rest", status="complete", finish_reason="stop")
    with db() as s:
        finished = _message(s, owner, conversation_id, live.id)
        assert finished is not None
        assert (finished.status, finished.content, finished.error) == ("complete", "half and the rest", None)


def test_mark_interrupted_can_spare_recently_written_messages(db: SessionFactory) -> None:
    owner, conversation_id = _owner_and_conversation(db)
    with db() as s:
        live = repo.add_message(s, owner, conversation_id, role="assistant", content="", status="streaming")
    with db() as s:
        assert liveness.mark_interrupted(s, stale_after=timedelta(minutes=5)) == 0
        assert _message(s, owner, conversation_id, live.id).status == "streaming"  # type: ignore[union-attr]


def test_datetimes_read_back_timezone_aware_utc(db: SessionFactory) -> None:
    owner, conversation_id = _owner_and_conversation(db)
    _add(db, owner, conversation_id, 1)
    with db() as s:
        conversation = s.scalars(select(Conversation)).one()  # a fresh read, not the cached object
        s.expire_all()
        message = s.scalars(select(Message)).one()
        user = s.get(User, owner)
        assert user is not None
        for value in (conversation.created_at, conversation.updated_at, message.created_at, user.created_at):
            assert value.tzinfo is not None
            assert value.utcoffset() == timedelta(0)
            assert abs(datetime.now(UTC) - value) < timedelta(minutes=1)


def test_datetimes_in_other_zones_are_stored_as_utc_and_naive_ones_refused(db: SessionFactory) -> None:
    _, conversation_id = _owner_and_conversation(db)
    plus_two = datetime(2030, 1, 2, 5, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2)))
    with db() as s:
        s.get(Conversation, conversation_id).updated_at = plus_two  # type: ignore[union-attr]
    with db() as s:
        stored = s.scalar(select(Conversation.updated_at))
        assert stored == plus_two
        assert stored is not None and stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
    with pytest.raises(StatementError, match="naive"), db() as s:
        s.get(Conversation, conversation_id).updated_at = datetime(2030, 1, 1)  # type: ignore[union-attr]


def test_json_round_trips_unicode_and_nesting(db: SessionFactory) -> None:
    owner, conversation_id = _owner_and_conversation(db)
    attachment = repo.encode_attachment("ünï 🐍.png", "image/png", b"\x89PNG\r\n\x1a\n\x00\xff")
    extra = {
        "title": "Grüße, 世界 🌍",
        "sources": [{"url": 'https://example.org/ä?q=1&r="x"', "title": "Ex \\ ample"}],
        "usage": {"input": 1, "output": 2, "nested": {"deep": [1, 2.5, None, True, "\u0000-free text"]}},
        "empty": {},
    }
    with db() as s:
        message = repo.add_message(s, owner, conversation_id, role="user", content="🙂", attachments=[attachment])
        repo.update_message(s, message.id, extra=extra)
    extra["title"] = "changed after saving"  # the repository keeps its own copy
    with db() as s:
        stored = _message(s, owner, conversation_id, message.id)
        assert stored is not None
        assert stored.content == "🙂"
        assert stored.chars == 1
        assert stored.attachments == [attachment]
        assert repo.decode_attachment(stored.attachments[0]) == b"\x89PNG\r\n\x1a\n\x00\xff"
        assert stored.attachments[0]["size"] == 10
        assert stored.extra["title"] == "Grüße, 世界 🌍"
        assert stored.extra["usage"]["nested"]["deep"] == [1, 2.5, None, True, "\u0000-free text"]
        assert stored.extra["sources"][0]["url"] == 'https://example.org/ä?q=1&r="x"'


def test_new_messages_default_to_empty_json(db: SessionFactory) -> None:
    owner, conversation_id = _owner_and_conversation(db)
    with db() as s:
        message = repo.add_message(s, owner, conversation_id, role="system", content="be brief")
    with db() as s:
        stored = _message(s, owner, conversation_id, message.id)
        assert stored is not None
        assert (stored.attachments, stored.extra, stored.reasoning, stored.status) == ([], {}, "", "complete")


def test_values_that_are_not_json_fail_at_the_call(db: SessionFactory) -> None:
    owner, conversation_id = _owner_and_conversation(db)
    with db() as s:
        message = repo.add_message(s, owner, conversation_id, role="assistant", content="")
        with pytest.raises(TypeError):
            repo.update_message(s, message.id, extra={"image": b"bytes"})


# --- backend state ----------------------------------------------------------------------------------


def test_backend_state_upserts_per_conversation_backend_and_model(db: SessionFactory) -> None:
    owner, conversation_id = _owner_and_conversation(db)
    with db() as s:
        other_conversation = repo.create_conversation(s, owner, provider="allenai", model="olmo").id
    with db() as s:
        assert backend_states.get_backend_state(s, conversation_id, "allenai", "olmo") == {}
        backend_states.save_backend_state(s, conversation_id, "allenai", "olmo", {"anonymous_id": "a1", "parent": "p1"})
        backend_states.save_backend_state(s, conversation_id, "allenai", "tulu", {"parent": "t1"})
        backend_states.save_backend_state(s, conversation_id, "hf", "olmo", {"parent": "h1"})
    with db() as s:
        backend_states.save_backend_state(s, conversation_id, "allenai", "olmo", {"anonymous_id": "a1", "parent": "p2"})
    with db() as s:
        assert backend_states.get_backend_state(s, conversation_id, "allenai", "olmo") == {
            "anonymous_id": "a1", "parent": "p2"}
        assert backend_states.get_backend_state(s, conversation_id, "allenai", "tulu") == {"parent": "t1"}
        assert backend_states.get_backend_state(s, conversation_id, "hf", "olmo") == {"parent": "h1"}
        assert backend_states.get_backend_state(s, other_conversation, "allenai", "olmo") == {}
        assert s.scalar(select(func.count()).select_from(BackendState)) == 3


def test_backend_state_needs_an_existing_conversation(db: SessionFactory) -> None:
    with pytest.raises(IntegrityError), db() as s:
        backend_states.save_backend_state(s, "f" * 32, "sim", "m", {"x": 1})


# --- deletion ---------------------------------------------------------------------------------------


def test_deleting_a_conversation_cascades(db: SessionFactory) -> None:
    owner, doomed = _owner_and_conversation(db)
    with db() as s:
        kept = repo.create_conversation(s, owner, provider="sim", model="m").id
    _add(db, owner, doomed, 3)
    _add(db, owner, kept, 2)
    with db() as s:
        backend_states.save_backend_state(s, doomed, "sim", "m", {"a": 1})
        backend_states.save_backend_state(s, kept, "sim", "m", {"b": 2})
    with db() as s:
        assert repo.delete_conversation(s, owner, doomed)
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 2
        assert s.scalar(select(func.count()).select_from(BackendState)) == 1
        assert backend_states.get_backend_state(s, kept, "sim", "m") == {"b": 2}
    with db() as s:  # deleting a user removes everything they own
        s.execute(text("DELETE FROM users WHERE id = :id"), {"id": owner})
    with db() as s:
        for model in (Conversation, Message, BackendState):
            assert s.scalar(select(func.count()).select_from(model)) == 0


# --- sessions and concurrency ------------------------------------------------------------------------


def test_session_rolls_back_on_error(db: SessionFactory) -> None:
    owner, conversation_id = _owner_and_conversation(db)
    with pytest.raises(RuntimeError), db() as s:
        repo.add_message(s, owner, conversation_id, role="user", content="lost")
        raise RuntimeError("boom")
    with db() as s:
        assert repo.recent_messages(s, owner, conversation_id) == []


def test_concurrent_writers_from_several_threads(engine: Engine) -> None:
    """The runner writes from a background thread while pages write too: no "database is locked"."""
    with session(engine) as s:
        owner = repo.local_user(s).id
        conversation_ids = [repo.create_conversation(s, owner, provider="sim", model="m").id for _ in range(4)]
    errors: list[BaseException] = []
    writes_per_thread = 25

    def writer(conversation_id: str) -> None:
        try:
            for i in range(writes_per_thread):
                with session(engine) as s:
                    message = repo.add_message(
                        s, owner, conversation_id, role="assistant", content="", status="streaming"
                    )
                with session(engine) as s:
                    repo.update_message(s, message.id, content="x" * i, status="complete")
                    backend_states.save_backend_state(s, conversation_id, "sim", "m", {"turn": i})
                with session(engine) as s:
                    repo.list_conversations(s, owner, limit=10)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(cid,)) for cid in conversation_ids * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    with session(engine) as s:
        for conversation_id in conversation_ids:
            assert len(repo.recent_messages(s, owner, conversation_id, limit=repo.MAX_LIMIT)) == 2 * writes_per_thread
        assert s.scalar(select(func.count()).select_from(Message).where(Message.status != "complete")) == 0
