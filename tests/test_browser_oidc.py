"""OIDC sign-in in chromium against a local OpenID Connect provider (the ``oidc-provider-mock`` package on
loopback), with two users: each signs in through the provider's form, Ann chats, and Bob cannot reach Ann's
conversation by its URL, as a REST ``chat_id``, or in his export. Then sign-out, and a proxy-header sign-in.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from api import tokens
from simulators.openai_compat import SIM_TOKEN
from storage import credentials
from storage import repository as repo
from storage.db import make_engine, session
from storage.models import User
from tests.browser_fixtures import AppServer, send, start_app, stop_app, wait_for_app
from tests.sim_fixtures import SimHandle, free_port

pytestmark = pytest.mark.browser

SECRET = "browser-oidc-secret-0123456789"
MODEL = "meta-llama/Llama-3.3-70B-Instruct"
USERS = [
    {"sub": "ann", "email": "ann@example.com", "email_verified": True, "name": "Ann Archer"},
    {"sub": "bob", "email": "bob@example.com", "email_verified": True, "name": "Bob Baker"},
    {"sub": "eve", "email": "eve@evil.org", "email_verified": True, "name": "Eve"},
]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def oidc_provider(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    claims = [arg for user in USERS for arg in ("--user-claims", json.dumps(user))]
    log = (tmp_path / "oidc.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - the test's own provider, fixed arguments
        [sys.executable, "-m", "oidc_provider_mock", "--port", str(port), *claims],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not _answers(f"{url}/.well-known/openid-configuration"):
        assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "oidc.log").read_text()
        time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(10)
    log.close()


@pytest.fixture
def app_server(tmp_path: Path, oidc_provider: str, allenai_sim: SimHandle, huggingface_sim: SimHandle,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[AppServer]:
    monkeypatch.setenv("CHATDECK_SECRET_KEY", SECRET)
    port = free_port()
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "browser-oidc-cookie-secret-0123456789"\n'
        'client_id = "chatdeck"\n'
        'client_secret = "chatdeck-client-secret"\n'
        f'server_metadata_url = "{oidc_provider}/.well-known/openid-configuration"\n'
    )
    server = start_app(tmp_path, {
        "CHATDECK_SECRET_KEY": SECRET, "CHATDECK_ALLENAI_URL": allenai_sim.url, "CHATDECK_HF_URL": huggingface_sim.url,
        "CHATDECK_ALLOWED_USERS": "example.com", "CHATDECK_ADMINS": "ann@example.com",
    }, port=port, args=("--secrets.files", str(secrets)))
    yield server
    stop_app(server)


@pytest.fixture
def context_for(browser: object) -> Iterator[object]:
    contexts: list[object] = []

    def make() -> object:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)  # type: ignore[attr-defined]
        contexts.append(context)
        return context.new_page()  # type: ignore[attr-defined]

    yield make
    for context in contexts:
        context.close()  # type: ignore[attr-defined]


def sign_in(page: object, app: AppServer, oidc: str, sub: str) -> None:
    """Through the app's Sign in button and the provider's form, as a person would."""
    page.goto(app.url)  # type: ignore[attr-defined]
    wait_for_app(page)
    assert page.get_by_test_id("stChatInput").count() == 0  # type: ignore[attr-defined]  # nothing before sign-in
    page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]
    page.wait_for_url(f"{oidc}/**", timeout=20_000)  # type: ignore[attr-defined]
    page.get_by_role("button", name=sub, exact=True).click()  # type: ignore[attr-defined]
    page.wait_for_url(f"{app.url}/**", timeout=20_000)  # type: ignore[attr-defined]
    wait_for_app(page)


def signed_in_caption(page: object) -> object:
    """The account box's "Signed in as" line (the box opens on a click)."""
    line = page.get_by_text("Signed in as")  # type: ignore[attr-defined]
    if not line.is_visible():
        page.get_by_test_id("stSidebar").get_by_test_id("stPopover").filter(  # type: ignore[attr-defined]
            has_not_text="Keyboard shortcuts").get_by_role("button").click()
    return line


def test_two_users_sign_in_and_the_second_cannot_reach_the_first_ones_conversation(
    app_server: AppServer, oidc_provider: str, allenai_sim: SimHandle, huggingface_sim: SimHandle,
    context_for: object, tmp_path: Path,
) -> None:
    ann = context_for()  # type: ignore[operator]
    sign_in(ann, app_server, oidc_provider, "ann")
    expect(signed_in_caption(ann)).to_contain_text("ann@example.com · admin")
    allenai_sim.sim.script.chunks = ["Ann's ", "secret ", "recipe."]
    send(ann, "What is my grandmother's recipe?")
    expect(ann.get_by_text("Ann's secret recipe.")).to_be_visible(timeout=20_000)
    ann.wait_for_url("**/?c=*", timeout=10_000)
    conversation = ann.url.split("c=")[1].split("&")[0]

    bob = context_for()  # type: ignore[operator]
    sign_in(bob, app_server, oidc_provider, "bob")
    account = signed_in_caption(bob)
    expect(account).to_contain_text("bob@example.com")
    expect(account).not_to_contain_text("admin")
    sidebar = bob.get_by_test_id("stSidebar")
    expect(sidebar.get_by_role("button", name="What is my grandmother's recipe?")).to_have_count(0)

    # By URL: not found, and nothing of it on the page.
    bob.goto(f"{app_server.url}/?c={conversation}")
    wait_for_app(bob)
    expect(bob.get_by_text("That conversation was not found")).to_be_visible(timeout=10_000)
    assert "recipe" not in bob.content()

    # By REST chat_id: Bob's own token (and his own Hugging Face login) with Ann's conversation id.
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        with session(engine) as s:
            bob_id = s.scalars(select(User.id).where(User.external_id == "bob@example.com")).one()
            ann_id = s.scalars(select(User.id).where(User.external_id == "ann@example.com")).one()
            credentials.save(s, bob_id, "huggingface", {"token": SIM_TOKEN})
            token = tokens.issue(s, bob_id, name="bob", lifetime=timedelta(hours=1)).token
        huggingface_sim.sim.script.chunks = ["A fresh answer for Bob."]
        response = httpx.post(
            f"{app_server.url}/api/ai/huggingface/{MODEL}/chat", params={"chat_id": conversation}, timeout=30,
            headers={"Authorization": f"Bearer {token}"},
            json={"messages": [{"role": "user", "content": "Bob asks"}]},
        )
        assert response.status_code == 200 and response.text == "A fresh answer for Bob."
        assert response.headers["x-conversation-id"] != conversation  # a conversation of Bob's own
        sent = huggingface_sim.sim.chat_requests()[-1].json_body
        assert [m["content"] for m in sent["messages"]] == ["Bob asks"]  # nothing of Ann's history
        with session(engine) as s:
            assert [m.content for m in repo.recent_messages(s, ann_id, conversation, limit=10)] == [
                "What is my grandmother's recipe?", "Ann's secret recipe."]
            assert repo.get_conversation(s, bob_id, conversation) is None
    finally:
        engine.dispose()

    # By export: Bob's "everything" holds his REST chat and nothing of Ann's.
    bob.goto(f"{app_server.url}/settings")
    wait_for_app(bob)
    with bob.expect_download(timeout=20_000) as info:
        bob.get_by_test_id("stDownloadButton").filter(has_text="Export all conversations").locator("button").click()
    exported = Path(info.value.path()).read_text()
    assert "Bob asks" in exported and "recipe" not in exported and conversation not in exported

    # Sign out: the provider ends its session too (its confirmation page), then the sign-in screen; a reload
    # does not sign Ann in again.
    signed_in_caption(ann)
    ann.get_by_role("button", name="Sign out").click()
    ann.wait_for_url(f"{oidc_provider}/**", timeout=20_000)
    ann.get_by_role("button", name="End session").click()
    ann.wait_for_url(f"{app_server.url}/**", timeout=20_000)
    expect(ann.get_by_role("button", name="Sign in")).to_be_visible(timeout=20_000)
    ann.goto(app_server.url)
    wait_for_app(ann)
    expect(ann.get_by_role("button", name="Sign in")).to_be_visible()
    assert ann.get_by_test_id("stChatInput").count() == 0
    assert ann.get_by_test_id("stException").count() == 0 and bob.get_by_test_id("stException").count() == 0


def test_an_address_outside_the_allowed_domain_is_refused_after_sign_in(
    app_server: AppServer, oidc_provider: str, context_for: object, tmp_path: Path,
) -> None:
    eve = context_for()  # type: ignore[operator]
    sign_in(eve, app_server, oidc_provider, "eve")
    expect(eve.get_by_text("eve@evil.org is not allowed to use this Chatdeck")).to_be_visible(timeout=10_000)
    assert eve.get_by_test_id("stChatInput").count() == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        with session(engine) as s:
            assert s.scalars(select(User).where(User.external_id == "eve@evil.org")).first() is None
            # A token for her (say, issued before her domain was removed) is refused by the REST API too: the
            # server's REST handler reads the same [auth] configuration as the pages.
            eve_id = repo.get_or_create_user(s, "eve@evil.org").id
            token = tokens.issue(s, eve_id, name="eve", lifetime=timedelta(hours=1)).token
    finally:
        engine.dispose()
    response = httpx.post(f"{app_server.url}/api/ai/huggingface/{MODEL}/chat", params={"chat_id": "x"}, timeout=30,
                          headers={"Authorization": f"Bearer {token}"},
                          json={"messages": [{"role": "user", "content": "Hello"}]})
    assert response.status_code == 401


@pytest.fixture
def proxy_app(tmp_path: Path, allenai_sim: SimHandle) -> Iterator[AppServer]:
    server = start_app(tmp_path, {
        "CHATDECK_ALLENAI_URL": allenai_sim.url, "CHATDECK_TRUSTED_HEADER": "X-Forwarded-Email",
        "CHATDECK_TRUSTED_NAME_HEADER": "X-Forwarded-User", "CHATDECK_SIGN_OUT_URL": "/oauth2/sign_out",
    })
    yield server
    stop_app(server)


def test_a_trusted_proxy_header_signs_people_in(proxy_app: AppServer, allenai_sim: SimHandle, browser: object) -> None:
    def open_as(headers: dict[str, str]) -> tuple[object, object]:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, extra_http_headers=headers)  # type: ignore[attr-defined]
        page = context.new_page()
        page.goto(proxy_app.url)
        wait_for_app(page)
        return context, page

    context, page = open_as({"X-Forwarded-Email": "Ann@Example.com", "X-Forwarded-User": "Ann"})
    try:
        expect(signed_in_caption(page)).to_contain_text("ann@example.com")
        expect(page.get_by_role("link", name="Sign out")).to_have_attribute(
            "href", "/oauth2/sign_out")
        allenai_sim.sim.script.chunks = ["Hello ", "Ann."]
        send(page, "Hi, it's Ann")
        expect(page.get_by_text("Hello Ann.")).to_be_visible(timeout=20_000)
    finally:
        context.close()
    context, page = open_as({})
    try:
        expect(page.get_by_text("this request came without it")).to_be_visible(timeout=10_000)
        assert page.get_by_test_id("stChatInput").count() == 0
    finally:
        context.close()
