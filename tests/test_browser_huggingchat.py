"""HuggingChat in a real browser with an ``hf-chat`` cookie alone (a self-hosted chat-ui): attach an image, watch
the reply stream with its (inline ``<think>``) reasoning and the new title, reload, continue; the simulator
confirms the follow-up sent only the new message and the right parent; then the conversation is deleted on
the server and a third turn still answers, with a quiet note under it."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image as PILImage
from playwright.sync_api import expect

from tests.browser_fixtures import AppServer, send, start_app, stop_app, wait_for_app
from tests.sim_fixtures import SimHandle

pytestmark = pytest.mark.browser

VISION = "meta-llama/Llama-3.2-11B-Vision-Instruct"
ANONYMOUS = "hf-chat=9c0d2e11-self-hosted-browser-session"  # no token: chat-ui without a login
WORDS = [f"w{i:02d} " for i in range(30)]


@pytest.fixture
def app_server(tmp_path: Path, huggingchat_sim: SimHandle) -> Iterator[AppServer]:
    server = start_app(tmp_path, {
        "CHATDECK_HUGGINGCHAT_URL": huggingchat_sim.url + "/chat", "CHATDECK_HUGGINGCHAT_COOKIES": ANONYMOUS,
    })
    yield server
    stop_app(server)


def test_image_reasoning_title_reload_and_follow_up(
    app_server: AppServer, huggingchat_sim: SimHandle, page: object, tmp_path: Path
) -> None:
    sim = huggingchat_sim.sim
    sim.script.chunks, sim.script.chunk_delay = WORDS, 0.05
    sim.script.thinking, sim.script.title = "The picture shows a red square", "A red square"
    picture = tmp_path / "square.png"
    PILImage.new("RGB", (8, 8), "red").save(picture)

    page.goto(f"{app_server.url}/?provider=huggingchat&model={VISION}")  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_test_id("stChatInput").locator("input[type=file]").set_input_files(str(picture))  # type: ignore[attr-defined]
    expect(page.get_by_test_id("stFileChip")).to_have_count(1, timeout=10_000)  # type: ignore[attr-defined]
    send(page, "What is in this picture?")

    # It streams: part of the answer is visible before all of it.
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (not seen or seen[-1] < 10):
        seen.append(len(re.findall(r"w\d\d", page.inner_text("body"))))  # type: ignore[attr-defined]
        time.sleep(0.1)
    assert any(0 < n < len(WORDS) for n in seen), seen
    expect(page.get_by_text("w29")).to_be_visible(timeout=20_000)  # type: ignore[attr-defined]
    wait_for_app(page)
    expect(page.get_by_role("heading", name="A red square")).to_be_visible(timeout=10_000)  # type: ignore[attr-defined]
    expect(page.get_by_test_id("stSidebar").get_by_role("button", name="A red square")).to_be_visible()  # type: ignore[attr-defined]
    page.get_by_text("Reasoning").click()  # type: ignore[attr-defined]
    expect(page.get_by_text("The picture shows a red square")).to_be_visible()  # type: ignore[attr-defined]
    assert [p.filename for p in sim.message_posts()[0].files] == ["base64;square.png"]

    # Reload: the stored conversation, with the attached image.
    page.reload()  # type: ignore[attr-defined]
    wait_for_app(page)
    expect(page.get_by_text("w29")).to_be_visible(timeout=15_000)  # type: ignore[attr-defined]
    expect(page.get_by_test_id("stChatMessage").first.locator("img")).to_have_count(1)  # type: ignore[attr-defined]

    # Continue: only the new message goes out, with the previous reply as its parent.
    sim.script.chunks, sim.script.thinking = ["Still ", "red."], ""
    send(page, "And its colour?")
    expect(page.get_by_text("Still red.")).to_be_visible(timeout=20_000)  # type: ignore[attr-defined]
    sent = sim.sent()
    assert len(sent) == 2 and sent[1]["inputs"] == "And its colour?"
    (conversation,) = sim.conversations.values()
    parent = conversation.find(sent[1]["id"])
    assert parent is not None and parent.role == "assistant" and parent.content == "".join(WORDS)
    assert conversation.messages[-1].content == "Still red."

    # Deleted on the server: the third turn starts a new HuggingChat conversation with the history.
    sim.conversations.clear()
    sim.script.chunks = ["Yes, ", "a square."]
    send(page, "Is it a square?")
    expect(page.get_by_text("Yes, a square.")).to_be_visible(timeout=20_000)  # type: ignore[attr-defined]
    expect(page.get_by_text("was deleted on the server", exact=False)).to_be_visible(timeout=10_000)  # type: ignore[attr-defined]
    assert sim.sent()[-1]["inputs"].startswith("User: What is in this picture?\nAssistant: w00")
    assert all("token=" not in r.headers.get("cookie", "") for r in sim.requests)
    assert page.get_by_test_id("stException").count() == 0  # type: ignore[attr-defined]
