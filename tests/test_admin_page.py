"""The Admin page under AppTest (single-user mode: the local user is the admin), with a real database,
runner and registry and the simulators on loopback: refused to anyone else, also inside each action;
a backend switched off shows in the chat picker and leaves the compare page; the server's login can be
closed to users without its values ever showing; users' and the default rate limits; usage charts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from access import policy
from runner.runner import credentials_for
from simulators.openai_compat import SIM_TOKEN
from storage import repository as repo
from storage import usage
from storage.db import get_engine, session
from storage.models import User

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
COMPARE = "from views import compare\ncompare.render()"


def _admin_page() -> None:
    from views import admin

    admin.render()


@pytest.fixture
def env(pages_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHATDECK_HAILUO_TOKEN", raising=False)


def admin_page(section: str | None = None, owner: int | None = None) -> AppTest:
    at = AppTest.from_function(_admin_page, default_timeout=30)
    if owner is not None:
        at.session_state["owner_id"] = owner
    at.run()
    if section is not None:
        at.segmented_control(key="admin_section").set_value(section).run()
    assert not at.exception
    return at


def local_id() -> int:
    with session(get_engine()) as s:
        return repo.local_user(s).id


def everything_shown(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "title") for e in getattr(at, kind)]
    parts += [json.dumps(e.proto.spec) for e in at.get("vega_lite_chart")]
    parts += [df.value.to_csv() for df in at.dataframe]
    return "\n".join(str(p) for p in parts)


def test_anyone_but_an_admin_gets_one_line_and_nothing_else(env: None) -> None:
    with session(get_engine()) as s:
        bob = repo.get_or_create_user(s, "bob@example.com", "Bob").id
    at = admin_page(owner=bob)
    assert [w.value for w in at.warning] == ["This page is for admins."]
    assert len(at.main.children) == 1
    assert not (at.title or at.dataframe or at.button or at.toggle or at.segmented_control or at.number_input)


def test_each_action_checks_again_that_the_user_is_still_an_admin(env: None) -> None:
    at = admin_page("Backends")
    with session(get_engine()) as s:  # demoted while the page is open
        s.execute(update(User).where(User.id == local_id()).values(is_admin=False))
    at.toggle(key="admin_enabled_allenai").set_value(False).run()
    assert "Only admins can change this." in [t.value for t in at.toast]
    assert policy.current(get_engine()).disabled == frozenset()
    assert [w.value for w in at.warning] == ["This page is for admins."]


def test_a_disabled_backend_leaves_the_pickers_and_comes_back(env: None) -> None:
    at = admin_page("Backends")
    assert at.toggle(key="admin_enabled_allenai").value is True
    at.toggle(key="admin_enabled_allenai").set_value(False).run()
    assert not at.exception and at.toggle(key="admin_enabled_allenai").value is False
    assert "Ai2 Playground disabled." in [t.value for t in at.toast]

    chat = AppTest.from_file(APP, default_timeout=30).run()
    assert "Ai2 Playground · disabled by an admin" in chat.selectbox(key="provider").options
    assert chat.selectbox(key="provider").value == "huggingface"  # a new chat starts on one still switched on
    compare = AppTest.from_string(COMPARE, default_timeout=30).run()
    assert "Ai2 Playground" not in compare.selectbox(key="cmp_backend_0").options
    assert any("Ai2 Playground (disabled by an admin" in c.value for c in compare.caption)

    at.toggle(key="admin_enabled_allenai").set_value(True).run()
    chat = AppTest.from_file(APP, default_timeout=30).run()
    assert "Ai2 Playground" in chat.selectbox(key="provider").options


def test_the_servers_login_can_be_closed_to_users_and_is_never_shown(env: None) -> None:
    at = admin_page("Backends")
    assert at.toggle(key="admin_server_login_huggingface").value is True  # single-user mode: allowed by default
    assert not [t for t in at.toggle if t.key == "admin_server_login_hailuo"]  # the server has no HailuoAI login
    at.toggle(key="admin_server_login_huggingface").set_value(False).run()
    assert not at.exception
    with session(get_engine()) as s:
        assert credentials_for(s, local_id(), "huggingface") is None
    assert SIM_TOKEN not in everything_shown(at)

    settings = AppTest.from_string("from views import settings\nsettings.render()", default_timeout=30).run()
    shown = [m.value for m in settings.markdown]
    assert not any("Using the login configured for the whole server" in m for m in shown)
    assert any("an admin has not opened to users" in m for m in shown)


def test_an_admin_sets_a_users_limit_and_the_default(env: None) -> None:
    with session(get_engine()) as s:
        bob = repo.get_or_create_user(s, "bob@example.com", "Bob").id
    at = admin_page("Users")
    table = at.dataframe[0].value
    assert set(table["User"]) == {"Local user", "Bob"} and set(table["Rate limit"]) == {"default (20 per minute)"}
    at.selectbox(key="admin_limit_user").select(bob).run()
    at.checkbox(key=f"admin_limit_default_{bob}").uncheck().run()
    at.number_input(key=f"admin_limit_value_{bob}").set_value(5).run()
    at.button(key="admin_limit_save").click().run()
    assert not at.exception
    with session(get_engine()) as s:
        assert usage.user_rate_limit(s, bob) == 5
    rows = at.dataframe[0].value.set_index("User")
    assert rows.loc["Bob", "Rate limit"] == "5 per minute"

    at.segmented_control(key="admin_section").set_value("Rate limit").run()
    at.number_input(key="admin_rate_limit").set_value(0).run()
    at.button(key="admin_rate_limit_save").click().run()
    assert policy.current(get_engine()).rate_limit == 0  # no limit by default now
    at.button(key="admin_rate_limit_reset").click().run()
    assert not at.exception and policy.current(get_engine()).rate_limit == policy.DEFAULT_RATE_LIMIT


def test_usage_charts_with_data_and_an_empty_state_without(env: None) -> None:
    at = admin_page("Usage")
    assert any("No messages in the last 7 days" in i.value for i in at.info)
    assert not at.get("vega_lite_chart")

    with session(get_engine()) as s:
        for who, provider, count in (("ann@example.com", "allenai", 3), ("bob@example.com", "huggingface", 2)):
            owner = repo.get_or_create_user(s, who).id
            conversation = repo.create_conversation(s, owner, provider=provider, model="m").id
            for _ in range(count):
                reply = repo.add_message(s, owner, conversation, role="assistant", content="", provider=provider,
                                         status="streaming")
                repo.update_message(s, reply.id, content="answer", status="complete", finish_reason="stop")
        failed = repo.create_conversation(s, owner, provider="allenai", model="m").id
        repo.add_message(s, owner, failed, role="assistant", content="", provider="allenai", status="error")
        repo.add_message(s, owner, failed, role="assistant", content="history", provider="allenai")  # not asked for
    at.run()
    assert not at.exception
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2
    specs = [json.loads(c.proto.spec) for c in charts]
    assert [spec["title"] for spec in specs] == ["Messages per day, by backend", "Messages per user, by backend"]
    assert any("6 messages from 2 users in the last 7 days" in c.value for c in at.caption)
    users = admin_page("Users").dataframe[0].value.set_index("User")
    assert users.loc["ann@example.com", "Messages"] == 3 and users.loc["bob@example.com", "Messages"] == 3
