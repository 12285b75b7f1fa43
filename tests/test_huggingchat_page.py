"""HuggingChat in the pages under AppTest: image attachments, the answer's extras, the sidebar switches,
and the Settings login form with its connection check (real runner, real provider, loopback simulator)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image as PILImage
from streamlit.testing.v1 import AppTest

import application
from markup.safe_markdown import plain
from runner.runner import get_runner
from simulators.huggingchat_wire import MESSAGE_FIELDS
from storage import repository as repo
from storage.db import get_engine, session
from tests.sim_fixtures import SimHandle
from tests.sim_huggingchat import DEMO_COOKIES
from views.uploads import MAX_SIDE, prepare_image

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
VISION = "meta-llama/Llama-3.2-11B-Vision-Instruct"
THINKER = "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B"  # reasons; the simulated model list says it does not
ANONYMOUS = "hf-chat=5b1e0c7a-self-hosted-session"


def png(size: tuple[int, int] = (4, 3), color: str = "red") -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def _settings_page() -> None:
    from views import settings

    settings.render()


@pytest.fixture
def env(sqlite_url: str, huggingchat_sim: SimHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimHandle]:
    monkeypatch.setenv("CHATDECK_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CHATDECK_SECRET_KEY", "huggingchat-page-test")
    monkeypatch.setenv("CHATDECK_HUGGINGCHAT_URL", huggingchat_sim.url + "/chat")
    yield huggingchat_sim
    application.reset()


def open_chat(model: str = VISION) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["provider"] = "huggingchat"
    at.query_params["model"] = model
    return at.run()


def test_an_attached_image_is_checked_sent_stored_and_shown(
    env: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATDECK_HUGGINGCHAT_COOKIES", DEMO_COOKIES)  # the server-wide login
    sim = env.sim
    sim.script.chunks, sim.script.thinking = ["A red ", "square."], "Looking at the pixels"
    sim.script.title, sim.script.router_model = "Red square", "Qwen/Qwen3-VL"
    sim.script.reasoning_style = "typed"  # the older reasoning lines, with their status
    at = open_chat()
    assert not at.exception and at.selectbox(key="provider").value == "huggingchat"
    box = at.chat_input(key="prompt")
    box.upload("square.png", png(), "image/png")  # refused files: tests/test_image_pages.py
    box.set_value("What is this?").run()
    assert not at.exception
    part = sim.message_posts()[0].files
    assert [p.filename for p in part] == ["base64;square.png"] and base64.b64decode(part[0].data) == png()
    assert sim.sent()[0]["inputs"] == "What is this?"
    with session(get_engine()) as s:
        owner = repo.local_user(s).id
        conversation = repo.list_conversations(s, owner)[0]
        user, reply = repo.recent_messages(s, owner, conversation.id, limit=5)
    assert user.attachments[0]["name"] == "square.png" and base64.b64decode(user.attachments[0]["data_b64"]) == png()
    assert conversation.title == "Red square"  # the backend's title renamed the conversation
    assert reply.content == "A red square." and reply.extra["answered_by"]["model"] == "Qwen/Qwen3-VL"
    assert reply.extra["reasoning_status"] == "Done in 1s."

    reopened = AppTest.from_file(APP, default_timeout=30)
    reopened.query_params["c"] = conversation.id
    reopened.run()
    assert len(reopened.image) == 1  # the attached image, drawn from storage
    assert any(f"answered by {plain('Qwen/Qwen3-VL')}" in c.value for c in reopened.caption)
    assert any("Looking at the pixels" in m.value and plain("Done in 1s.") in m.value for m in reopened.markdown)
    assert "Red square" in [h.value for h in reopened.subheader]


def test_a_title_the_backend_gives_while_the_reply_is_drawn_is_shown_when_it_ends(
    env: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page that drew the reply live redraws itself whole for a new title: it is also in the sidebar."""
    monkeypatch.setenv("CHATDECK_HUGGINGCHAT_COOKIES", DEMO_COOKIES)
    sim = env.sim
    sim.script.chunks, sim.script.chunk_delay, sim.script.title = ["A short ", "answer."], 0.3, "Backend title"
    at = open_chat()
    at.chat_input(key="prompt").set_value("Please name this chat").run()
    assert not at.exception
    assert [h.value for h in at.subheader] == ["Backend title"]
    assert "Backend title" in [b.label for b in at.sidebar.button]
    assert any(b.key and b.key.startswith("regen_") for b in at.button)


def test_text_models_take_no_files_and_no_dead_switches_are_offered(
    env: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Web search and image generation are no request flags any more: no switch; the server's own tools
    (MCP servers) may still search and draw, and what they bring is shown."""
    monkeypatch.setenv("CHATDECK_HUGGINGCHAT_COOKIES", DEMO_COOKIES)
    sim = env.sim
    sim.script.image, sim.script.image_mime = png((2, 2), "blue"), "image/png"
    sim.script.sources = [("https://example.org/a?utm_source=chat", "Example A")]
    at = open_chat("Qwen/Qwen2.5-72B-Instruct")
    assert at.chat_input(key="prompt").proto.accept_file == 0  # no attachments for a text model
    labels = [t.label for t in at.sidebar.toggle]  # no switch that would do nothing
    assert labels and "Search the web" not in labels and "Generate images" not in labels
    at.chat_input(key="prompt").set_value("Draw and search").run()
    assert not at.exception
    assert set(sim.sent()[0]) <= MESSAGE_FIELDS and sim.dropped == []
    assert any("[Example A](https://example.org/a)" in m.value for m in at.markdown)
    assert len(at.image) == 1  # the generated image, under the answer


def test_the_servers_mcp_servers_are_offered_as_tools_and_reach_the_backend(
    env: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATDECK_HUGGINGCHAT_COOKIES", ANONYMOUS)
    sim = env.sim
    sim.script.mcp_servers = ["web-search", "flux-images"]
    at = open_chat("Qwen/Qwen2.5-72B-Instruct")
    get_runner().catalog.refresh_now("huggingchat")  # the model list and the MCP servers, as a rerun finds them
    at.run()
    tools = at.sidebar.multiselect(key="tool_servers_huggingchat")
    assert tools.options == ["web-search", "flux-images"]
    tools.set_value(["web-search"]).run()
    at.chat_input(key="prompt").set_value("Any news?").run()
    assert not at.exception and not at.error
    assert sim.sent()[0]["selectedMcpServerNames"] == ["web-search"]
    sim.script.mcp_servers = []  # a server without MCP servers: nothing to offer
    get_runner().catalog.refresh_now("huggingchat")
    at.run()
    assert not at.sidebar.multiselect


def test_hf_chat_alone_three_turns_reasoning_and_a_server_side_delete(
    env: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's "done when": a self-hosted chat-ui session (hf-chat only) through the whole app."""
    monkeypatch.setenv("CHATDECK_HUGGINGCHAT_COOKIES", ANONYMOUS)
    sim = env.sim
    sim.script.chunks, sim.script.thinking = ["Four."], "Two plus two"
    at = open_chat(THINKER)
    get_runner().catalog.refresh_now("huggingchat")  # the server's list, not the built-in one
    at.run()
    assert "reasoning" not in at.selectbox(key="model_huggingchat").format_func(THINKER)  # the list says no
    at.chat_input(key="prompt").set_value("What is 2+2?").run()
    assert not at.exception and not at.error
    assert any("Two plus two" in m.value for m in at.markdown)  # shown as reasoning
    assert not any("think>" in m.value for m in at.markdown)
    sim.script.chunks, sim.script.thinking = ["Six."], "Three twice"
    at.chat_input(key="prompt").set_value("And 3+3?").run()
    sim.conversations.clear()  # deleted on the server
    sim.script.chunks, sim.script.thinking = ["Eight."], "Four twice"
    at.chat_input(key="prompt").set_value("And 4+4?").run()
    assert not at.exception and not at.error
    assert any("was deleted on the server" in c.value for c in at.caption)  # the quiet note
    with session(get_engine()) as s:
        owner = repo.local_user(s).id
        conversation = repo.list_conversations(s, owner)[0]
        messages = repo.recent_messages(s, owner, conversation.id, limit=10)
    replies = [m for m in messages if m.role == "assistant"]
    assert [m.content for m in replies] == ["Four.", "Six.", "Eight."]
    assert [m.reasoning for m in replies] == ["Two plus two", "Three twice", "Four twice"]
    assert [m.status for m in replies] == ["complete"] * 3
    assert sim.sent()[-1]["inputs"].startswith("User: What is 2+2?\nAssistant: Four.\nUser: And 3+3?")
    assert all("token=" not in r.headers.get("cookie", "") for r in sim.requests)
    # what the model sent taught the app that it reasons
    assert "reasoning" in at.selectbox(key="model_huggingchat").format_func(THINKER)


def test_without_a_login_the_reply_says_how_to_log_in(env: SimHandle) -> None:
    at = open_chat("Qwen/Qwen2.5-72B-Instruct")
    at.chat_input(key="prompt").set_value("Hello?").run()
    assert any("HuggingChat" in e.value and "Settings" in e.value for e in at.error)
    assert not env.sim.message_posts()


def test_settings_saves_the_cookies_and_checks_the_connection(env: SimHandle) -> None:
    at = AppTest.from_function(_settings_page, default_timeout=30).run()
    assert not at.exception
    area = at.text_area(key="cred_huggingchat_cookies")
    area.set_value(DEMO_COOKIES)
    next(b for b in at.button if b.label == "Save" and b.proto.form_id == "login_huggingchat").click().run()
    assert not at.exception
    assert DEMO_COOKIES not in " ".join(m.value for m in at.markdown)  # never shown back in full
    at.button(key="check_huggingchat").click().run()
    assert any("logged in as demo-user" in s.value for s in at.success)
    assert any("self-hosted chat-ui" in m.value and "`hf-chat` alone" in m.value for m in at.markdown)
    env.sim.logins.clear()  # the session expired on the server
    at.button(key="check_huggingchat").click().run()
    assert any("login expired: paste fresh" in e.value for e in at.error)


def test_check_connection_passes_for_an_anonymous_session(env: SimHandle) -> None:
    at = AppTest.from_function(_settings_page, default_timeout=30).run()
    at.text_area(key="cred_huggingchat_cookies").set_value(ANONYMOUS)
    next(b for b in at.button if b.label == "Save" and b.proto.form_id == "login_huggingchat").click().run()
    at.button(key="check_huggingchat").click().run()
    assert any("connected (anonymous session)" in s.value for s in at.success), [e.value for e in at.error]
    assert not at.error


def test_oversized_images_are_shrunk_and_non_images_refused() -> None:
    big = prepare_image("huge.png", png((MAX_SIDE * 2, 10)))
    with PILImage.open(io.BytesIO(big.data)) as image:
        assert max(image.size) == MAX_SIDE
    small = prepare_image("small.png", png())
    assert small.data == png() and small.mime == "image/png"  # re-encoded: a PNG without metadata is unchanged
    with pytest.raises(ValueError, match="not a PNG, JPEG, GIF or WebP image"):
        prepare_image("x.png", b"GIF89a-but-broken")
