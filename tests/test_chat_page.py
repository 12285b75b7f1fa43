"""The chat page under AppTest: the router, the pickers, sending, errors, links that survive a reload."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import application
from simulators.common import ForcedError
from tests.sim_fixtures import SimHandle

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")


@pytest.fixture
def app(sqlite_url: str, allenai_sim: SimHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    monkeypatch.setenv("CHATDECK_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CHATDECK_ALLENAI_URL", allenai_sim.url)
    yield AppTest.from_file(APP, default_timeout=30)
    application.reset()


def current_id(at: AppTest) -> str:
    value = at.query_params["c"]
    return value[0] if isinstance(value, list) else value


def texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def test_fresh_install_opens_on_the_ai2_playground(app: AppTest) -> None:
    app.run()
    assert not app.exception
    assert app.selectbox(key="provider").value == "allenai"
    assert app.chat_input(key="prompt") is not None
    assert "Chatdeck" in [t.value for t in app.title]
    assert any("conversations will appear here" in c.value for c in app.sidebar.caption)


def test_sending_streams_the_reply_and_puts_the_conversation_in_the_url(
    app: AppTest, allenai_sim: SimHandle
) -> None:
    allenai_sim.sim.script.chunks = ["Paris ", "is the ", "capital."]
    app.run()
    app.chat_input(key="prompt").set_value("What is the capital of France?").run()
    assert not app.exception
    assert [m.name for m in app.chat_message] == ["user", "assistant"]
    assert "Paris is the capital." in texts(app)
    conversation_id = current_id(app)
    assert len(conversation_id) == 32
    assert app.button(key=f"conv_{conversation_id}").label == "What is the capital of France?"


def test_a_reply_that_ends_while_drawn_is_drawn_as_stored_in_place_and_a_reopened_one_is_one_element(
    app: AppTest, allenai_sim: SimHandle
) -> None:
    """The run that drew a reply live draws it as stored when it ends (its blocks, its buttons, the prompt's
    edit button, its text for Alt+C) where the next rerun draws them, without a rerun of its own; a reload
    draws each text whole."""
    first, second = "A first paragraph, long enough to be a block. " * 10, "And a second one."  # BLOCK_MIN
    script = allenai_sim.sim.script
    script.chunks, script.chunk_delay = [first.strip() + "\n\n", second], 0.3  # drawn live
    app.run()
    app.chat_input(key="prompt").set_value("Two paragraphs, please").run()
    assert not app.exception
    answer, prompt = app.chat_message[1], app.chat_message[0]
    assert [m.value for m in answer.markdown] == [first.strip(), second]
    [reply_id] = [b.key.removeprefix("regen_") for b in answer.button if b.key and b.key.startswith("regen_")]
    assert [b.key for b in prompt.button if b.key and b.key.startswith("edit_")]
    keys = {e.key: json.loads(e.proto.json_args)["last_answer"] for e in app.get("component_instance")
            if "chatdeck_keys" in e.proto.component_name}
    assert keys["chatdeck_keys_again"] == f"{first.strip()}\n\n{second}"  # Alt+C; only this run draws it

    app.run()  # any rerun: the same elements in the same places
    assert not app.exception
    assert [m.value for m in app.chat_message[1].markdown] == [first.strip(), second]
    assert app.button(key=f"regen_{reply_id}") is not None

    reloaded = AppTest.from_file(APP, default_timeout=30)
    reloaded.query_params["c"] = current_id(app)
    reloaded.run()
    assert not reloaded.exception
    assert [m.value for m in reloaded.chat_message[1].markdown] == [f"{first.strip()}\n\n{second}"]


def test_a_link_to_a_conversation_reopens_it_and_continues_it(app: AppTest, allenai_sim: SimHandle) -> None:
    allenai_sim.sim.script.chunks = ["First answer."]
    app.run()
    app.chat_input(key="prompt").set_value("One").run()
    cid = current_id(app)

    reopened = AppTest.from_file(APP, default_timeout=30)
    reopened.query_params["c"] = cid
    reopened.run()
    assert "First answer." in texts(reopened)
    allenai_sim.sim.script.chunks = ["Second answer."]
    reopened.chat_input(key="prompt").set_value("Two").run()
    assert [m.name for m in reopened.chat_message] == ["user", "assistant", "user", "assistant"]
    chats = [r for r in allenai_sim.sim.requests if r.path.endswith("/chat")]
    assert chats[1].form["content"] == "Two" and chats[1].form["parent"]


def test_provider_and_model_in_the_url_preselect_a_new_chat(app: AppTest) -> None:
    app.query_params["provider"] = "allenai"
    app.query_params["model"] = "olmo-3.1-32b-think"
    app.run()
    assert app.selectbox(key="model_allenai").value == "olmo-3.1-32b-think"


def test_an_unknown_conversation_id_says_so(app: AppTest) -> None:
    app.query_params["c"] = "0" * 32
    app.run()
    assert any("not found" in w.value for w in app.warning)
    assert not app.chat_message


def test_backend_errors_appear_inline_and_keep_the_partial_text(app: AppTest, allenai_sim: SimHandle) -> None:
    allenai_sim.sim.script.chunks = ["Half ", "an ", "answer ", "and more"]
    allenai_sim.sim.script.disconnect_after = 2
    app.run()
    app.chat_input(key="prompt").set_value("Break please").run()
    assert "Half an" in " ".join(texts(app))
    errors = [e.value for e in app.error]
    assert errors and "Ai2 Playground" in errors[0] and "partial answer is kept" in errors[0]

    allenai_sim.sim.script.disconnect_after = None
    allenai_sim.sim.script.http_error = ForcedError(500, "Internal Server Error")
    app.chat_input(key="prompt").set_value("Again").run()
    assert any("HTTP 500" in e.value for e in app.error)
    assert [m.name for m in app.chat_message] == ["user", "assistant", "user", "assistant"]


def test_an_answer_cut_at_the_cap_and_read_only_in_part_says_both(
    app: AppTest, allenai_sim: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issues 13 and 14: the notes under the answer, live and after a reload."""
    monkeypatch.setenv("CHATDECK_MAX_REPLY_CHARS", "12")
    allenai_sim.sim.script.chunks, allenai_sim.sim.script.garbled_after = ["Twelve ", "chars ", "and more"], 1
    app.run()
    app.chat_input(key="prompt").set_value("Say a lot").run()
    for _ in range(2):  # as the reply finished live, then drawn from storage
        captions = [c.value for c in app.caption]
        assert "Twelve chars" in " ".join(texts(app)) and "and more" not in " ".join(texts(app))
        assert any("Answer cut at 12 characters" in c for c in captions), captions
        assert any("Part of this answer could not be read." in c for c in captions), captions
        app.run()


def test_switching_conversations_from_the_sidebar(app: AppTest, allenai_sim: SimHandle) -> None:
    app.run()
    app.chat_input(key="prompt").set_value("Alpha topic").run()
    first = current_id(app)
    app.button(key="new_chat").click().run()
    assert not app.chat_message
    app.chat_input(key="prompt").set_value("Beta topic").run()
    app.button(key=f"conv_{first}").click().run()
    assert "Alpha topic" in texts(app) and "Beta topic" not in texts(app)
