"""What only a browser shows: the router on a fresh server, a reply streaming in, reloads mid-reply."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser_fixtures import AppServer, send, start_app, stop_app, wait_for_app
from tests.sim_fixtures import SimHandle

pytestmark = pytest.mark.browser

WORDS = [f"w{i:02d} " for i in range(60)]  # plain words: the rendered text equals the streamed text
ANSWER = "".join(WORDS).strip()
ROOT = Path(__file__).resolve().parent.parent
FAVICON = "data:image/png;base64," + base64.b64encode((ROOT / "assets" / "favicon.png").read_bytes()).decode()


@pytest.fixture
def app_server(tmp_path: Path, allenai_sim: SimHandle) -> Iterator[AppServer]:
    server = start_app(tmp_path, {"CHATDECK_ALLENAI_URL": allenai_sim.url})
    yield server
    stop_app(server)


def assistant_text(page: object, index: int = 0) -> str:
    messages = page.locator("[data-testid='stChatMessage']:has([data-testid='stChatMessageAvatarAssistant'])")  # type: ignore[attr-defined]
    if messages.count() <= index:
        return ""
    content = messages.nth(index).get_by_test_id("stMarkdownContainer")
    return " ".join(content.all_inner_texts()).strip()


def words_in(text: str) -> list[str]:
    return re.findall(r"w\d\d", text)


@pytest.mark.parametrize("path", ["/chat", "/", "/components", "/sidebar"])
def test_page_urls_on_a_fresh_server_show_only_the_router(
    path: str, tmp_path: Path, allenai_sim: SimHandle, page: object
) -> None:
    server = start_app(tmp_path, {"CHATDECK_ALLENAI_URL": allenai_sim.url})
    try:
        page.goto(server.url + path)  # type: ignore[attr-defined]  # the server's very first session
        wait_for_app(page)
        sidebar = page.get_by_test_id("stSidebar")  # type: ignore[attr-defined]
        expect(sidebar.get_by_role("button", name="New chat")).to_be_visible(timeout=20_000)
        expect(page.get_by_test_id("stChatInputTextArea")).to_be_visible()  # type: ignore[attr-defined]
        # Streamlit's legacy views/ mode would list the modules of views/ as pages.
        nav = page.get_by_test_id("stSidebarNav")  # type: ignore[attr-defined]
        assert nav.count() == 0 or not re.search(r"components|sidebar", nav.inner_text())
        assert page.get_by_test_id("stException").count() == 0  # type: ignore[attr-defined]
        # Chatdeck's own icon, carried in the page (a data URL): nothing fetched for it, from here or elsewhere.
        icon = page.locator("link[rel~='icon']")  # type: ignore[attr-defined]
        expect(icon).to_have_attribute("href", FAVICON)
    finally:
        stop_app(server)


def test_reply_streams_survives_reloads_and_the_conversation_continues(
    app_server: AppServer, allenai_sim: SimHandle, page: object
) -> None:
    script = allenai_sim.sim.script
    script.chunks, script.chunk_delay = WORDS, 0.08  # about five seconds of streaming
    page.goto(app_server.url)  # type: ignore[attr-defined]
    wait_for_app(page)
    send(page, "Count slowly")

    # It streams: the answer is seen partly written, then longer.
    seen: list[int] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (not seen or seen[-1] < 15):
        seen.append(len(words_in(assistant_text(page))))
        time.sleep(0.1)
    assert any(0 < n < len(WORDS) for n in seen), seen
    assert seen == sorted(seen), "streamed text went backwards"
    assert "?c=" in page.url  # type: ignore[attr-defined]

    # Reload in the middle of the reply: it is still arriving afterwards.
    page.reload()  # type: ignore[attr-defined]
    page.wait_for_selector("[data-testid='stChatMessage']", timeout=15_000)  # type: ignore[attr-defined]
    after_reload = len(words_in(assistant_text(page)))
    assert 0 < after_reload < len(WORDS), "the reload should land in the middle of the reply"
    page.wait_for_function(  # the rest arrives in the reloaded page, without another reload
        "n => [...document.querySelectorAll('[data-testid=stChatMessageContent]')]"
        ".some(e => (e.innerText.match(/w\\d\\d/g) || []).length === n)",
        arg=len(WORDS), timeout=20_000,
    )
    wait_for_app(page)
    assert words_in(assistant_text(page)) == words_in(ANSWER)

    # Reload after the reply: the saved answer with its timings.
    page.reload()  # type: ignore[attr-defined]
    wait_for_app(page)
    assert words_in(assistant_text(page)) == words_in(ANSWER)
    assert "first token" in page.get_by_test_id("stChatMessage").nth(1).inner_text()  # type: ignore[attr-defined]

    # Continue the conversation: only the new message goes out, with the saved parent.
    script.chunks, script.chunk_delay = [f"x{i} " for i in range(30)] + ["w98 ", "w99"], 0.05
    send(page, "And again")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=stChatMessage]').length === 4", timeout=20_000
    )
    # While the follow-up streams, the first reply is drawn once: no faded copy of its live layout.
    page.wait_for_function("() => /x1[0-9]/.test(document.body.innerText)", timeout=10_000)
    assert page.get_by_text(re.compile("first token")).count() == 1  # type: ignore[attr-defined]
    wait_for_app(page)
    assert words_in(assistant_text(page, 1)) == ["w98", "w99"]
    chats = [r for r in allenai_sim.sim.requests if r.path.endswith("/chat")]
    assert len(chats) == 2
    stored = {m.id: m for thread in allenai_sim.sim.threads.values() for m in thread}  # the simulator's own store
    assert chats[1].form["content"] == "And again"
    assert stored[chats[1].form["parent"]].role == "assistant"
    assert stored[chats[1].form["parent"]].content.strip() == ANSWER
    assert chats[1].headers["x-anonymous-user-id"] == chats[0].headers["x-anonymous-user-id"]
