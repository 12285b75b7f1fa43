"""A prompt set of five prompts over three simulated backends, run from the page in chromium: progress shows,
the server is stopped half-way through a prompt and started again, the batch resumes by itself and finishes,
and a prompt's comparison reopens with its answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from simulators.hailuo import DEMO_DEVICE_ID, DEMO_TOKEN, DEMO_USER_ID
from simulators.openai_compat import SIM_TOKEN
from storage import comparisons
from storage import prompt_sets as store
from storage.db import make_engine, session
from storage.models import Batch
from tests.browser_fixtures import AppServer, start_app, stop_app, wait_for_app
from tests.sim_fixtures import SimHandle

pytestmark = pytest.mark.browser

PROMPTS = [f"Question {n}: what is {n} squared?" for n in range(1, 6)]


@pytest.fixture
def env(allenai_sim: SimHandle, huggingface_sim: SimHandle, hailuo_sim: SimHandle) -> dict[str, str]:
    for handle, word in ((allenai_sim, "ai2"), (huggingface_sim, "hf"), (hailuo_sim, "hailuo")):
        handle.sim.script.chunks = [f"{word}-{i} " for i in range(16)]
        handle.sim.script.chunk_delay = 0.25  # about four seconds a prompt: time to stop the server mid-way
    return {
        "CHATDECK_ALLENAI_URL": allenai_sim.url, "CHATDECK_HF_URL": huggingface_sim.url, "HF_TOKEN": SIM_TOKEN,
        "CHATDECK_HAILUO_URL": hailuo_sim.url, "CHATDECK_HAILUO_TOKEN": DEMO_TOKEN,
        "CHATDECK_HAILUO_DEVICE_ID": DEMO_DEVICE_ID, "CHATDECK_HAILUO_USER_ID": DEMO_USER_ID,
        "CHATDECK_SECRET_KEY": "browser-prompt-sets",
    }


@pytest.fixture
def servers() -> Iterator[list[AppServer]]:
    started: list[AppServer] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            stop_app(server)


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    yield context.new_page()
    context.close()


def batch_state(url: str) -> tuple[Batch, list[object]]:
    engine = make_engine(url)
    try:
        with session(engine) as s:
            batch = s.scalars(select(Batch)).one()
            return batch, store.items(s, batch.id)
    finally:
        engine.dispose()


def wait_until(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_batch_survives_a_server_restart_and_reopens(
    tmp_path: Path, env: dict[str, str], servers: list[AppServer], page: object,
) -> None:
    db = f"sqlite:///{tmp_path / 'app.db'}"  # start_app's database, kept across the restart
    servers.append(start_app(tmp_path, env))
    page.goto(servers[0].url + "/prompt-sets")  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_label("Name").fill("Squares")  # type: ignore[attr-defined]
    page.get_by_label("Prompts: one per line").fill("\n".join(PROMPTS))  # type: ignore[attr-defined]
    page.get_by_role("button", name="Save prompt set").click()  # type: ignore[attr-defined]
    expect(page.get_by_text("Saved, with 5 prompts.")).to_be_visible(timeout=20_000)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Run the batch").click()  # type: ignore[attr-defined]
    page.wait_for_url("**/prompt-sets?batch=*", timeout=20_000)  # type: ignore[attr-defined]
    expect(page.get_by_text("1 of 5 prompts answered")).to_be_visible(timeout=30_000)  # type: ignore[attr-defined]

    # Stop the server while a later prompt's replies are being written.
    def mid_prompt() -> bool:
        _, items = batch_state(db)
        return any(i.status == "running" and i.comparison_id and i.number > 0 for i in items)  # type: ignore[attr-defined]

    wait_until(mid_prompt, 30)
    stop_app(servers[0])
    batch, items = batch_state(db)
    assert batch.status == "running" and batch.lease_owner is None  # let go on the way out
    cut = next(i for i in items if i.status == "running")  # type: ignore[attr-defined]
    assert sum(i.status == "done" for i in items) < 5  # type: ignore[attr-defined]
    engine = make_engine(db)
    try:
        with session(engine) as s:  # the stop cut its replies off ("interrupted", text kept)
            (round_,) = comparisons.rounds(s, batch.owner_id, cut.comparison_id)  # type: ignore[attr-defined]
            assert {m.status for m in round_.answers.values()} == {"partial"}
    finally:
        engine.dispose()

    servers.append(start_app(tmp_path, env))  # the same database; nobody opens a page before it resumes
    wait_until(lambda: batch_state(db)[0].status == "done", 90)
    page.goto(f"{servers[1].url}/prompt-sets?batch={batch.id}")  # type: ignore[attr-defined]
    wait_for_app(page)
    expect(page.get_by_text("Finished: 5 of 5 prompts answered")).to_be_visible(timeout=20_000)  # type: ignore[attr-defined]
    batch, items = batch_state(db)
    assert [i.restarts for i in items] == [1 if i.number == cut.number else 0 for i in items]  # type: ignore[attr-defined]
    engine = make_engine(db)
    try:
        with session(engine) as s:
            for item in items:
                (round_,) = comparisons.rounds(s, batch.owner_id, item.comparison_id)  # type: ignore[attr-defined]
                assert sorted(m.status for m in round_.answers.values()) == ["complete"] * 3
                assert round_.prompt == PROMPTS[item.number]  # type: ignore[attr-defined]
    finally:
        engine.dispose()

    # Reopen the prompt that was cut off: its comparison, with all three answers.
    page.goto(f"{servers[1].url}/compare?cmp={items[cut.number].comparison_id}")  # type: ignore[attr-defined]
    wait_for_app(page)
    expect(page.get_by_role("heading", name=PROMPTS[cut.number][:80])).to_be_visible(timeout=20_000)  # type: ignore[attr-defined]
    for word in ("ai2-15", "hf-15", "hailuo-15"):
        expect(page.get_by_text(word, exact=False)).to_be_visible()  # type: ignore[attr-defined]
    expect(page.get_by_role("button", name="This one is best")).to_have_count(3)  # type: ignore[attr-defined]  # voteable
