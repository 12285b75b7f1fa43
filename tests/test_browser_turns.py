"""In chromium against the real app: Stop (also after a reload), regenerate and versions, edit, copy, Load earlier."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from storage import repository as repo
from storage.db import make_engine, session
from tests.browser_fixtures import AppServer, start_app, stop_app, wait_for_app
from tests.sim_fixtures import SimHandle, wait_for
from tests.test_browser import assistant_text, send, words_in

pytestmark = pytest.mark.browser

WORDS = [f"w{i:02d} " for i in range(100)]


@pytest.fixture
def app_server(tmp_path: Path, allenai_sim: SimHandle) -> Iterator[AppServer]:
    server = start_app(tmp_path, {"CHATDECK_ALLENAI_URL": allenai_sim.url})
    yield server
    stop_app(server)


def keyed_button(page: object, prefix: str) -> object:
    buttons = page.locator(f"[class*='st-key-{prefix}'][data-stale='false'] button")  # type: ignore[attr-defined]
    return buttons.locator("visible=true").first


def test_stop_after_a_reload_closes_the_backend_connection_and_keeps_the_partial_answer(
    app_server: AppServer, allenai_sim: SimHandle, page: object
) -> None:
    script = allenai_sim.sim.script
    script.chunks, script.chunk_delay = WORDS, 0.1  # ten seconds of streaming
    page.goto(app_server.url)  # type: ignore[attr-defined]
    wait_for_app(page)
    send(page, "Count slowly")
    page.wait_for_function("() => /w0[3-9]/.test(document.body.innerText)", timeout=15_000)  # type: ignore[attr-defined]

    page.reload()  # type: ignore[attr-defined]  # this page now tails a run it did not start
    stop = page.get_by_role("button", name="Stop")  # type: ignore[attr-defined]
    expect(stop).to_be_visible(timeout=15_000)
    page.wait_for_function("() => /w1[0-9]/.test(document.body.innerText)", timeout=15_000)  # type: ignore[attr-defined]
    stop.click()
    expect(page.get_by_text("Stopped.")).to_be_visible(timeout=10_000)  # type: ignore[attr-defined]
    assert wait_for(lambda: allenai_sim.sim.disconnects == 1, 5), "the simulator never saw the connection close"
    wait_for_app(page)
    stopped_at = words_in(assistant_text(page))
    assert 10 <= len(stopped_at) < len(WORDS)
    expect(stop).to_have_count(0)

    time.sleep(1.0)  # had the reply gone on, more words would be stored by now
    page.reload()  # type: ignore[attr-defined]
    wait_for_app(page)
    expect(page.get_by_text("Stopped.")).to_be_visible()  # type: ignore[attr-defined]
    assert words_in(assistant_text(page)) == stopped_at
    assert len(allenai_sim.sim.chat_requests()) == 1


def test_regenerate_switch_versions_copy_and_edit(app_server: AppServer, allenai_sim: SimHandle, page: object) -> None:
    script = allenai_sim.sim.script
    script.chunks = ["w01 ", "w02"]
    page.goto(app_server.url)  # type: ignore[attr-defined]
    wait_for_app(page)
    send(page, "Question one")
    expect(keyed_button(page, "regen_")).to_be_visible(timeout=15_000)
    assert words_in(assistant_text(page)) == ["w01", "w02"]

    script.chunks = ["w03 ", "w04"]
    keyed_button(page, "regen_").click()  # type: ignore[attr-defined]
    expect(page.get_by_text("2/2")).to_be_visible(timeout=15_000)  # type: ignore[attr-defined]
    wait_for_app(page)
    assert words_in(assistant_text(page)) == ["w03", "w04"]
    assert page.get_by_test_id("stChatMessage").count() == 2  # type: ignore[attr-defined]

    keyed_button(page, "version_prev_").click()  # type: ignore[attr-defined]
    expect(page.get_by_text("1/2")).to_be_visible(timeout=10_000)  # type: ignore[attr-defined]
    wait_for_app(page)
    assert words_in(assistant_text(page)) == ["w01", "w02"]
    page.reload()  # type: ignore[attr-defined]  # the choice is stored
    wait_for_app(page)
    expect(page.get_by_text("1/2")).to_be_visible(timeout=10_000)  # type: ignore[attr-defined]
    assert words_in(assistant_text(page)) == ["w01", "w02"]

    # Copy: the copy icon shows the text in a code box with its copy button; pressing it again hides it.
    answer_copy = ("[data-testid='stChatMessage']:has([data-testid='stChatMessageAvatarAssistant']) "
                   "[class*='st-key-copy_'] button")
    copy = page.locator(answer_copy).last  # type: ignore[attr-defined]  # the answer's, not the question's
    expect(copy).to_be_visible(timeout=10_000)
    copy.focus()
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    code = page.get_by_test_id("stCode")  # type: ignore[attr-defined]
    expect(code).to_contain_text("w01 w02", timeout=10_000)
    code.hover()
    expect(code.get_by_role("button")).to_have_count(1)  # Streamlit's own copy-to-clipboard button
    wait_for_app(page)
    page.locator(answer_copy).last.click()  # type: ignore[attr-defined]
    expect(code).to_have_count(0, timeout=10_000)

    # Edit the question and resend: the new exchange replaces it on screen, the old one is a version.
    keyed_button(page, "edit_").click()  # type: ignore[attr-defined]
    box = page.get_by_label("Edit your message")  # type: ignore[attr-defined]
    expect(box).to_have_value("Question one", timeout=10_000)
    box.fill("Question two")
    script.chunks = ["w05 ", "w06"]
    page.get_by_test_id("stBaseButton-primaryFormSubmit").click()  # type: ignore[attr-defined]
    expect(page.get_by_text("3/3")).to_be_visible(timeout=15_000)  # type: ignore[attr-defined]
    wait_for_app(page)
    body = " ".join(page.get_by_test_id("stChatMessage").all_inner_texts())  # type: ignore[attr-defined]
    assert "Question two" in body and "Question one" not in body
    assert words_in(assistant_text(page)) == ["w05", "w06"]
    requests = allenai_sim.sim.chat_requests()
    assert [r.form["content"] for r in requests][-1] == "Question two"
    assert len(requests) == 3


def test_load_earlier_on_a_long_conversation(tmp_path: Path, allenai_sim: SimHandle, page: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    with session(engine) as s:
        owner = repo.local_user(s).id
        cid = repo.create_conversation(s, owner, provider="allenai", model="olmo-3.1-32b-instruct", title="Long").id
        for i in range(2000):
            repo.add_message(s, owner, cid, role="user" if i % 2 == 0 else "assistant", content=f"m{i:04d}")
    engine.dispose()
    server = start_app(tmp_path, {"CHATDECK_ALLENAI_URL": allenai_sim.url})
    try:
        page.goto(f"{server.url}/?c={cid}")  # type: ignore[attr-defined]
        wait_for_app(page)
        messages = page.get_by_test_id("stChatMessage")  # type: ignore[attr-defined]
        expect(messages).to_have_count(50, timeout=20_000)
        expect(messages.first).to_contain_text("m1950")
        page.get_by_role("button", name=re.compile("Load earlier")).click()  # type: ignore[attr-defined]
        expect(messages).to_have_count(100, timeout=20_000)
        expect(messages.first).to_contain_text("m1900")
        expect(messages.last).to_contain_text("m1999")
    finally:
        stop_app(server)


def test_a_reply_that_ends_on_screen_gets_its_buttons_and_alt_c_copies_it(
    app_server: AppServer, allenai_sim: SimHandle, browser: object
) -> None:
    """The run that drew the reply adds its buttons, the prompt's edit button and its text for Alt+C."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_server.url)
    page = context.new_page()
    try:
        script = allenai_sim.sim.script
        for n, question in enumerate(["First question", "Second question"]):
            script.chunks, script.chunk_delay = [f"a{n}{i} " for i in range(20)], 0.05  # a second, drawn live
            if n == 0:
                page.goto(app_server.url)
            wait_for_app(page)
            send(page, question)
            page.wait_for_function(f"() => document.body.innerText.includes('a{n}19')", timeout=15_000)  # type: ignore[attr-defined]
            wait_for_app(page)
            expect(keyed_button(page, "regen_")).to_be_visible(timeout=10_000)
            expect(keyed_button(page, "edit_")).to_be_visible(timeout=10_000)
            assert page.locator(".st-key-chatdeck_keys_again").count() == 1  # type: ignore[attr-defined]  # no rerun
            page.keyboard.press("Alt+C")  # type: ignore[attr-defined]
            expected = [f"a{n}{i}" for i in range(20)]
            assert wait_for(lambda: page.evaluate("() => navigator.clipboard.readText()").split() == expected, 10)  # type: ignore[attr-defined]  # noqa: B023
    finally:
        context.close()  # type: ignore[attr-defined]
