"""The sign-in gate under AppTest, in each identity mode: single user (no sign-in), OIDC (``st.login``:
signed out, signed in, not allowed, a second user who cannot open the first one's conversation) and the
trusted proxy header (refused without it; the header itself is driven in a browser test, since AppTest
cannot send headers)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from markup.safe_markdown import plain
from storage import repository as repo
from storage.db import get_engine, session
from storage.models import User

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
AUTH = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "a-test-cookie-secret",
        "client_id": "chatdeck", "client_secret": "secret",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}


@pytest.fixture
def make_app(pages_env: None) -> Callable[..., AppTest]:
    def make(user: dict[str, object] | None = None, oidc: bool = False) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=30)
        if oidc:
            at.secrets["auth"] = AUTH
        if user is not None:
            at.user = user
        return at

    return make


def signed_in(email: str, name: str = "") -> dict[str, object]:
    return {"is_logged_in": True, "email": email, "name": name or email.split("@")[0].title(), "email_verified": True}


def users() -> dict[str, User]:
    with session(get_engine()) as s:
        return {u.external_id: u for u in s.scalars(select(User))}


def test_single_user_mode_needs_no_sign_in(make_app) -> None:
    at = make_app().run()
    assert not at.exception
    assert at.chat_input(key="prompt") is not None
    assert not [b for b in at.button if b.label in ("Sign in", "Sign out")]
    assert not any("Signed in as" in c.value for c in at.sidebar.caption)
    assert set(users()) == {"local"} and users()["local"].is_admin


def test_oidc_signed_out_sees_only_the_sign_in_button(make_app) -> None:
    at = make_app({"is_logged_in": False}, oidc=True).run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert len(at.chat_input) == 0 and len(at.sidebar.button) == 0  # no page, no conversation list
    assert users() == {}


def test_oidc_sign_in_creates_the_user_and_shows_who_is_signed_in(make_app, monkeypatch) -> None:
    monkeypatch.setenv("CHATDECK_ADMINS", "boss@example.com")
    at = make_app(signed_in("Ann@Example.com", "Ann"), oidc=True).run()
    assert not at.exception
    assert at.chat_input(key="prompt") is not None
    assert any(f"Signed in as **{plain('ann@example.com')}**" in c.value for c in at.sidebar.caption)
    assert "Sign out" in [b.label for b in at.sidebar.button]
    ann = users()["ann@example.com"]
    assert (ann.email, ann.display_name, ann.is_admin) == ("ann@example.com", "Ann", False)
    assert ann.last_seen_at is not None
    boss = make_app(signed_in("boss@example.com"), oidc=True).run()
    assert any("· admin" in c.value for c in boss.sidebar.caption)
    assert users()["boss@example.com"].is_admin


def test_oidc_address_outside_the_allowed_domains_is_refused(make_app, monkeypatch) -> None:
    monkeypatch.setenv("CHATDECK_ALLOWED_USERS", "example.com")
    at = make_app(signed_in("eve@evil.org"), oidc=True).run()
    assert not at.exception
    assert "eve@evil.org is not allowed" in at.error[0].value
    assert [b.label for b in at.button] == ["Sign out"]
    assert len(at.chat_input) == 0
    assert "eve@evil.org" not in users()


def test_a_second_user_cannot_open_the_first_ones_conversation_by_url(make_app) -> None:
    ann = make_app(signed_in("ann@example.com"), oidc=True)
    ann.run()
    ann.chat_input(key="prompt").set_value("Ann's private question").run()
    assert not ann.exception
    value = ann.query_params["c"]
    conversation_id = value[0] if isinstance(value, list) else value

    bob = make_app(signed_in("bob@example.com"), oidc=True)
    bob.query_params["c"] = conversation_id
    bob.run()
    assert not bob.exception
    assert any("conversation was not found" in w.value for w in bob.warning)
    shown = " ".join(m.value for m in bob.markdown) + " ".join(b.label for b in bob.sidebar.button)
    assert "Ann's private question" not in shown
    assert not bob.chat_message
    with session(get_engine()) as s:  # and it is still Ann's, untouched
        owner = users()["ann@example.com"].id
        first = repo.recent_messages(s, owner, conversation_id, limit=10)[0]
        assert first.content == "Ann's private question"


def test_proxy_mode_without_the_header_shows_nothing_but_the_reason(make_app, monkeypatch) -> None:
    monkeypatch.setenv("CHATDECK_TRUSTED_HEADER", "X-Forwarded-Email")
    at = make_app().run()
    assert not at.exception
    assert "`X-Forwarded-Email` header" in at.error[0].value
    assert len(at.chat_input) == 0 and len(at.button) == 0
    assert users() == {}
