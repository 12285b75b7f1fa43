"""HailuoAI in the real app and a real browser: paste a login in Settings, chat two turns, and the
simulator confirms the follow-up went to the same chat with only the new message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from simulators.hailuo import DEMO_DEVICE_ID, DEMO_TOKEN, DEMO_USER_ID, HailuoSimulator
from tests.browser_fixtures import AppServer, send, start_app, stop_app, wait_for_app
from tests.sim_fixtures import SimHandle

pytestmark = pytest.mark.browser

FIRST_ANSWER = ["Grüße ", "aus ", "日本 ", "— ", "✓ ", "done."]
SECOND_ANSWER = ["Why did ", "the scarecrow ", "win? ", "Outstanding ", "in his ", "field."]


@pytest.fixture
def app_server(tmp_path: Path, hailuo_sim: SimHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppServer]:
    for name in ("TOKEN", "DEVICE_ID", "USER_ID"):  # no server login: the user pastes one in Settings
        monkeypatch.delenv(f"CHATDECK_HAILUO_{name}", raising=False)
    env = {"CHATDECK_HAILUO_URL": hailuo_sim.url, "CHATDECK_SECRET_KEY": "browser-hailuo-test-secret"}
    server = start_app(tmp_path, env)
    yield server
    stop_app(server)


def assistant_texts(page: object) -> list[str]:
    replies = page.locator("[data-testid='stChatMessage']:has([data-testid='stChatMessageAvatarAssistant'])")  # type: ignore[attr-defined]
    return [" ".join(r.get_by_test_id("stMarkdownContainer").all_inner_texts()).strip() for r in replies.all()]


def test_login_in_settings_then_a_two_turn_chat_on_one_hailuo_chat(
    app_server: AppServer, hailuo_sim: SimHandle, page: object
) -> None:
    sim: HailuoSimulator = hailuo_sim.sim
    sim.script.title, sim.script.chunk_delay = "Friendly Greeting", 0.05

    # Settings: paste the three values (with the quotes the browser console shows) and save.
    page.goto(app_server.url + "/settings")  # type: ignore[attr-defined]
    wait_for_app(page)
    form = page.get_by_test_id("stForm").filter(has=page.get_by_label("Device id", exact=True))  # type: ignore[attr-defined]
    form.get_by_label("Token", exact=True).fill(f'"{DEMO_TOKEN}"')
    form.get_by_label("Device id", exact=True).fill(DEMO_DEVICE_ID)
    form.get_by_label("User id", exact=True).fill(DEMO_USER_ID)
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your login is saved").first).to_be_visible(timeout=20_000)  # type: ignore[attr-defined]
    assert DEMO_TOKEN not in page.inner_text("body")  # type: ignore[attr-defined]

    # Turn 1: a new HailuoAI chat; the answer streams in and the backend's title names the conversation.
    sim.script.chunks = FIRST_ANSWER
    page.goto(app_server.url + "/?provider=hailuo&model=minimax")  # type: ignore[attr-defined]
    wait_for_app(page)
    send(page, "Hello")
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => document.body.innerText.includes('done.')", timeout=20_000
    )
    wait_for_app(page)
    assert assistant_texts(page) == ["".join(FIRST_ANSWER).strip()]
    page.reload()  # type: ignore[attr-defined]
    wait_for_app(page)
    sidebar = page.get_by_test_id("stSidebar")  # type: ignore[attr-defined]
    expect(sidebar.get_by_role("button", name="Friendly Greeting")).to_be_visible(timeout=10_000)

    # Turn 2: only the new message goes out, on the chat the first turn opened.
    sim.script.chunks = SECOND_ANSWER
    send(page, "Tell me a joke")
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => document.body.innerText.includes('in his field.')", timeout=20_000
    )
    wait_for_app(page)
    assert assistant_texts(page) == ["".join(FIRST_ANSWER).strip(), "".join(SECOND_ANSWER).strip()]

    first, second = sim.chat_requests()
    assert (first.form["chatID"], first.form["msgContent"]) == ("0", "Hello")
    [chat] = sim.chats.values()
    assert (second.form["chatID"], second.form["msgContent"]) == (chat.id, "Tell me a joke")
    assert first.headers["token"] == second.headers["token"] == DEMO_TOKEN
    assert chat.messages == [
        ("user", "Hello"), ("assistant", "".join(FIRST_ANSWER)),
        ("user", "Tell me a joke"), ("assistant", "".join(SECOND_ANSWER)),
    ]
