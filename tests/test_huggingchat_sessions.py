"""HuggingChat against chat-ui as observed (shared/protocols/observed-servers.md), over loopback HTTP:
``hf-chat`` alone, inline ``<think>`` reasoning, dropped request fields, a conversation gone on the server,
images for a text-only model, and the huggingface.co behaviour (session coupled with ``token``)."""

from __future__ import annotations

import base64

import pytest

from providers.base import Guarded
from providers.errors import CredentialsError
from providers.events import (
    Attachment,
    ChatMessage,
    ChatRequest,
    Event,
    Finished,
    Notice,
    Options,
    ReasoningDelta,
    StateUpdate,
    TextDelta,
)
from providers.huggingchat import GONE_NOTICE
from providers.huggingchat_info import INFO
from runner import health
from simulators.huggingchat_wire import MESSAGE_FIELDS
from tests.sim_fixtures import SimHandle, collect, run, text_of
from tests.sim_huggingchat import provider

MODEL = "Qwen/Qwen2.5-72B-Instruct"
THINKER = "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B"  # reasons; the model list says it does not
ANONYMOUS = "hf-chat=3f2b9a44-anonymous"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def turn(
    handle: SimHandle, history: list[str], state: dict, *, model: str = MODEL, cookies: str = ANONYMOUS,
    attachments: tuple[Attachment, ...] = (),
) -> list[Event]:
    messages = [ChatMessage("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(history)]
    messages[-1] = ChatMessage("user", history[-1], attachments)
    request = ChatRequest(model=model, messages=tuple(messages), state=state)
    return run(collect(Guarded(provider(handle, cookies=cookies)).stream(request)))  # type: ignore[arg-type]


def finished(events: list[Event]) -> Finished:
    assert isinstance(events[-1], Finished)
    return events[-1]


def state_of(events: list[Event]) -> dict:
    return dict(next(e for e in events if isinstance(e, StateUpdate)).state)


def test_hf_chat_alone_streams_three_turns_in_one_conversation(huggingchat_sim: SimHandle) -> None:
    sim = huggingchat_sim.sim
    history: list[str] = []
    state: dict = {}
    for n, answer in enumerate(["One.", "Two.", "Three."]):
        sim.script.chunks = [answer]
        history.append(f"Question {n}")
        events = turn(huggingchat_sim, history, state)
        assert finished(events).reason == "stop", finished(events).error
        assert text_of(events) == answer
        state = state_of(events)
        history.append(answer)
    (conversation,) = sim.conversations.values()
    assert conversation.session == ANONYMOUS.split("=")[1] and conversation.id == state["conversationId"]
    assert [m.content for m in conversation.messages if m.role == "assistant"] == ["One.", "Two.", "Three."]
    assert [d["inputs"] for d in sim.sent()] == ["Question 0", "Question 1", "Question 2"]
    assert all("token=" not in r.headers.get("cookie", "") for r in sim.requests)


def test_no_request_field_is_one_the_server_drops(huggingchat_sim: SimHandle) -> None:
    state = state_of(turn(huggingchat_sim, ["Hi"], {}))
    turn(huggingchat_sim, ["Hi", "Hello", "Search the web for news"], state)
    sent = huggingchat_sim.sim.sent()
    assert len(sent) == 2 and all(set(data) <= MESSAGE_FIELDS for data in sent)
    assert huggingchat_sim.sim.dropped == []  # web_search, tools and is_continue are gone


def test_the_servers_mcp_servers_are_listed_and_the_chosen_ones_sent_by_name(huggingchat_sim: SimHandle) -> None:
    sim = huggingchat_sim.sim
    assert run(provider(huggingchat_sim, cookies=ANONYMOUS).list_tool_servers()) == []  # none configured
    sim.script.mcp_servers = ["web-search", "image-generation"]
    assert run(provider(huggingchat_sim, cookies=ANONYMOUS).list_tool_servers()) == ["web-search", "image-generation"]
    messages = (ChatMessage("user", "News?"),)
    request = ChatRequest(model=MODEL, messages=messages, options=Options(tool_servers=("web-search",)))
    events = run(collect(Guarded(provider(huggingchat_sim, cookies=ANONYMOUS)).stream(request)))
    assert finished(events).reason == "stop"
    assert sim.sent()[0]["selectedMcpServerNames"] == ["web-search"] and sim.dropped == []


def test_inline_think_becomes_reasoning_and_never_answer_text(huggingchat_sim: SimHandle) -> None:
    sim = huggingchat_sim.sim
    sim.script.chunks, sim.script.thinking = ["The answer", " is 4."], "Two plus two makes four"
    events = turn(huggingchat_sim, ["What is 2+2?"], {}, model=THINKER)
    assert finished(events).reason == "stop"
    assert text_of(events) == "The answer is 4."
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "Two plus two makes four"
    assert not any("think>" in e.text or "<th" in e.text for e in events if isinstance(e, TextDelta))
    raw = [u for m in next(iter(sim.conversations.values())).messages for u in m.updates
           if u.get("type") == "finalAnswer"]
    assert raw[0]["text"].startswith("<think>")  # the server's own text carried the tags


def test_a_conversation_deleted_on_the_server_starts_anew_on_the_same_turn(huggingchat_sim: SimHandle) -> None:
    sim = huggingchat_sim.sim
    sim.script.chunks = ["First answer."]
    state = state_of(turn(huggingchat_sim, ["Remember 7."], {}))
    del sim.conversations[state["conversationId"]]  # deleted on the website
    sim.script.chunks = ["It was 7."]
    events = turn(huggingchat_sim, ["Remember 7.", "First answer.", "Which number?"], state)
    assert finished(events).reason == "stop", finished(events).error
    assert text_of(events) == "It was 7."
    assert [e.text for e in events if isinstance(e, Notice)] == [GONE_NOTICE]
    new = state_of(events)
    assert new["conversationId"] != state["conversationId"] and new["conversationId"] in sim.conversations
    assert sim.sent()[-1]["inputs"] == "User: Remember 7.\nAssistant: First answer.\nUser: Which number?\nAssistant:"


def test_a_lost_conversation_without_a_saved_parent_is_gone_not_a_protocol_change(huggingchat_sim: SimHandle) -> None:
    """The parent is looked up: v2 answers 404 and __data.json nodes [null, null]; the turn starts anew."""
    sim = huggingchat_sim.sim
    state = state_of(turn(huggingchat_sim, ["One"], {}))
    del sim.conversations[state["conversationId"]]
    events = turn(huggingchat_sim, ["One", "A", "Two"], {"conversationId": state["conversationId"]})
    assert finished(events).reason == "stop", finished(events).error
    assert any(isinstance(e, Notice) for e in events)
    assert any(r.path.endswith("/__data.json") for r in sim.requests)


def test_another_logins_conversation_is_gone_too(huggingchat_sim: SimHandle) -> None:
    state = state_of(turn(huggingchat_sim, ["Mine"], {}, cookies="hf-chat=someone-else"))
    events = turn(huggingchat_sim, ["Mine", "Ok", "Still mine?"], state)
    assert finished(events).reason == "stop" and any(isinstance(e, Notice) for e in events)
    assert state_of(events)["conversationId"] != state["conversationId"]


def test_images_for_a_text_only_model_are_refused_before_sending(huggingchat_sim: SimHandle) -> None:
    picture = (Attachment("cat.png", "image/png", PNG),)
    events = turn(huggingchat_sim, ["What is this?"], {}, attachments=picture)
    error = finished(events).error
    assert error.exception == "ImagesRefused" and "text only" in str(error) and "vision" in str(error)
    assert health.from_finished(INFO, finished(events), had_login=True) is None  # the request, not the backend
    assert not huggingchat_sim.sim.message_posts() and not huggingchat_sim.sim.conversations
    events = turn(huggingchat_sim, ["What is this?"], {}, attachments=picture,
                  model="meta-llama/Llama-3.2-11B-Vision-Instruct")
    assert finished(events).reason == "stop" and len(huggingchat_sim.sim.message_posts()[0].files) == 1


def test_huggingface_co_couples_the_session_with_the_token(huggingchat_sim: SimHandle) -> None:
    sim = huggingchat_sim.sim
    sim.token_coupled = True
    events = turn(huggingchat_sim, ["Hi"], {})
    error = finished(events).error
    assert error.kind == "credentials" and "token" in str(error)
    assert [r.status for r in sim.requests] == [401]  # hf-chat alone was tried; huggingface.co wants its token
    events = turn(huggingchat_sim, ["Hi"], {}, cookies=sim.cookie_header())  # hf-chat and its token
    assert finished(events).reason == "stop"


def test_huggingface_co_itself_is_refused_without_the_token_before_any_request() -> None:
    """huggingface.co always couples the session with its token: say so at once instead of sending."""
    from providers.huggingchat import HuggingChat

    site = HuggingChat(base_url="https://huggingface.co/chat", cookies=ANONYMOUS)
    with pytest.raises(CredentialsError, match="lack token"):
        run(site.check())
    events = run(collect(Guarded(site).stream(ChatRequest(MODEL, (ChatMessage("user", "Hi"),)))))
    error = finished(events).error
    assert error.kind == "credentials" and "lack token" in str(error)
