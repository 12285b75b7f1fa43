"""Per-user isolation in the repository layer, on SQLite and PostgreSQL: with Ann's ids in hand, every
owner-scoped function called as Bob finds nothing, changes nothing and reveals nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from api import tokens
from runner.health import Outcome
from storage import api_tokens, comparisons, credentials, library, transfer
from storage import health as health_store
from storage import repository as repo
from storage.db import session

SECRET = "isolation-test-secret-key"


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATDECK_SECRET_KEY", SECRET)


def test_bob_cannot_reach_anything_of_anns(engine: Engine) -> None:
    with session(engine) as s:
        ann = repo.get_or_create_user(s, "ann@example.com").id
        bob = repo.get_or_create_user(s, "bob@example.com").id
        chat = repo.create_conversation(s, ann, provider="allenai", model="m", title="Ann's plans")
        question = repo.add_message(s, ann, chat.id, role="user", content="zanzibar holiday plans")
        compared = comparisons.create(s, ann, [("allenai", "a"), ("huggingface", "b")], title="Ann's comparison")
        round_ = comparisons.add_round(s, ann, compared.id, "which?", {})
        credentials.save(s, ann, "huggingface", {"token": "hf_ann_secret_token"})
        issued = tokens.issue(s, ann, name="ann's script", lifetime=timedelta(hours=1))
        health_store.record(s, ann, "huggingface", Outcome(False, "failing", "boom"))
        chat_id, message_id, comparison_id, round_id = chat.id, question.id, compared.id, round_.id

    with session(engine) as s:
        assert repo.get_conversation(s, bob, chat_id) is None
        assert repo.list_conversations(s, bob) == []
        assert library.sidebar_conversations(s, bob) == []
        assert library.search(s, bob, "zanzibar") == []
        assert repo.recent_messages(s, bob, chat_id, limit=10) == []
        assert repo.messages_from(s, bob, chat_id, message_id) == []
        assert not repo.rename_conversation(s, bob, chat_id, "mine now")
        assert not library.set_pinned(s, bob, chat_id, True)
        assert not library.set_archived(s, bob, chat_id, True)
        assert not repo.delete_conversation(s, bob, chat_id)
        with pytest.raises(LookupError):
            repo.add_message(s, bob, chat_id, role="user", content="injected")
        assert transfer.conversation_json(s, bob, chat_id) is None
        assert transfer.conversation_markdown(s, bob, chat_id) is None
        assert b"zanzibar" not in transfer.all_conversations_json(s, bob)
        assert comparisons.get(s, bob, comparison_id) is None
        assert comparisons.list_recent(s, bob) == []
        assert comparisons.rounds(s, bob, comparison_id) == []
        with pytest.raises(LookupError):
            comparisons.vote(s, bob, round_id, "tie")
        with pytest.raises(LookupError):
            comparisons.add_round(s, bob, comparison_id, "hijack", {})
        assert credentials.load(s, bob, "huggingface") is None
        assert credentials.hints(s, bob) == {}
        assert not credentials.remove(s, bob, "huggingface")
        assert api_tokens.list_tokens(s, bob) == []
        assert not api_tokens.revoke(s, bob, api_tokens.list_tokens(s, ann)[0].id)
        assert health_store.for_owner(s, bob) == {}

    with session(engine) as s:  # Ann's things are all still hers, unchanged
        conversation = repo.get_conversation(s, ann, chat_id)
        assert conversation is not None and conversation.title == "Ann's plans"
        assert not conversation.pinned and not conversation.archived
        assert [m.content for m in repo.recent_messages(s, ann, chat_id, limit=10)] == ["zanzibar holiday plans"]
        assert comparisons.rounds(s, ann, comparison_id)[0].vote is None
        assert credentials.load(s, ann, "huggingface") == {"token": "hf_ann_secret_token"}
        assert tokens.verify(s, issued.token) == ann
