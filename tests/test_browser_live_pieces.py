"""A long paragraph streams as pieces (markup/live_pieces.py) that the page draws as one flowing paragraph."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser_fixtures import AppServer, send, start_app, stop_app, wait_for_app
from tests.sim_fixtures import SimHandle

pytestmark = pytest.mark.browser

SENTENCE = "Plain words stream into one long paragraph with **bold words** inside it, sentence number {n}. "
ANSWER = "".join(SENTENCE.format(n=n) for n in range(40)).strip()  # ~3,800 characters, no line break

# The live block's container and, per piece, its text and the client rectangles of its first and last lines.
LIVE_JS = """() => {
  const box = document.querySelector("[class*='st-key-chatdeck-live-']");
  if (!box) return null;
  const pieces = [...box.querySelectorAll(":scope > [data-testid='stElementContainer']")].map(el => {
    const ps = el.querySelectorAll("[data-testid='stMarkdownContainer'] > p");
    const first = ps[0].getClientRects(), last = ps[ps.length - 1].getClientRects();
    return {text: el.innerText, paragraphs: ps.length, firstTop: first[0].top,
            lastTop: last[last.length - 1].top, lastDisplay: getComputedStyle(ps[ps.length - 1]).display};
  });
  return {display: getComputedStyle(box).display, pieces};
}"""


@pytest.fixture
def app_server(tmp_path: Path, allenai_sim: SimHandle) -> Iterator[AppServer]:
    server = start_app(tmp_path, {"CHATDECK_ALLENAI_URL": allenai_sim.url})
    yield server
    stop_app(server)


def words(text: str) -> str:
    return " ".join(re.sub(r"\*\*", "", text).split())


def test_a_long_paragraph_streams_in_pieces_that_flow_as_one(
    app_server: AppServer, allenai_sim: SimHandle, page: Any
) -> None:
    script = allenai_sim.sim.script
    script.chunks = [ANSWER[at : at + 12] for at in range(0, len(ANSWER), 12)]
    script.chunk_delay = 0.02  # about six seconds
    page.goto(app_server.url)
    wait_for_app(page)
    send(page, "One long paragraph, please")

    seen: dict[str, Any] | None = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        live = page.evaluate(LIVE_JS)
        if live and len(live["pieces"]) >= 5:
            seen = live
            break
        time.sleep(0.1)
    assert seen is not None, "the paragraph was never cut into pieces while it streamed"
    assert seen["display"] == "block"
    drawn = " ".join(piece["text"] for piece in seen["pieces"])
    assert ANSWER.replace("**", "").startswith(words(drawn)), drawn[:200]  # each word once, in order
    pairs = list(zip(seen["pieces"], seen["pieces"][1:], strict=False))
    for before, after in pairs:
        assert before["paragraphs"] == 1 and before["lastDisplay"] == "inline"
        assert -3 < after["firstTop"] - before["lastTop"] < 30, (before, after)  # at most the next line
    # the next piece goes on on the line where this one stopped (the next line only if it stopped at its end)
    same_line = [abs(after["firstTop"] - before["lastTop"]) < 3 for before, after in pairs]
    assert sum(same_line) >= 0.75 * len(pairs), seen

    # Finished: drawn again from storage, one element for the whole paragraph.
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=30_000)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and page.locator("[class*='st-key-chatdeck-live-']").count():
        time.sleep(0.2)
    assert page.locator("[class*='st-key-chatdeck-live-']").count() == 0
    message = page.locator("[data-testid='stChatMessage']:has([data-testid='stChatMessageAvatarAssistant'])")
    texts = message.get_by_test_id("stMarkdownContainer").all_inner_texts()
    assert words(texts[0]) == words(ANSWER)


def test_the_first_answer_shows_once_while_the_next_one_streams(
    app_server: AppServer, allenai_sim: SimHandle, page: Any
) -> None:
    """The first reply, drawn live then stored, is on screen once (no stale piece or block) while the next streams."""
    script = allenai_sim.sim.script
    script.chunks = [ANSWER[at : at + 40] for at in range(0, len(ANSWER), 40)]
    script.chunk_delay = 0.01
    page.goto(app_server.url)
    wait_for_app(page)
    send(page, "First question")
    message = page.locator("[data-testid='stChatMessage']:has([data-testid='stChatMessageAvatarAssistant'])")
    page.get_by_text("first token").first.wait_for(timeout=30_000)  # the first reply's caption: it is stored
    wait_for_app(page)

    second = "Another answer, streamed slowly. " * 20
    script.chunks = [second[at : at + 8] for at in range(0, len(second), 8)]
    script.chunk_delay = 0.05
    send(page, "Second question")
    checked = 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and checked < 10:
        if message.count() >= 2 and "Another" in message.nth(1).inner_text():
            first = message.nth(0).inner_text()
            assert first.count("sentence number 39") == 1, first[-300:]
            assert "Another" not in first
            checked += 1
        time.sleep(0.1)
    assert checked == 10, "the second reply was not seen streaming"
