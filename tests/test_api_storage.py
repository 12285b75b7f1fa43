"""Storage of API tokens and custom endpoints, on SQLite and PostgreSQL (the ``engine`` fixture)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from api import tokens
from storage import api_tokens, endpoints
from storage import repository as repo
from storage.db import session
from storage.models import utcnow


def users(engine: Engine) -> tuple[int, int]:
    with session(engine) as s:
        return repo.get_or_create_user(s, "alice").id, repo.get_or_create_user(s, "bob").id


def test_tokens_live_expire_and_revoke_per_owner(engine: Engine) -> None:
    alice, bob = users(engine)
    with session(engine) as s:
        live = api_tokens.create(s, alice, name="  script  ", expires_at=utcnow() + timedelta(days=1))
        old = api_tokens.create(s, alice, name="old", expires_at=utcnow() - timedelta(seconds=1))
        live_id, live_jti, old_jti = live.id, live.jti, old.jti
    with session(engine) as s:
        assert [t.name for t in api_tokens.list_tokens(s, alice)] == ["old", "script"]
        assert api_tokens.list_tokens(s, bob) == []
        assert api_tokens.owner_of(s, live_jti, alice) and not api_tokens.owner_of(s, live_jti, bob)
        assert not api_tokens.owner_of(s, old_jti, alice)  # expired
        assert not api_tokens.revoke(s, bob, live_id)  # not Bob's
    with session(engine) as s:
        assert api_tokens.list_tokens(s, alice)[1].last_used_at is not None
        assert api_tokens.revoke(s, alice, live_id) and not api_tokens.revoke(s, alice, live_id)
        assert not api_tokens.owner_of(s, live_jti, alice)


def test_issued_jwt_verifies_until_revoked(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATDECK_SECRET_KEY", "storage-test-secret")
    alice, _ = users(engine)
    with session(engine) as s:
        issued = tokens.issue(s, alice, name="t", lifetime=timedelta(hours=1))
    with session(engine) as s:
        assert tokens.verify(s, issued.token) == alice
    monkeypatch.setenv("CHATDECK_SECRET_KEY", "another-secret")
    with session(engine) as s, pytest.raises(tokens.InvalidTokenError):
        tokens.verify(s, issued.token)  # a token signed with another server's key


def test_endpoints_add_list_remove_and_keep_keys_sealed(engine: Engine) -> None:
    with session(engine) as s:
        endpoints.add(s, display_name="My vLLM box", base_url="http://gpu:8000/v1/", api_key="sk-1", models=["a", " "])
        endpoints.add(s, display_name="Ollama", base_url="http://localhost:11434/v1")
        with pytest.raises(ValueError, match="already exists"):
            endpoints.add(s, display_name="my vllm BOX", base_url="http://x/v1")
        with pytest.raises(ValueError, match="http"):
            endpoints.add(s, display_name="Bad", base_url="ftp://x")
        with pytest.raises(ValueError, match="name"):
            endpoints.add(s, display_name="!!!", base_url="http://x")
    with session(engine) as s:
        rows = endpoints.list_endpoints(s)
        assert [(e.slug, e.base_url, e.models) for e in rows] == [
            ("my-vllm-box", "http://gpu:8000/v1", ["a"]), ("ollama", "http://localhost:11434/v1", [])]
        assert "sk-1" not in (rows[0].secret or "") and endpoints.api_key(rows[0]) == "sk-1"
        assert endpoints.api_key(rows[1]) is None
        assert endpoints.remove(s, "ollama") and not endpoints.remove(s, "ollama")


def test_a_conversation_can_be_created_with_a_chosen_id(engine: Engine) -> None:
    alice, _ = users(engine)
    with session(engine) as s:
        conversation = repo.create_conversation(s, alice, provider="huggingface", model="m", conversation_id="a" * 32)
        assert conversation.id == "a" * 32
        with pytest.raises(ValueError, match="malformed"):
            repo.create_conversation(s, alice, provider="huggingface", model="m", conversation_id="x")
