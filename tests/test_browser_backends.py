"""The Backends page in a browser: states from real replies, and an explicit check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from simulators.common import ForcedError
from tests.browser_fixtures import AppServer, start_app, stop_app, wait_for_app
from tests.sim_fixtures import SimHandle

pytestmark = pytest.mark.browser


@pytest.fixture
def app_server(tmp_path: Path, allenai_sim: SimHandle) -> Iterator[AppServer]:
    server = start_app(tmp_path, {"CHATDECK_ALLENAI_URL": allenai_sim.url, "CHATDECK_SECRET_KEY": "backends"})
    yield server
    stop_app(server)


def test_a_drifted_answer_shows_as_protocol_changed_with_a_redacted_snippet_then_a_check_clears_it(
    app_server: AppServer, allenai_sim: SimHandle, browser: object
) -> None:
    context = browser.new_context(viewport={"width": 1300, "height": 1000})  # type: ignore[attr-defined]
    page = context.new_page()
    allenai_sim.sim.script.rename = ("modelResponse", "content", "text")
    page.goto(app_server.url)
    wait_for_app(page)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill("Hello")
    box.press("Enter")
    expect(page.get_by_text("protocol changed").first).to_be_visible(timeout=20_000)

    page.goto(app_server.url + "/backends")
    wait_for_app(page)
    expect(page.get_by_text("Fix:").first).to_be_visible(timeout=20_000)
    expect(page.get_by_text("answered in a format Chatdeck does not know")).to_be_visible()
    expect(page.get_by_test_id("stCode").first).to_contain_text("modelResponse")
    expect(page.get_by_text("protocol in use")).to_have_count(0)  # nothing succeeded yet

    allenai_sim.sim.script.rename = None
    allenai_sim.sim.script.models_error = ForcedError(503, "Service Unavailable")
    page.get_by_role("button", name="Check now").first.click()
    expect(page.get_by_text("unreachable").first).to_be_visible(timeout=20_000)
    expect(page.get_by_role("button", name="Check now").first).to_be_disabled()
    context.close()
