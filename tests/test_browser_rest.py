"""A conversation started through the REST endpoint is visible in the UI and continues there."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from api import tokens
from simulators.openai_compat import SIM_TOKEN
from storage import repository as repo
from storage.db import make_engine, session
from tests.browser_fixtures import AppServer, start_app, stop_app, wait_for_app
from tests.sim_fixtures import SimHandle

pytestmark = pytest.mark.browser

SECRET = "browser-rest-secret-0123456789"
MODEL = "meta-llama/Llama-3.3-70B-Instruct"


@pytest.fixture
def app_server(tmp_path: Path, huggingface_sim: SimHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppServer]:
    monkeypatch.setenv("CHATDECK_SECRET_KEY", SECRET)
    server = start_app(tmp_path, {"CHATDECK_HF_URL": huggingface_sim.url, "HF_TOKEN": SIM_TOKEN,
                                  "CHATDECK_SECRET_KEY": SECRET})
    yield server
    stop_app(server)


def test_a_rest_conversation_is_visible_and_continuable_in_the_ui(
    app_server: AppServer, huggingface_sim: SimHandle, tmp_path: Path, browser: object
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    with session(engine) as s:  # the UI's single local user issues the token, as in Settings
        token = tokens.issue(s, repo.local_user(s).id, name="browser", lifetime=timedelta(hours=1)).token
    engine.dispose()
    huggingface_sim.sim.script.chunks = ["Alpha ", "from ", "REST."]
    response = httpx.post(
        f"{app_server.url}/api/ai/huggingface/{MODEL}/chat", params={"chat_id": "from-a-script"}, timeout=30,
        headers={"Authorization": f"Bearer {token}"},
        json={"messages": [{"role": "user", "content": "Question sent by a script"}]},
    )
    assert response.status_code == 200 and response.text == "Alpha from REST."
    conversation = response.headers["x-conversation-id"]

    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    try:
        page.goto(f"{app_server.url}/?c={conversation}")
        wait_for_app(page)
        expect(page.get_by_text("Question sent by a script").first).to_be_visible(timeout=20_000)
        expect(page.get_by_text("Alpha from REST.")).to_be_visible()
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_role("button", name="Question sent by a script")).to_be_visible()

        huggingface_sim.sim.script.chunks = ["Beta ", "in the UI."]
        box = page.get_by_test_id("stChatInputTextArea")
        box.fill("A follow-up typed in the browser")
        box.press("Enter")
        expect(page.get_by_text("Beta in the UI.")).to_be_visible(timeout=20_000)
        sent = huggingface_sim.sim.chat_requests()[-1].json_body
        assert sent["model"] == MODEL
        assert [(m["role"], m["content"]) for m in sent["messages"]] == [
            ("user", "Question sent by a script"), ("assistant", "Alpha from REST."),
            ("user", "A follow-up typed in the browser")]
        assert page.get_by_test_id("stException").count() == 0
    finally:
        context.close()
