"""The Settings page's backend logins under AppTest, with HailuoAI's simulator on loopback: where the
values live, saving a login (encrypted, never shown back), and "Check connection" telling a valid
login from an expired one (real database, real runner, real registry)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

import application
from providers.hailuo import Login
from simulators.hailuo import DEMO_DEVICE_ID, DEMO_TOKEN, DEMO_USER_ID, HailuoSimulator
from storage import credentials
from storage import repository as repo
from storage.db import get_engine, session
from tests.sim_fixtures import SimHandle

FRESH_TOKEN = "eyJmcmVzaC10b2tlbiJ9.eyJzdWIiOiJzZXR0aW5ncy10ZXN0In0.ZnJlc2g"


def _settings_page() -> None:
    from views import settings

    settings.render()


@pytest.fixture
def app(sqlite_url: str, hailuo_sim: SimHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    monkeypatch.setenv("CHATDECK_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CHATDECK_SECRET_KEY", "settings-page-test-secret")
    monkeypatch.setenv("CHATDECK_HAILUO_URL", hailuo_sim.url)
    for name in ("TOKEN", "DEVICE_ID", "USER_ID"):
        monkeypatch.delenv(f"CHATDECK_HAILUO_{name}", raising=False)
    yield AppTest.from_function(_settings_page, default_timeout=30)
    application.reset()


def save_hailuo_login(app: AppTest, token: str) -> None:
    app.text_input(key="cred_hailuo_token").set_value(f'"{token}"')  # as the browser console shows it
    app.text_input(key="cred_hailuo_device_id").set_value(DEMO_DEVICE_ID)
    app.text_input(key="cred_hailuo_user_id").set_value(DEMO_USER_ID)
    app.button(key="FormSubmitter:login_hailuo-Save").click().run()
    assert not app.exception


def check_connection(app: AppTest) -> tuple[list[str], list[str]]:
    """Click "Check connection" for HailuoAI; the success and error messages shown."""
    app.button(key="check_hailuo").click().run()
    assert not app.exception
    return [s.value for s in app.success], [e.value for e in app.error]


def test_the_hailuo_form_says_where_each_value_lives(app: AppTest, hailuo_sim: SimHandle) -> None:
    app.run()
    assert not app.exception
    helps = {key: app.text_input(key=f"cred_hailuo_{key}").help for key in ("token", "device_id", "user_id")}
    assert "`_token`" in helps["token"] and "`USER_HARD_WARE_INFO`" in helps["device_id"]
    assert "`UNIQUE_USER_ID`" in helps["user_id"]
    assert any("USER_HARD_WARE_INFO" in m.value and "Local Storage" in m.value for m in app.markdown)
    token_input = app.text_input(key="cred_hailuo_token")
    assert token_input.proto.type == token_input.proto.PASSWORD  # typed values are masked

    app.button(key="check_hailuo").click().run()  # nothing saved, no server login: nothing to check
    assert any("No login to check yet" in w.value for w in app.warning)
    assert not hailuo_sim.sim.requests


def test_save_a_login_then_check_it_valid_then_expired_then_fresh(app: AppTest, hailuo_sim: SimHandle) -> None:
    sim: HailuoSimulator = hailuo_sim.sim
    app.run()
    save_hailuo_login(app, DEMO_TOKEN)
    with session(get_engine()) as s:
        owner = repo.local_user(s).id
        saved = credentials.load(s, owner, "hailuo")
    assert Login.from_values(saved) == Login(DEMO_TOKEN, DEMO_DEVICE_ID, DEMO_USER_ID)
    page_text = " ".join(m.value for m in app.markdown)
    assert "Your login is saved" in page_text and DEMO_TOKEN not in page_text

    successes, errors = check_connection(app)
    assert not errors and successes and successes[0].startswith("HailuoAI accepted the login")
    assert sim.chat_requests()[-1].headers["token"] == DEMO_TOKEN  # the saved login was used, quotes removed

    sim.expire(DEMO_TOKEN, "status")
    successes, errors = check_connection(app)
    assert not successes and errors
    assert errors[0].startswith("Login expired or rejected: HailuoAI login expired: paste a fresh token in Settings")
    assert DEMO_TOKEN not in errors[0]

    sim.add_account(FRESH_TOKEN, DEMO_DEVICE_ID, DEMO_USER_ID)
    save_hailuo_login(app, FRESH_TOKEN)
    successes, errors = check_connection(app)
    assert not errors and successes[0].startswith("HailuoAI accepted the login")
    assert sim.chat_requests()[-1].headers["token"] == FRESH_TOKEN


def test_a_401_is_told_as_an_expired_login_too(app: AppTest, hailuo_sim: SimHandle) -> None:
    hailuo_sim.sim.expire(DEMO_TOKEN, "401")
    app.run()
    save_hailuo_login(app, DEMO_TOKEN)
    successes, errors = check_connection(app)
    assert not successes and "HailuoAI login expired" in errors[0] and "HTTP 401" in errors[0]


def test_the_servers_login_from_the_environment_is_used_and_checked(
    app: AppTest, hailuo_sim: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in (("TOKEN", DEMO_TOKEN), ("DEVICE_ID", DEMO_DEVICE_ID), ("USER_ID", DEMO_USER_ID)):
        monkeypatch.setenv(f"CHATDECK_HAILUO_{name}", value)
    app.run()
    assert any("login configured for the whole server" in m.value for m in app.markdown)
    successes, errors = check_connection(app)
    assert not errors and successes[0].startswith("HailuoAI accepted the login")
    assert [r.headers["token"] for r in hailuo_sim.sim.chat_requests()] == [DEMO_TOKEN]
