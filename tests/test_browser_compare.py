"""The compare page in a real browser: three simulated backends of different speeds at once."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from simulators.common import ForcedError
from simulators.hailuo import DEMO_DEVICE_ID, DEMO_TOKEN, DEMO_USER_ID
from simulators.openai_compat import SIM_TOKEN
from tests.browser_fixtures import AppServer, send, start_app, stop_app, wait_for_app
from tests.sim_fixtures import SimHandle

pytestmark = pytest.mark.browser

ANSWER = {"a": 30, "h": 30, "f": 30}  # words per backend: Ai2 "a00..", HailuoAI "h00..", Hugging Face "f00.."


@pytest.fixture
def app_server(tmp_path: Path, allenai_sim: SimHandle, hailuo_sim: SimHandle,
               huggingface_sim: SimHandle) -> Iterator[AppServer]:
    for handle, letter, delay in ((allenai_sim, "a", 0.08), (hailuo_sim, "h", 0.1), (huggingface_sim, "f", 0.13)):
        handle.sim.script.chunks = [f"{letter}{i:02d} " for i in range(ANSWER[letter])]
        handle.sim.script.chunk_delay = delay
    server = start_app(tmp_path, {
        "CHATDECK_ALLENAI_URL": allenai_sim.url, "CHATDECK_HAILUO_URL": hailuo_sim.url,
        "CHATDECK_HAILUO_TOKEN": DEMO_TOKEN, "CHATDECK_HAILUO_DEVICE_ID": DEMO_DEVICE_ID,
        "CHATDECK_HAILUO_USER_ID": DEMO_USER_ID, "CHATDECK_HF_URL": huggingface_sim.url, "HF_TOKEN": SIM_TOKEN,
        "CHATDECK_SECRET_KEY": "browser-compare",
    })
    yield server
    stop_app(server)


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1500, "height": 1000})  # type: ignore[attr-defined]
    yield context.new_page()
    context.close()


def words(page: object) -> dict[str, int]:
    text = page.inner_text("[data-testid='stAppViewContainer']")  # type: ignore[attr-defined]
    return {letter: len(set(re.findall(rf"\b{letter}\d\d\b", text))) for letter in ANSWER}


def test_three_backends_stream_at_once_errors_stay_in_their_column_and_votes_count(
    app_server: AppServer, page: object, huggingface_sim: SimHandle
) -> None:
    page.goto(app_server.url + "/compare")  # type: ignore[attr-defined]
    wait_for_app(page)
    expect(page.get_by_text("Columns")).to_be_visible()  # type: ignore[attr-defined]
    send(page, "Count for me")

    # All three columns partly filled at the same moment: concurrent, not one after another.
    seen_together = False
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not seen_together:
        counts = words(page)
        seen_together = all(0 < counts[k] < ANSWER[k] for k in ANSWER)
        time.sleep(0.05)
    assert seen_together, f"never saw all three columns streaming at once (last: {counts})"
    expect(page.get_by_role("button", name="This one is best")).to_have_count(3, timeout=20_000)  # type: ignore[attr-defined]
    assert words(page) == ANSWER
    comparison_url = page.url  # type: ignore[attr-defined]
    assert "cmp=" in comparison_url

    # A failing backend shows its error in its own column; the others complete.
    huggingface_sim.sim.script.http_error = ForcedError(503, "Model is overloaded")
    send(page, "Count again")
    # the first round's three vote buttons, and the second round's once all its columns are done
    expect(page.get_by_role("button", name="This one is best")).to_have_count(6, timeout=20_000)  # type: ignore[attr-defined]
    expect(page.get_by_text(re.compile("Hugging Face.*unavailable"))).to_be_visible()  # type: ignore[attr-defined]
    second_round = page.get_by_test_id("stChatMessage").all_inner_texts()  # type: ignore[attr-defined]
    assert sum("a29" in t for t in second_round) == 2 and sum("h29" in t for t in second_round) == 2

    # Vote on the first round (HailuoAI is the second column), then the leaderboard counts it.
    page.get_by_role("button", name="This one is best").nth(1).click()  # type: ignore[attr-defined]
    expect(page.get_by_text("You voted best")).to_be_visible()  # type: ignore[attr-defined]
    page.goto(app_server.url + "/leaderboard")  # type: ignore[attr-defined]
    wait_for_app(page)
    expect(page.get_by_text("answers in 2 rounds")).to_be_visible(timeout=20_000)  # type: ignore[attr-defined]

    # A past comparison reopens from its link with its answers and figures.
    page.goto(comparison_url)  # type: ignore[attr-defined]
    wait_for_app(page)
    expect(page.get_by_text("You voted best")).to_be_visible()  # type: ignore[attr-defined]
    assert words(page) == ANSWER
    assert page.get_by_text(re.compile("first token")).count() >= 5  # type: ignore[attr-defined]
