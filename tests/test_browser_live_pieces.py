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
