"""Buttons whose callbacks call a service that returns a result (wrapped by views.callbacks.ignoring_result so
Streamlit's types hold) still do their work under AppTest: saving an open conversation's system prompt, and
deleting one's own preset from the sidebar."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from storage import presets
from storage import repository as repo
from storage.db import get_engine, session

CHAT = "from views import chat\nchat.render()"


def _chat_page(conversation_id: str | None = None) -> AppTest:
    at = AppTest.from_string(CHAT, default_timeout=30)
    if conversation_id is not None:
        at.query_params["c"] = conversation_id
    return at


def test_save_system_prompt_stores_it_on_the_open_conversation(pages_env: None) -> None:
    with session(get_engine()) as s:
        me = repo.local_user(s).id
        chat_id = repo.create_conversation(s, me, provider="allenai", model="olmo-3.1-32b-instruct",
                                           title="Trip", system_prompt="Be brief.").id
    at = _chat_page(chat_id).run()
    at.text_area(key=f"system_{chat_id}").set_value("Answer in French.").run()
    at.button(key=f"save_system_{chat_id}").click().run()
    assert not at.exception
    with session(get_engine()) as s:
        conversation = repo.get_conversation(s, me, chat_id)
        assert conversation is not None and conversation.system_prompt == "Answer in French."


def test_the_delete_button_removes_ones_own_preset(pages_env: None) -> None:
    with session(get_engine()) as s:
        me = repo.local_user(s).id
        preset_id = presets.create(s, me, name="Terse", provider="allenai", model="olmo-3.1-32b-instruct").id
    at = _chat_page().run()
    at.button(key=f"preset_delete_{preset_id}").click().run()
    assert not at.exception
    with session(get_engine()) as s:
        assert presets.get(s, me, preset_id) is None
    assert not any(b.key == f"preset_delete_{preset_id}" for b in at.button)
