"""A conversation started through ``/v1`` continues in the UI, and one continued in the UI continues
through ``/v1`` again, the Ai2 Playground (a web backend) receiving only each new message throughout."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser_fixtures import send, wait_for_app
from tests.v1_fixtures import MODELS, V1Env, start_v1_env

pytestmark = pytest.mark.browser

MODEL = f"allenai/{MODELS['allenai']}"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[V1Env]:
    yield from start_v1_env(tmp_path_factory.mktemp("v1-browser"))


def _sent(env: V1Env) -> str:
    record = env.sims["allenai"].chat_requests()[-1]
    return (dict(record.form) or {k: str(v) for k, v in (record.json_body or {}).items()})["content"]


def test_an_api_conversation_continues_in_the_ui_and_back(env: V1Env, browser: object) -> None:
    client = env.client("local")
    sim = env.sims["allenai"]
    sim.script.chunks = ["Alpha ", "from the API."]
    first = client.chat.completions.with_raw_response.create(model=MODEL, messages=[
        {"role": "user", "content": "Question from a script"}])
    conversation = first.headers["x-chatdeck-conversation"]
    assert first.parse().choices[0].message.content == "Alpha from the API."

    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    try:
        page.goto(f"{env.app.url}/?c={conversation}")
        wait_for_app(page)
        expect(page.get_by_text("Question from a script").first).to_be_visible(timeout=20_000)
        expect(page.get_by_text("Alpha from the API.")).to_be_visible()
        sim.script.chunks = ["Beta ", "in the UI."]
        send(page, "A follow-up typed in the browser")
        expect(page.get_by_text("Beta in the UI.")).to_be_visible(timeout=20_000)
        assert _sent(env) == "A follow-up typed in the browser"  # the API's Ai2 thread went on
        assert page.get_by_test_id("stException").count() == 0
    finally:
        context.close()

    sim.script.chunks = ["Gamma ", "through the API again."]
    third = client.chat.completions.with_raw_response.create(model=MODEL, messages=[
        {"role": "user", "content": "Question from a script"}, {"role": "assistant", "content": "Alpha from the API."},
        {"role": "user", "content": "A follow-up typed in the browser"},
        {"role": "assistant", "content": "Beta in the UI."},
        {"role": "user", "content": "Third, from the script"}])
    assert third.headers["x-chatdeck-conversation"] == conversation  # recognised, UI turn included
    assert third.parse().choices[0].message.content == "Gamma through the API again."
    assert _sent(env) == "Third, from the script"
    assert [m[1] for m in env.messages("local", conversation)] == [
        "Question from a script", "Alpha from the API.", "A follow-up typed in the browser", "Beta in the UI.",
        "Third, from the script", "Gamma through the API again."]


def test_a_ui_conversation_continues_through_the_api(env: V1Env, browser: object) -> None:
    sim = env.sims["allenai"]
    sim.script.chunks = ["Delta ", "from the UI."]
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    try:
        page.goto(f"{env.app.url}/?provider=allenai&model={MODELS['allenai']}")
        wait_for_app(page)
        send(page, "Started in the browser")
        expect(page.get_by_text("Delta from the UI.")).to_be_visible(timeout=20_000)
        page.wait_for_url("**c=*", timeout=20_000)
        conversation = page.url.split("c=")[1].split("&")[0]
    finally:
        context.close()

    sim.script.chunks = ["Epsilon."]
    raw = env.client("local").chat.completions.with_raw_response.create(model=MODEL, messages=[
        {"role": "user", "content": "Started in the browser"}, {"role": "assistant", "content": "Delta from the UI."},
        {"role": "user", "content": "Continued by a script"}])
    assert raw.headers["x-chatdeck-conversation"] == conversation
    assert _sent(env) == "Continued by a script"
    assert [m[1] for m in env.messages("local", conversation)][-2:] == ["Continued by a script", "Epsilon."]
