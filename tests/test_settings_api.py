"""The Settings page's API tokens and custom endpoints under AppTest (real database, real registry)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

import application
from api import tokens
from markup.safe_markdown import plain
from providers import registry
from storage import endpoints
from storage import repository as repo
from storage.db import get_engine, session
from storage.models import CustomEndpoint


def _settings_page() -> None:
    from views import settings

    settings.render()


def _chat_page() -> None:
    from views import chat

    chat.render()


@pytest.fixture
def app(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    monkeypatch.setenv("CHATDECK_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CHATDECK_SECRET_KEY", "settings-test-secret")
    yield AppTest.from_function(_settings_page, default_timeout=30)
    application.reset()


def test_a_token_is_shown_once_works_and_can_be_revoked(app: AppTest) -> None:
    app.run()
    assert not app.exception
    app.text_input(key="token_name").set_value("ci script")
    app.button[[b.label for b in app.button].index("Create token")].click().run()
    assert not app.exception
    shown = [c.value for c in app.code]
    assert len(shown) == 1
    with session(get_engine()) as s:
        owner = repo.local_user(s).id
        assert tokens.verify(s, shown[0]) == owner
    assert any("ci script" in m.value and "active" in m.value for m in app.markdown)
    assert any("ci script" in m.value and "Scopes: " + ", ".join(tokens.SCOPES) in m.value for m in app.markdown)
    assert any("/v1" in scope for scope in tokens.SCOPES)

    app.run()  # any later run: the token is not shown again
    assert not app.code

    revoke = [b for b in app.button if b.key and b.key.startswith("revoke_token_")]
    assert len(revoke) == 1
    revoke[0].click().run()
    assert any("ci script" in m.value and "revoked" in m.value for m in app.markdown)
    with session(get_engine()) as s, pytest.raises(tokens.InvalidTokenError):
        tokens.verify(s, shown[0])


def test_an_admin_adds_an_endpoint_that_becomes_a_backend_and_removes_it(app: AppTest) -> None:
    app.run()
    app.text_input(key="endpoint_name").set_value("Team vLLM")
    app.text_input(key="endpoint_url").set_value("http://127.0.0.1:9/v1")
    app.text_input(key="endpoint_key").set_value("sk-team-secret-key-123")
    app.text_input(key="endpoint_models").set_value("qwen2.5, llama3")
    app.button[[b.label for b in app.button].index("Add endpoint")].click().run()
    assert not app.exception
    assert any("Team vLLM" in m.value and "key saved" in m.value for m in app.markdown)
    with session(get_engine()) as s:
        stored = s.query(CustomEndpoint).one()
        assert stored.secret and "sk-team-secret" not in stored.secret  # encrypted at rest
        assert endpoints.api_key(stored) == "sk-team-secret-key-123"
    info = registry.all_backends()["custom-team-vllm"]
    assert info.display_name == "Team vLLM" and [m.id for m in info.fallback_models] == ["qwen2.5", "llama3"]

    chat = AppTest.from_function(_chat_page, default_timeout=30).run()
    assert "Team vLLM" in chat.selectbox(key="provider").options

    app.button(key="remove_endpoint_team-vllm").click().run()
    assert "custom-team-vllm" not in registry.all_backends()


def test_a_bad_endpoint_is_refused_with_the_reason(app: AppTest) -> None:
    app.run()
    app.text_input(key="endpoint_name").set_value("Box")
    app.text_input(key="endpoint_url").set_value("gpu-box:8000")
    app.button[[b.label for b in app.button].index("Add endpoint")].click().run()
    assert any(plain("http://") in e.value for e in app.error)  # the reason, escaped
    assert "custom-box" not in registry.all_backends()


def test_endpoints_are_for_admins_only(app: AppTest) -> None:
    with session(get_engine()) as s:
        guest = repo.get_or_create_user(s, "guest", "Guest").id
    app.session_state["owner_id"] = guest
    app.run()
    assert not app.exception
    assert "Custom endpoints" not in [h.value for h in app.subheader]
    assert "API tokens" in [h.value for h in app.subheader]
