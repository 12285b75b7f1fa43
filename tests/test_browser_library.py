"""In the browser: a conversation exported from its menu (Markdown and JSON downloads), every conversation
exported from Settings → Your data, and that file imported back after the conversation was deleted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from storage import repository as repo
from storage.db import make_engine, session
from tests.browser_fixtures import AppServer, start_app, stop_app, wait_for_app
from tests.sim_fixtures import SimHandle

pytestmark = pytest.mark.browser


@pytest.fixture
def seeded(tmp_path: Path) -> str:
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")  # the database start_app points the app at
    try:
        with session(engine) as s:
            owner = repo.local_user(s).id
            c = repo.create_conversation(s, owner, provider="allenai", model="olmo-3.1-32b-think", title="Tides")
            repo.add_message(s, owner, c.id, role="user", content="Why two tides a day?")
            reply = repo.add_message(s, owner, c.id, role="assistant", content="The Moon *pulls* the sea.")
            repo.update_message(s, reply.id, reasoning="Gravity, and the Earth's turn.")
            return c.id
    finally:
        engine.dispose()


@pytest.fixture
def app_server(tmp_path: Path, allenai_sim: SimHandle, seeded: str) -> Iterator[AppServer]:
    server = start_app(tmp_path, {"CHATDECK_ALLENAI_URL": allenai_sim.url})
    yield server
    stop_app(server)


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)  # type: ignore[attr-defined]
    yield context.new_page()
    context.close()


def _download(page: object, label: str, tmp_path: Path) -> Path:
    with page.expect_download(timeout=20_000) as info:  # type: ignore[attr-defined]
        page.get_by_test_id("stDownloadButton").filter(has_text=label).locator("button").click()  # type: ignore[attr-defined]
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    return target


def test_export_downloads_and_import_back(app_server: AppServer, seeded: str, page: object, tmp_path: Path) -> None:
    page.goto(f"{app_server.url}/?c={seeded}")  # type: ignore[attr-defined]
    wait_for_app(page)
    sidebar = page.get_by_test_id("stSidebar")  # type: ignore[attr-defined]
    sidebar.get_by_test_id("stPopover").locator("button").first.click()
    markdown = _download(page, "Export as Markdown", tmp_path)
    assert markdown.name == "Tides.md"
    text = markdown.read_text()
    assert text.startswith("# Tides") and "The Moon *pulls* the sea." in text and "Gravity" not in text

    page.get_by_text("Include reasoning").click()  # type: ignore[attr-defined]
    wait_for_app(page)
    if not page.get_by_test_id("stDownloadButton").filter(has_text="Export as JSON").is_visible():  # type: ignore[attr-defined]
        sidebar.get_by_test_id("stPopover").locator("button").first.click()  # the rerun closed the menu
    exported = json.loads(_download(page, "Export as JSON", tmp_path).read_text())
    [conversation] = exported["conversations"]
    assert conversation["id"] == seeded
    assert conversation["messages"][1]["reasoning"] == "Gravity, and the Earth's turn."
    assert page.get_by_test_id("stException").count() == 0  # type: ignore[attr-defined]

    # Settings → Your data: everything as one file; delete the conversation, import the file back.
    page.goto(f"{app_server.url}/settings")  # type: ignore[attr-defined]
    wait_for_app(page)
    everything = _download(page, "Export all conversations", tmp_path)
    assert json.loads(everything.read_text())["conversations"][0]["title"] == "Tides"
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        with session(engine) as s:
            assert repo.delete_conversation(s, repo.local_user(s).id, seeded)
    finally:
        engine.dispose()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(everything))  # type: ignore[attr-defined]
    expect(page.get_by_role("button", name=f"Remove {everything.name}")).to_be_visible(timeout=10_000)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Import", exact=True).click()  # type: ignore[attr-defined]
    expect(page.get_by_text("1 conversation imported (2 messages)")).to_be_visible(timeout=20_000)  # type: ignore[attr-defined]
    # and once more (a copy: the file input ignores the same file twice): nothing is added
    again = tmp_path / "again.json"
    again.write_bytes(everything.read_bytes())
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(again))  # type: ignore[attr-defined]
    expect(page.get_by_role("button", name="Remove again.json")).to_be_visible(timeout=10_000)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Import", exact=True).click()  # type: ignore[attr-defined]
    expect(page.get_by_text("0 conversations imported (0 messages); 1 already here, skipped.")).to_be_visible(  # type: ignore[attr-defined]
        timeout=20_000
    )
    page.goto(f"{app_server.url}/?c={seeded}")  # type: ignore[attr-defined]
    wait_for_app(page)
    expect(page.get_by_text("The Moon pulls the sea.")).to_be_visible(timeout=20_000)  # type: ignore[attr-defined]
