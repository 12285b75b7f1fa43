"""Ai2 Playground specifics over real HTTP on loopback: the simulator, and the seed protocol's
fixture bodies A1–A5 (shared/protocols/web-backends.md §5.2) served verbatim."""

# ruff: noqa: E501  (the fixture lines below are copied verbatim and are long)

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from providers.allenai import INFO, AllenAI
from providers.allenai_wire import V4MessageParser, V5Parser
from providers.base import Guarded
from providers.errors import HTTPStatusError, UnavailableError, UnexpectedResponseError
from providers.events import (
    Attachment,
    ChatMessage,
    ChatRequest,
    Event,
    Finished,
    Options,
    ReasoningDelta,
    StateUpdate,
    TextDelta,
)
from simulators.common import ForcedError
from simulators.serve import serve
from tests.sim_fixtures import SimHandle, collect, free_port, run, text_of, wait_for

A1_LINES = [
    r'{"id": "msg_K3T8V1B6N2", "content": "What is the capital of France?", "snippet": "What is the capital of France?", "creator": "5b0e8f0c-7a43-4c55-9d0b-2f2c1a9e6d11", "role": "user", "opts": {"max_tokens": 2048, "temperature": 0.7, "n": 1, "top_p": 1.0, "logprobs": null, "stop": null}, "root": "msg_K3T8V1B6N2", "created": "2025-03-20T14:02:11.482913+00:00", "model_id": "tulu3-405b", "model_host": "inferd", "deleted": null, "parent": null, "template": null, "logprobs": null, "children": [{"id": "msg_Q7D4W9Z2H5", "content": "", "snippet": "", "creator": "5b0e8f0c-7a43-4c55-9d0b-2f2c1a9e6d11", "role": "assistant", "opts": {"max_tokens": 2048, "temperature": 0.7, "n": 1, "top_p": 1.0, "logprobs": null, "stop": null}, "root": "msg_K3T8V1B6N2", "created": "2025-03-20T14:02:11.601277+00:00", "model_id": "tulu3-405b", "model_host": "inferd", "deleted": null, "parent": "msg_K3T8V1B6N2", "template": null, "logprobs": null, "children": null, "completion": null, "final": false, "original": null, "private": true, "model_type": "chat", "finish_reason": null, "harmful": null, "expiration_time": "2025-03-21T14:02:11.482913+00:00", "labels": [], "file_urls": null}], "completion": null, "final": false, "original": null, "private": true, "model_type": null, "finish_reason": null, "harmful": false, "expiration_time": "2025-03-21T14:02:11.482913+00:00", "labels": [], "file_urls": null}',
    r'{"message": "msg_Q7D4W9Z2H5", "content": "The", "logprobs": []}',
    r'{"message": "msg_Q7D4W9Z2H5", "content": " capital of France", "logprobs": []}',
    r'{"message": "msg_Q7D4W9Z2H5", "content": " is Paris", "logprobs": []}',
    r'{"message": "msg_Q7D4W9Z2H5", "content": ".", "logprobs": []}',
    r'{"id": "msg_K3T8V1B6N2", "content": "What is the capital of France?", "snippet": "What is the capital of France?", "creator": "5b0e8f0c-7a43-4c55-9d0b-2f2c1a9e6d11", "role": "user", "opts": {"max_tokens": 2048, "temperature": 0.7, "n": 1, "top_p": 1.0, "logprobs": null, "stop": null}, "root": "msg_K3T8V1B6N2", "created": "2025-03-20T14:02:11.482913+00:00", "model_id": "tulu3-405b", "model_host": "inferd", "deleted": null, "parent": null, "template": null, "logprobs": null, "children": [{"id": "msg_Q7D4W9Z2H5", "content": "The capital of France is Paris.", "snippet": "The capital of France is Paris.", "creator": "5b0e8f0c-7a43-4c55-9d0b-2f2c1a9e6d11", "role": "assistant", "opts": {"max_tokens": 2048, "temperature": 0.7, "n": 1, "top_p": 1.0, "logprobs": null, "stop": null}, "root": "msg_K3T8V1B6N2", "created": "2025-03-20T14:02:11.601277+00:00", "model_id": "tulu3-405b", "model_host": "inferd", "deleted": null, "parent": "msg_K3T8V1B6N2", "template": null, "logprobs": [], "children": null, "completion": null, "final": true, "original": null, "private": true, "model_type": "chat", "finish_reason": "stop", "harmful": null, "expiration_time": "2025-03-21T14:02:11.482913+00:00", "labels": [], "file_urls": null}], "completion": null, "final": true, "original": null, "private": true, "model_type": null, "finish_reason": null, "harmful": false, "expiration_time": "2025-03-21T14:02:11.482913+00:00", "labels": [], "file_urls": null}',
]
A2_LINES = [
    r'{"id": "msg_P2L5C8X1J4", "content": "And of Germany?", "snippet": "And of Germany?", "creator": "5b0e8f0c-7a43-4c55-9d0b-2f2c1a9e6d11", "role": "user", "opts": {"max_tokens": 2048, "temperature": 0.7, "n": 1, "top_p": 1.0, "logprobs": null, "stop": null}, "root": "msg_K3T8V1B6N2", "created": "2025-03-20T14:03:40.001937+00:00", "model_id": "tulu3-405b", "model_host": "inferd", "deleted": null, "parent": "msg_Q7D4W9Z2H5", "template": null, "logprobs": null, "children": [{"id": "msg_F6G3M0R9S7", "content": "", "snippet": "", "creator": "5b0e8f0c-7a43-4c55-9d0b-2f2c1a9e6d11", "role": "assistant", "opts": {"max_tokens": 2048, "temperature": 0.7, "n": 1, "top_p": 1.0, "logprobs": null, "stop": null}, "root": "msg_K3T8V1B6N2", "created": "2025-03-20T14:03:40.120004+00:00", "model_id": "tulu3-405b", "model_host": "inferd", "deleted": null, "parent": "msg_P2L5C8X1J4", "template": null, "logprobs": null, "children": null, "completion": null, "final": false, "original": null, "private": true, "model_type": "chat", "finish_reason": null, "harmful": null, "expiration_time": "2025-03-21T14:02:11.482913+00:00", "labels": [], "file_urls": null}], "completion": null, "final": false, "original": null, "private": true, "model_type": null, "finish_reason": null, "harmful": false, "expiration_time": "2025-03-21T14:02:11.482913+00:00", "labels": [], "file_urls": null}',
    r'{"message": "msg_F6G3M0R9S7", "error": "model overloaded", "reason": "model overloaded"}',
    r'{"id": "msg_P2L5C8X1J4", "content": "And of Germany?", "snippet": "And of Germany?", "creator": "5b0e8f0c-7a43-4c55-9d0b-2f2c1a9e6d11", "role": "user", "opts": {"max_tokens": 2048, "temperature": 0.7, "n": 1, "top_p": 1.0, "logprobs": null, "stop": null}, "root": "msg_K3T8V1B6N2", "created": "2025-03-20T14:03:40.001937+00:00", "model_id": "tulu3-405b", "model_host": "inferd", "deleted": null, "parent": "msg_Q7D4W9Z2H5", "template": null, "logprobs": null, "children": [{"id": "msg_F6G3M0R9S7", "content": "", "snippet": "", "creator": "5b0e8f0c-7a43-4c55-9d0b-2f2c1a9e6d11", "role": "assistant", "opts": {"max_tokens": 2048, "temperature": 0.7, "n": 1, "top_p": 1.0, "logprobs": null, "stop": null}, "root": "msg_K3T8V1B6N2", "created": "2025-03-20T14:03:40.120004+00:00", "model_id": "tulu3-405b", "model_host": "inferd", "deleted": null, "parent": "msg_P2L5C8X1J4", "template": null, "logprobs": [], "children": null, "completion": null, "final": true, "original": null, "private": true, "model_type": "chat", "finish_reason": "model overloaded", "harmful": null, "expiration_time": "2025-03-21T14:02:11.482913+00:00", "labels": [], "file_urls": null}], "completion": null, "final": true, "original": null, "private": true, "model_type": null, "finish_reason": null, "harmful": false, "expiration_time": "2025-03-21T14:02:11.482913+00:00", "labels": [], "file_urls": null}',
]
A3_LINES = [
    r'{"id": "msg_S1Y4U7I0O3", "content": "You are OLMo 2 Instruct, a helpful, open-source AI Assistant built by the Allen Institute for AI.", "snippet": "You are OLMo 2 Instruct, a helpful, open-source AI Assistant built by the Allen Institute for\u2026", "creator": "5b0e8f0c-7a43-4c55-9d0b-2f2c1a9e6d11", "role": "system", "opts": {"max_tokens": 2048, "temperature": 0.7, "n": 1, "top_p": 1.0, "logprobs": null, "stop": null}, "root": "msg_S1Y4U7I0O3", "created": "2025-03-20T15:00:00.100000+00:00", "model_id": "OLMo-2-1124-13B-Instruct", "model_host": "modal", "deleted": null, "parent": null, "template": null, "logprobs": null, "children": [{"id": "msg_E5R8T1Y4U7", "content": "hi", "snippet": "hi", "creator": "5b0e8f0c-7a43-4c55-9d0b-2f2c1a9e6d11", "role": "user", "opts": {"max_tokens": 2048, "temperature": 0.7, "n": 1, "top_p": 1.0, "logprobs": null, "stop": null}, "root": "msg_S1Y4U7I0O3", "created": "2025-03-20T15:00:00.200000+00:00", "model_id": "OLMo-2-1124-13B-Instruct", "model_host": "modal", "deleted": null, "parent": "msg_S1Y4U7I0O3", "template": null, "logprobs": null, "children": [{"id": "msg_A9S2D5F8G1", "content": "", "snippet": "", "creator": "5b0e8f0c-7a43-4c55-9d0b-2f2c1a9e6d11", "role": "assistant", "opts": {"max_tokens": 2048, "temperature": 0.7, "n": 1, "top_p": 1.0, "logprobs": null, "stop": null}, "root": "msg_S1Y4U7I0O3", "created": "2025-03-20T15:00:00.300000+00:00", "model_id": "OLMo-2-1124-13B-Instruct", "model_host": "modal", "deleted": null, "parent": "msg_E5R8T1Y4U7", "template": null, "logprobs": null, "children": null, "completion": null, "final": false, "original": null, "private": true, "model_type": "chat", "finish_reason": null, "harmful": null, "expiration_time": "2025-03-21T14:02:11.482913+00:00", "labels": [], "file_urls": null}], "completion": null, "final": false, "original": null, "private": true, "model_type": null, "finish_reason": null, "harmful": false, "expiration_time": "2025-03-21T14:02:11.482913+00:00", "labels": [], "file_urls": null}], "completion": null, "final": false, "original": null, "private": true, "model_type": null, "finish_reason": null, "harmful": null, "expiration_time": "2025-03-21T14:02:11.482913+00:00", "labels": [], "file_urls": null}',
    r'{"message": "msg_A9S2D5F8G1", "content": "Hello! How can I help?", "logprobs": []}',
    r'{"id": "msg_S1Y4U7I0O3", "content": "You are OLMo 2 Instruct, a helpful, open-source AI Assistant built by the Allen Institute for AI.", "snippet": "You are OLMo 2 Instruct, a helpful, open-source AI Assistant built by the Allen Institute for\u2026", "creator": "5b0e8f0c-7a43-4c55-9d0b-2f2c1a9e6d11", "role": "system", "opts": {"max_tokens": 2048, "temperature": 0.7, "n": 1, "top_p": 1.0, "logprobs": null, "stop": null}, "root": "msg_S1Y4U7I0O3", "created": "2025-03-20T15:00:00.100000+00:00", "model_id": "OLMo-2-1124-13B-Instruct", "model_host": "modal", "deleted": null, "parent": null, "template": null, "logprobs": null, "children": [{"id": "msg_E5R8T1Y4U7", "content": "hi", "snippet": "hi", "creator": "5b0e8f0c-7a43-4c55-9d0b-2f2c1a9e6d11", "role": "user", "opts": {"max_tokens": 2048, "temperature": 0.7, "n": 1, "top_p": 1.0, "logprobs": null, "stop": null}, "root": "msg_S1Y4U7I0O3", "created": "2025-03-20T15:00:00.200000+00:00", "model_id": "OLMo-2-1124-13B-Instruct", "model_host": "modal", "deleted": null, "parent": "msg_S1Y4U7I0O3", "template": null, "logprobs": null, "children": [{"id": "msg_A9S2D5F8G1", "content": "Hello! How can I help?", "snippet": "Hello! How can I help?", "creator": "5b0e8f0c-7a43-4c55-9d0b-2f2c1a9e6d11", "role": "assistant", "opts": {"max_tokens": 2048, "temperature": 0.7, "n": 1, "top_p": 1.0, "logprobs": null, "stop": null}, "root": "msg_S1Y4U7I0O3", "created": "2025-03-20T15:00:00.300000+00:00", "model_id": "OLMo-2-1124-13B-Instruct", "model_host": "modal", "deleted": null, "parent": "msg_E5R8T1Y4U7", "template": null, "logprobs": [], "children": null, "completion": null, "final": true, "original": null, "private": true, "model_type": "chat", "finish_reason": "stop", "harmful": null, "expiration_time": "2025-03-21T14:02:11.482913+00:00", "labels": [], "file_urls": null}], "completion": null, "final": true, "original": null, "private": true, "model_type": null, "finish_reason": null, "harmful": false, "expiration_time": "2025-03-21T14:02:11.482913+00:00", "labels": [], "file_urls": null}], "completion": null, "final": true, "original": null, "private": true, "model_type": null, "finish_reason": null, "harmful": null, "expiration_time": "2025-03-21T14:02:11.482913+00:00", "labels": [], "file_urls": null}',
]
A4_LINES = [
    r'{"id": "msg_B3N6M9Q2W5", "content": "Write two lines.", "snippet": "Write two lines.", "creator": "5b0e8f0c-7a43-4c55-9d0b-2f2c1a9e6d11", "role": "user", "opts": {"max_tokens": 2048, "temperature": 0.7, "n": 1, "top_p": 1.0, "logprobs": null, "stop": null}, "root": "msg_B3N6M9Q2W5", "created": "2025-03-21T08:00:00.100000+00:00", "model_id": "tulu-3-1-8b", "model_host": "modal", "deleted": null, "parent": null, "template": null, "logprobs": null, "children": [{"id": "msg_C4V7X0Z3L6", "content": "", "snippet": "", "creator": "5b0e8f0c-7a43-4c55-9d0b-2f2c1a9e6d11", "role": "assistant", "opts": {"max_tokens": 2048, "temperature": 0.7, "n": 1, "top_p": 1.0, "logprobs": null, "stop": null}, "root": "msg_B3N6M9Q2W5", "created": "2025-03-21T08:00:00.200000+00:00", "model_id": "tulu-3-1-8b", "model_host": "modal", "deleted": null, "parent": "msg_B3N6M9Q2W5", "template": null, "logprobs": null, "children": null, "completion": null, "final": false, "original": null, "private": true, "model_type": "chat", "finish_reason": null, "harmful": null, "expiration_time": "2025-03-21T14:02:11.482913+00:00", "labels": [], "file_urls": null}], "completion": null, "final": false, "original": null, "private": true, "model_type": null, "finish_reason": null, "harmful": false, "expiration_time": "2025-03-21T14:02:11.482913+00:00", "labels": [], "file_urls": null}',
    "",  # blank line
    r"not json at all",
    r'{"message": "msg_C4V7X0Z3L6", "content": "Line one.", "logprobs": []}',
    r'{"message": "msg_C4V7X0Z3L6", "content": "\n\n", "logprobs": []}',
    r'{"message": "msg_C4V7X0Z3L6", "content": "Line two.", "logprobs": []}',
    "   ",  # whitespace-only line
    r'{"id": "msg_B3N6M9Q2W5", "content": "Write two lines.", "snippet": "Write two lines.", "creator": "5b0e8f0c-7a43-4c55-9d0b-2f2c1a9e6d11", "role": "user", "opts": {"max_tokens": 2048, "temperature": 0.7, "n": 1, "top_p": 1.0, "logprobs": null, "stop": null}, "root": "msg_B3N6M9Q2W5", "created": "2025-03-21T08:00:00.100000+00:00", "model_id": "tulu-3-1-8b", "model_host": "modal", "deleted": null, "parent": null, "template": null, "logprobs": null, "children": [{"id": "msg_C4V7X0Z3L6", "content": "Line one.\n\nLine two.", "snippet": "Line one. Line two.", "creator": "5b0e8f0c-7a43-4c55-9d0b-2f2c1a9e6d11", "role": "assistant", "opts": {"max_tokens": 2048, "temperature": 0.7, "n": 1, "top_p": 1.0, "logprobs": null, "stop": null}, "root": "msg_B3N6M9Q2W5", "created": "2025-03-21T08:00:00.200000+00:00", "model_id": "tulu-3-1-8b", "model_host": "modal", "deleted": null, "parent": "msg_B3N6M9Q2W5", "template": null, "logprobs": [], "children": null, "completion": null, "final": true, "original": null, "private": true, "model_type": "chat", "finish_reason": "stop", "harmful": null, "expiration_time": "2025-03-21T14:02:11.482913+00:00", "labels": [], "file_urls": null}], "completion": null, "final": true, "original": null, "private": true, "model_type": null, "finish_reason": null, "harmful": false, "expiration_time": "2025-03-21T14:02:11.482913+00:00", "labels": [], "file_urls": null}',
]

A5_400 = r'{"error": {"code": 400, "message": "1 validation error for CreateMessageRequestV4\ncaptcha_token\n  Field required [type=missing, input_value={...}, input_type=dict]\n    For further information visit https://errors.pydantic.dev/2.10/v/missing", "validation_errors": [{"loc": ["captcha_token"], "msg": "Field required", "type": "missing", "url": "https://errors.pydantic.dev/2.10/v/missing"}]}}'
A5_403 = json.dumps(
    {
        "error": {
            "code": 403,
            "message": "You don't have the permission to access the requested resource. It is either read-protected or not readable by the server.",
        }
    }
)
A5_401 = json.dumps(
    {
        "error": {
            "code": 401,
            "message": "The server could not verify that you are authorized to access the URL requested. …",
        }
    }
)

ROOT = Path(__file__).resolve().parent.parent
ID = re.compile(r"^msg_([A-Z][0-9]){5}$")
HELLO = (
    ChatMessage("system", "Be brief."),
    ChatMessage("user", "Hi"),
    ChatMessage("assistant", "Hello!"),
    ChatMessage("user", "What is 2+2?"),
)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def body(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def turn(provider: AllenAI, request: ChatRequest) -> list[Event]:
    return run(collect(Guarded(provider).stream(request)))


def final_of(events: list[Event]) -> Finished:
    assert isinstance(events[-1], Finished), events
    assert sum(isinstance(e, Finished) for e in events) == 1
    return events[-1]


def state_of(events: list[Event]) -> dict:
    updates = [e for e in events if isinstance(e, StateUpdate)]
    assert len(updates) == 1, events
    return dict(updates[0].state)


def no_state(events: list[Event]) -> bool:
    return not any(isinstance(e, StateUpdate) for e in events)


def follow_up(messages: tuple[ChatMessage, ...], answer: str, question: str) -> tuple[ChatMessage, ...]:
    return (*messages, ChatMessage("assistant", answer), ChatMessage("user", question))


# --- first turn, follow-up, identity ------------------------------------------------------------


def test_first_turn_sends_history_anonymous_id_and_real_multipart(allenai_sim: SimHandle) -> None:
    sim = allenai_sim.sim
    sim.script.chunks = ["Four", "."]
    events = turn(AllenAI(base_url=allenai_sim.url), ChatRequest("olmo-3.1-32b-instruct", HELLO))

    assert text_of(events) == "Four."
    assert final_of(events).reason == "stop"
    [sent] = sim.chat_requests()
    assert sent.path == "/v5/threads/chat"
    assert sent.content_type.startswith("multipart/form-data; boundary=")
    assert sent.form == {
        "role": "user",
        "model": "olmo-3.1-32b-instruct",
        "content": "System: Be brief.\nUser: Hi\nAssistant: Hello!\nUser: What is 2+2?\nAssistant:",
    }
    assert not any("captcha" in key.lower() for key in sent.form)
    anonymous_id = sent.headers["x-anonymous-user-id"]
    assert uuid.UUID(anonymous_id).version == 4
    assert "cookie" not in sent.headers and "authorization" not in sent.headers
    assert "application/json" in sent.headers["accept"]

    state = state_of(events)
    [thread] = sim.threads.values()
    assert [m.role for m in thread] == ["system", "user", "assistant"]  # this model has a system prompt
    assert state == {
        "anonymous_user_id": anonymous_id,
        "protocol": "v5",
        "parent": thread[-1].id,
        "thread_id": thread[0].id,
    }
    assert ID.match(state["parent"]) and ID.match(state["thread_id"])
    assert thread[-1].content == "Four."


def test_follow_up_sends_parent_only_the_new_message_and_the_same_id(allenai_sim: SimHandle) -> None:
    sim, provider = allenai_sim.sim, AllenAI(base_url=allenai_sim.url)
    first = ChatRequest("olmo-3.1-32b-instruct", HELLO)
    state = state_of(turn(provider, first))
    sim.script.chunks = ["Because ", "2+2=4."]
    second = ChatRequest("olmo-3.1-32b-instruct", follow_up(HELLO, "Four.", "  Why?  "), state=state)
    events = turn(provider, second)

    assert text_of(events) == "Because 2+2=4."
    first_sent, second_sent = sim.chat_requests()
    assert second_sent.form == {
        "role": "user",
        "model": "olmo-3.1-32b-instruct",
        "content": "Why?",
        "parent": state["parent"],
    }
    assert second_sent.headers["x-anonymous-user-id"] == first_sent.headers["x-anonymous-user-id"]
    new_state = state_of(events)
    assert new_state["thread_id"] == state["thread_id"] and new_state["parent"] != state["parent"]
    reply = sim.messages[new_state["parent"]]
    assert reply.role == "assistant" and sim.messages[reply.parent].content == "Why?"
    assert sim.messages[reply.parent].parent == state["parent"]


def test_a_shared_client_keeps_its_connection_warm(allenai_sim: SimHandle) -> None:
    """After the last line the rest of the body is read, so the connection goes back to the pool."""

    async def go() -> None:
        async with httpx.AsyncClient() as client:
            for protocol in ("v5", "v5", "v4-message"):
                events = await collect(
                    Guarded(AllenAI(base_url=allenai_sim.url, client=client, protocol=protocol)).stream(
                        ChatRequest("tulu3-405b", HELLO)
                    )
                )
                assert final_of(events).reason == "stop"

    run(go())
    assert len({r.peer for r in allenai_sim.sim.chat_requests()}) == 1
    assert allenai_sim.sim.disconnects == 0


def test_a_foreign_anonymous_id_cannot_continue_a_thread(allenai_sim: SimHandle) -> None:
    provider = AllenAI(base_url=allenai_sim.url)
    state = state_of(turn(provider, ChatRequest("olmo-3.1-32b-instruct", HELLO)))
    stolen = {**state, "anonymous_user_id": str(uuid.uuid4())}
    events = turn(provider, ChatRequest("olmo-3.1-32b-instruct", follow_up(HELLO, "x", "Next"), state=stolen))
    error = final_of(events).error
    assert error.status == 403
    assert "Cannot create message when not creator" in str(error)
    assert no_state(events)


def test_a_foreign_anonymous_id_is_refused_on_the_seed_protocol_too(allenai_sim: SimHandle) -> None:
    provider = AllenAI(base_url=allenai_sim.url, protocol="v4-message")
    state = state_of(turn(provider, ChatRequest("tulu3-405b", HELLO)))
    stolen = {**state, "anonymous_user_id": str(uuid.uuid4())}
    error = final_of(turn(provider, ChatRequest("tulu3-405b", follow_up(HELLO, "x", "Next"), state=stolen))).error
    assert error.status == 403
    assert "You don't have the permission" in str(error)


# --- protocols ----------------------------------------------------------------------------------


def test_unknown_protocol_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="v4-message"):
        AllenAI(protocol="v3")


@pytest.mark.parametrize("status", [404, 405])
def test_auto_falls_back_to_the_seed_protocol_and_remembers_it(allenai_sim: SimHandle, status: int) -> None:
    sim = allenai_sim.sim
    sim.generation, sim.script.v5_status = "v4-message", status
    sim.script.chunks = ["Paris", "."]
    events = turn(
        AllenAI(base_url=allenai_sim.url), ChatRequest("tulu-3-405b", (ChatMessage("user", "Capital of France?"),))
    )

    assert text_of(events) == "Paris."
    assert [r.path for r in sim.chat_requests()] == ["/v5/threads/chat", "/v4/threads/", "/v4/message/stream"]
    fallback = sim.chat_requests()[2]
    assert fallback.form == {
        "model": "tulu3-405b",
        "host": "inferd",
        "content": "Capital of France?",
        "private": "true",
    }
    state = state_of(events)
    assert state["protocol"] == "v4-message" and ID.match(state["parent"])

    # A later turn of the same conversation, even from a fresh provider, goes straight to the seed route.
    sim.script.chunks = ["Berlin."]
    request = ChatRequest(
        "tulu-3-405b",
        (
            ChatMessage("user", "Capital of France?"),
            ChatMessage("assistant", "Paris."),
            ChatMessage("user", "And Germany?"),
        ),
        state=state,
    )
    events = turn(AllenAI(base_url=allenai_sim.url), request)
    assert text_of(events) == "Berlin."
    assert [r.path for r in sim.chat_requests()][3:] == ["/v4/message/stream"]
    assert sim.chat_requests()[3].form["parent"] == state["parent"]
    assert sim.chat_requests()[3].form["content"] == "And Germany?"
    assert state_of(events)["protocol"] == "v4-message"


def test_auto_fallback_is_remembered_by_the_provider_for_new_conversations(allenai_sim: SimHandle) -> None:
    sim = allenai_sim.sim
    sim.generation = "v4-message"
    provider = AllenAI(base_url=allenai_sim.url)
    for _ in range(2):
        assert final_of(turn(provider, ChatRequest("olmo-3.1-32b-instruct", HELLO))).reason == "stop"
    paths = ["/v5/threads/chat", "/v4/threads/", "/v4/message/stream", "/v4/message/stream"]
    assert [r.path for r in sim.chat_requests()] == paths


def test_explicit_v5_does_not_fall_back(allenai_sim: SimHandle) -> None:
    allenai_sim.sim.script.v5_status = 404
    events = turn(AllenAI(base_url=allenai_sim.url, protocol="v5"), ChatRequest("olmo-3.1-32b-instruct", HELLO))
    error = final_of(events).error
    assert error.status == 404
    assert [r.path for r in allenai_sim.sim.chat_requests()] == ["/v5/threads/chat"]


def test_seed_protocol_follow_up_and_whitespace_chunks(allenai_sim: SimHandle) -> None:
    sim, provider = allenai_sim.sim, AllenAI(base_url=allenai_sim.url, protocol="v4-message")
    sim.script.chunks = ["Line one.", "\n\n", "Line two."]
    events = turn(provider, ChatRequest("OLMo-2-1124-13B-Instruct", HELLO))  # a system-prompt model: nested head
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Line one.", "\n\n", "Line two."]
    state = state_of(events)
    reply = sim.messages[state["parent"]]
    assert reply.role == "assistant" and sim.messages[reply.root].role == "system"
    assert state["thread_id"] == reply.root

    sim.script.chunks = ["Sure."]
    events = turn(
        provider,
        ChatRequest("OLMo-2-1124-13B-Instruct", follow_up(HELLO, "Line one.\n\nLine two.", "More?"), state=state),
    )
    assert text_of(events) == "Sure." and final_of(events).reason == "stop"
    sent = sim.chat_requests()[-1]
    assert sent.form == {
        "model": "OLMo-2-1124-13B-Instruct",
        "host": "modal",
        "content": "More?",
        "private": "true",
        "parent": state["parent"],
    }


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [
        ("v5", {"temperature": "0.5", "topP": "0.9", "maxTokens": "256"}),
        ("v4-message", {"temperature": "0.5", "top_p": "0.9", "max_tokens": "256"}),
    ],
)
def test_options_use_each_protocols_field_names(allenai_sim: SimHandle, protocol: str, expected: dict) -> None:
    provider = AllenAI(base_url=allenai_sim.url, protocol=protocol)
    options = Options(temperature=0.5, top_p=0.9, max_tokens=256)
    assert final_of(turn(provider, ChatRequest("tulu3-405b", HELLO, options=options))).reason == "stop"
    assert final_of(turn(provider, ChatRequest("tulu3-405b", HELLO))).reason == "stop"
    with_options, without = allenai_sim.sim.chat_requests()
    assert {k: v for k, v in with_options.form.items() if k in expected} == expected
    assert not set(without.form) & {"temperature", "topP", "maxTokens", "top_p", "max_tokens"}


@pytest.mark.parametrize("protocol", ["v5", "v4-threads", "v4-message"])
def test_images_go_as_file_parts(allenai_sim: SimHandle, protocol: str) -> None:
    image = Attachment("cat.png", "image/png", PNG)
    messages = (ChatMessage("user", "What is this?", attachments=(image,)),)
    events = turn(AllenAI(base_url=allenai_sim.url, protocol=protocol), ChatRequest("molmo2-8b", messages))
    assert final_of(events).reason == "stop"
    [sent] = allenai_sim.sim.chat_requests()
    assert [(f.field, f.filename, f.content_type, f.size, f.data) for f in sent.files] == [
        ("files", "cat.png", "image/png", len(PNG), PNG)
    ]
    assert sent.form["content"] == "What is this?"


def test_a_text_only_model_refuses_images(allenai_sim: SimHandle) -> None:
    messages = (ChatMessage("user", "What is this?", attachments=(Attachment("cat.png", "image/png", PNG),)),)
    error = final_of(turn(AllenAI(base_url=allenai_sim.url), ChatRequest("olmo-3.1-32b-instruct", messages))).error
    assert error.status == 422 and "doesn't accept files" in str(error)


def test_reasoning_models_stream_thinking_then_text(allenai_sim: SimHandle) -> None:
    sim = allenai_sim.sim
    sim.script.thinking, sim.script.chunks = "Small primes are 2, 3 and 5.", ["2, 3", " and 5."]
    events = turn(
        AllenAI(base_url=allenai_sim.url), ChatRequest("olmo-3.1-32b-think", (ChatMessage("user", "Three primes?"),))
    )
    reasoning = [e for e in events if isinstance(e, ReasoningDelta)]
    assert "".join(e.text for e in reasoning) == "Small primes are 2, 3 and 5."
    assert len(reasoning) > 1
    assert text_of(events) == "2, 3 and 5."
    assert events.index(reasoning[-1]) < next(i for i, e in enumerate(events) if isinstance(e, TextDelta))
    assert sim.messages[state_of(events)["parent"]].thinking == "Small primes are 2, 3 and 5."


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "status", "message"),
    [
        ("v5", 422, "Model not found: Model with ID 'no-such-model' not found"),
        ("v4-message", 400, "Invalid model no-such-model"),
    ],
)
def test_server_messages_surface_from_both_envelopes(
    allenai_sim: SimHandle, protocol: str, status: int, message: str
) -> None:
    events = turn(AllenAI(base_url=allenai_sim.url, protocol=protocol), ChatRequest("no-such-model", HELLO))
    error = final_of(events).error
    assert error.status == status
    assert str(error) == f"HTTP {status}: {message}"
    assert error.backend == "Ai2 Playground"


def test_rate_limit_reports_retry_after(allenai_sim: SimHandle) -> None:
    allenai_sim.sim.script.http_error = ForcedError.rate_limited(retry_after=7)
    error = final_of(turn(AllenAI(base_url=allenai_sim.url), ChatRequest("olmo-3.1-32b-instruct", HELLO))).error
    assert error.status == 429
    assert "retry after 7 s" in str(error) and "Too Many Requests" in str(error)


def test_nginx_html_403_is_named_not_dumped(allenai_sim: SimHandle) -> None:
    allenai_sim.sim.script.http_error = ForcedError.nginx_403()
    error = final_of(turn(AllenAI(base_url=allenai_sim.url), ChatRequest("olmo-3.1-32b-instruct", HELLO))).error
    assert error.status == 403
    assert "HTML page" in str(error) and "<html>" not in str(error)


@pytest.mark.parametrize("protocol", ["v5", "v4-message"])
def test_html_with_status_200_is_unexpected(allenai_sim: SimHandle, protocol: str) -> None:
    allenai_sim.sim.script.html_200 = True
    error = final_of(turn(AllenAI(base_url=allenai_sim.url, protocol=protocol), ChatRequest("tulu3-405b", HELLO))).error
    assert error.kind == "unexpected_response"
    assert "HTML page" in str(error) and "text/html" in str(error) and "HTTP 200" in str(error)
    assert "Ai2 Playground" in error.snippet


def test_first_byte_timeout_is_unavailable_and_hangs_up(allenai_sim: SimHandle) -> None:
    sim = allenai_sim.sim
    sim.script.first_byte_delay = 2.0
    provider = AllenAI(base_url=allenai_sim.url, timeout=httpx.Timeout(2.0, read=0.2))
    error = final_of(turn(provider, ChatRequest("olmo-3.1-32b-instruct", HELLO))).error
    assert error.kind == "unavailable" and "timed out" in str(error)
    assert wait_for(lambda: sim.disconnects == 1)
    assert sim.chat_requests()[0].first_byte_at is None


def test_in_stream_error_keeps_text_and_the_stored_reply(allenai_sim: SimHandle) -> None:
    sim = allenai_sim.sim
    sim.script.chunks, sim.script.error_after = ["Each ", "has ", "exactly"], 2
    events = turn(AllenAI(base_url=allenai_sim.url), ChatRequest("olmo-3.1-32b-instruct", HELLO))
    assert text_of(events) == "Each has "
    error = final_of(events).error
    assert error.kind == "unavailable" and sim.script.error_text in str(error)
    reply = sim.messages[state_of(events)["parent"]]  # the partial reply was stored: continue from it
    assert reply.role == "assistant" and reply.content == "Each has "


def test_model_error_before_any_text_keeps_the_old_state(allenai_sim: SimHandle) -> None:
    """Example D: the reply was never announced, finalThread ends with the user message."""
    sim, provider = allenai_sim.sim, AllenAI(base_url=allenai_sim.url)
    state = state_of(turn(provider, ChatRequest("olmo-3.1-32b-think", HELLO)))
    sim.script.error_after, sim.script.thinking = 0, ""
    events = turn(provider, ChatRequest("olmo-3.1-32b-think", follow_up(HELLO, "x", "Why?"), state=state))
    assert text_of(events) == "" and no_state(events)
    assert final_of(events).error.kind == "unavailable"
    sim.script.error_after = None
    assert (
        final_of(turn(provider, ChatRequest("olmo-3.1-32b-think", follow_up(HELLO, "x", "Why?"), state=state))).reason
        == "stop"
    )


@pytest.mark.parametrize("then_final", [False, True], ids=["eof", "final-follows"])
def test_seed_protocol_error_line(allenai_sim: SimHandle, then_final: bool) -> None:
    sim = allenai_sim.sim
    sim.script.chunks, sim.script.error_after, sim.script.error_then_final = ["Each ", "has"], 1, then_final
    events = turn(AllenAI(base_url=allenai_sim.url, protocol="v4-message"), ChatRequest("tulu3-405b", HELLO))
    assert text_of(events) == "Each "
    error = final_of(events).error
    assert error.kind == "unavailable" and sim.script.error_text in str(error)
    assert sim.messages[state_of(events)["parent"]].role == "assistant"


def test_seed_protocol_length_reason_finishes_with_length(allenai_sim: SimHandle) -> None:
    sim = allenai_sim.sim
    sim.script.chunks, sim.script.error_after, sim.script.error_reason = ["Long ", "answer"], 2, "length"
    events = turn(AllenAI(base_url=allenai_sim.url, protocol="v4-message"), ChatRequest("tulu3-405b", HELLO))
    assert text_of(events) == "Long answer"
    assert final_of(events) == Finished("length")
    assert state_of(events)["protocol"] == "v4-message"


def test_seed_protocol_disconnect_keeps_text_and_parent(allenai_sim: SimHandle) -> None:
    sim = allenai_sim.sim
    sim.script.chunks, sim.script.disconnect_after = ["a", "b", "c"], 2
    events = turn(AllenAI(base_url=allenai_sim.url, protocol="v4-message"), ChatRequest("tulu3-405b", HELLO))
    assert text_of(events) == "ab"
    assert final_of(events).error.kind == "unavailable"
    assert sim.messages[state_of(events)["parent"]].role == "assistant"
    assert sim.chat_requests()[0].aborted


def test_connection_refused_lists_no_models() -> None:
    with pytest.raises(UnavailableError):
        run(AllenAI(base_url=f"http://127.0.0.1:{free_port()}").list_models())


# --- models -------------------------------------------------------------------------------------

VISIBLE = ["olmo-3.1-32b-instruct", "olmo-3.1-32b-think", "molmo2-8b"]


@pytest.mark.parametrize(
    ("protocol", "path"), [("auto", "/v5/models/"), ("v5", "/v5/models/"), ("v4-message", "/v4/models/")]
)
def test_model_list(allenai_sim: SimHandle, protocol: str, path: str) -> None:
    models = run(AllenAI(base_url=allenai_sim.url, protocol=protocol).list_models())
    assert [m.id for m in models] == VISIBLE  # hidden / deprecated seed models are left out
    by_id = {m.id: m for m in models}
    assert by_id["molmo2-8b"].vision and not by_id["molmo2-8b"].reasoning
    assert by_id["olmo-3.1-32b-think"].reasoning and not by_id["olmo-3.1-32b-think"].vision
    assert by_id["olmo-3.1-32b-instruct"].name == "Olmo 3.1 32B Instruct"
    [sent] = allenai_sim.sim.requests
    assert sent.path == path and sent.headers["x-anonymous-user-id"]


def test_model_list_falls_back_to_v4_in_auto_mode(allenai_sim: SimHandle) -> None:
    allenai_sim.sim.script.v5_status = 404
    models = run(AllenAI(base_url=allenai_sim.url).list_models())
    assert [m.id for m in models] == VISIBLE
    assert [r.path for r in allenai_sim.sim.requests] == ["/v5/models/", "/v4/models/"]


def test_model_list_errors_are_provider_errors(allenai_sim: SimHandle) -> None:
    allenai_sim.sim.script.models_error = ForcedError(500, "database is down")
    with pytest.raises(HTTPStatusError, match="database is down"):
        run(AllenAI(base_url=allenai_sim.url).list_models())
    allenai_sim.sim.script.models_error = ForcedError(200, body={"models": []})
    with pytest.raises(UnexpectedResponseError, match="not a JSON array"):
        run(AllenAI(base_url=allenai_sim.url).list_models())


def test_fallback_models_and_aliases() -> None:
    ids = [m.id for m in INFO.fallback_models]
    assert ids[:3] == ["olmo-3.1-32b-instruct", "olmo-3.1-32b-think", "molmo2-8b"]
    assert "tulu3-405b" in ids and "mm-olmo-uber-model-v4-synthetic" in ids
    assert INFO.resolve_model("llama-3.1-405b") == "tulu3-405b"
    assert INFO.resolve_model("olmo-4-synthetic") == "mm-olmo-uber-model-v4-synthetic"
    assert set(INFO.aliases.values()) <= set(ids)
    assert not INFO.needs_credentials


# --- the seed protocol's fixture bodies, served verbatim ------------------------------------------


@dataclass
class Canned:
    status: int = 200
    content_type: str = "application/jsonl"
    payload: bytes = b""


@pytest.fixture(scope="module")
def canned_server() -> Iterator[tuple[str, Canned]]:
    canned = Canned()

    async def reply(request: Request) -> Response:
        await request.body()
        return Response(canned.payload, canned.status, media_type=canned.content_type)

    app = Starlette(routes=[Route("/v4/message/stream", reply, methods=["POST"])])
    with serve(app) as url:
        yield url, canned


def canned_turn(
    canned_server: tuple[str, Canned], payload: bytes, *, status: int = 200, content_type: str = "application/jsonl"
) -> list[Event]:
    url, canned = canned_server
    canned.payload, canned.status, canned.content_type = payload, status, content_type
    return turn(
        AllenAI(base_url=url), ChatRequest("tulu-3-405b", (ChatMessage("user", "What is the capital of France?"),))
    )


def test_fixture_a1_new_thread(canned_server: tuple[str, Canned]) -> None:
    events = canned_turn(canned_server, body(A1_LINES))  # auto mode: /v5 is 404 on this server
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["The", " capital of France", " is Paris", "."]
    state = state_of(events)
    assert state["parent"] == "msg_Q7D4W9Z2H5" and state["thread_id"] == "msg_K3T8V1B6N2"
    assert state["protocol"] == "v4-message"
    assert final_of(events) == Finished("stop")


def test_fixture_a2_model_overloaded_is_an_error_not_a_crash(canned_server: tuple[str, Canned]) -> None:
    events = canned_turn(canned_server, body(A2_LINES))
    assert text_of(events) == ""
    assert state_of(events)["parent"] == "msg_F6G3M0R9S7"
    error = final_of(events).error
    assert error.kind == "unavailable" and "model overloaded" in str(error)


def test_fixture_a3_system_prompt_head_nests_the_reply(canned_server: tuple[str, Canned]) -> None:
    events = canned_turn(canned_server, body(A3_LINES))
    assert text_of(events) == "Hello! How can I help?"
    assert state_of(events)["parent"] == "msg_A9S2D5F8G1"  # two levels down (the seed found nothing)
    assert state_of(events)["thread_id"] == "msg_S1Y4U7I0O3"
    assert final_of(events).reason == "stop"


def test_fixture_a4_skips_junk_and_keeps_newlines(canned_server: tuple[str, Canned]) -> None:
    events = canned_turn(canned_server, body(A4_LINES))
    assert text_of(events) == "Line one.\n\nLine two."
    assert state_of(events)["parent"] == "msg_C4V7X0Z3L6"
    assert final_of(events).reason == "stop"


@pytest.mark.parametrize(
    ("status", "payload", "expected"),
    [
        (400, A5_400, "1 validation error for CreateMessageRequestV4\ncaptcha_token"),
        (403, A5_403, "You don't have the permission"),
        (401, A5_401, "could not verify that you are authorized"),
    ],
)
def test_fixture_a5_http_errors(canned_server: tuple[str, Canned], status: int, payload: str, expected: str) -> None:
    events = canned_turn(canned_server, payload.encode(), status=status, content_type="application/json")
    error = final_of(events).error
    assert error.status == status
    assert expected in str(error)


def test_fixture_lines_split_anywhere_give_the_same_events() -> None:
    whole = body(A4_LINES)

    async def parse(chunks: list[bytes]) -> list[Event]:
        from providers.allenai_wire import parse_stream

        async def source():
            for chunk in chunks:
                yield chunk

        return [e async for e in parse_stream(V4MessageParser({"anonymous_user_id": "u"}), source())]

    expected = run(parse([whole]))
    for size in (1, 7, 64, 1000):
        assert run(parse([whole[i : i + size] for i in range(0, len(whole), size)])) == expected


# --- the v5 parser on the documented examples (allenai-current.md §2.6, C and D) -----------------


EXAMPLE_C = [
    {"message": "msg_B7R2M9X4D6", "type": "start"},
    {
        "message": "msg_B7R2M9X4D6",
        "id": "msg_B7R2M9X4D6",
        "messages": [{"id": "msg_B7R2M9X4D6", "content": "Name three prime numbers.", "role": "user", "final": False}],
        "type": "startThread",
    },
    {
        "message": "msg_H2P6C8N1W3",
        "id": "msg_H2P6C8N1W3",
        "messages": [{"id": "msg_H2P6C8N1W3", "content": "", "role": "assistant", "thinking": "Okay,", "final": False}],
        "type": "addMessage",
    },
    {"message": "msg_H2P6C8N1W3", "content": " small primes:", "id": None, "type": "thinking"},
    {"message": "msg_H2P6C8N1W3", "content": " 2, 3, 5.", "id": None, "type": "thinking"},
    {"message": "msg_H2P6C8N1W3", "content": "2, 3", "type": "modelResponse"},
    {"message": "msg_H2P6C8N1W3", "content": " and 5.", "type": "modelResponse"},
    {
        "message": "msg_B7R2M9X4D6",
        "id": "msg_B7R2M9X4D6",
        "messages": [
            {"id": "msg_B7R2M9X4D6", "role": "user", "final": True},
            {"id": "msg_H2P6C8N1W3", "content": "2, 3 and 5.", "role": "assistant", "final": True},
        ],
        "type": "finalThread",
    },
    {"message": "msg_B7R2M9X4D6", "type": "end"},
]
EXAMPLE_D = [
    {"message": "msg_B7R2M9X4D6", "type": "start"},
    {
        "message": "msg_Q4W8E2R6T0",
        "id": "msg_Q4W8E2R6T0",
        "messages": [{"id": "msg_Q4W8E2R6T0", "content": "Why?", "role": "user"}],
        "type": "addMessage",
    },
    {
        "message": "msg_Y1U5I9O3P7",
        "errorCode": "otherError",
        "errorDescription": "status_code: 503, model_name: olmo-3.1-32b-think, body: Service Unavailable",
        "errorSeverity": "error",
        "type": "error",
    },
    {
        "message": "msg_Q4W8E2R6T0",
        "id": "msg_Q4W8E2R6T0",
        "messages": [{"id": "msg_Q4W8E2R6T0", "content": "Why?", "role": "user", "final": True}],
        "type": "finalThread",
    },
    {"message": "msg_B7R2M9X4D6", "type": "end"},
]


def feed_all(parser: V5Parser | V4MessageParser, lines: list) -> list[Event]:
    events = [e for line in lines for e in parser.feed(line)]
    return events + parser.close()


def test_v5_parser_example_c() -> None:
    events = feed_all(V5Parser({"anonymous_user_id": "u"}), EXAMPLE_C)
    assert events == [
        ReasoningDelta("Okay,"), ReasoningDelta(" small primes:"), ReasoningDelta(" 2, 3, 5."),
        TextDelta("2, 3"), TextDelta(" and 5."),
        StateUpdate({"anonymous_user_id": "u", "protocol": "v5", "parent": "msg_H2P6C8N1W3", "thread_id": "msg_B7R2M9X4D6"}),
        Finished("stop"),
    ]  # fmt: skip


def test_v5_parser_example_d_raises_the_backend_message_without_a_new_parent() -> None:
    parser = V5Parser({"anonymous_user_id": "u"})
    assert [e for line in EXAMPLE_D for e in parser.feed(line)] == []
    with pytest.raises(UnavailableError, match=re.escape("status_code: 503, model_name: olmo-3.1-32b-think")):
        parser.close()
    assert parser.fail_state() is None


@pytest.mark.parametrize(
    "line",
    [
        {"message": "m", "text": "renamed", "type": "modelResponse"},
        {"message": "m", "content": None, "type": "thinking"},
        {"id": "m", "messages": "not a list", "type": "addMessage"},
        {"message": "m", "id": "m", "messages": [], "type": "finalThread"},
        {"type": "start"},
        {"message": "m", "content": "no type"},
        ["not", "an", "object"],
    ],
)
def test_v5_parser_names_the_drift(line: object) -> None:
    with pytest.raises(UnexpectedResponseError, match="protocol changed") as info:
        V5Parser().feed(line)
    kind = line.get("type") if isinstance(line, dict) else None
    assert kind is None or kind in str(info.value)


def test_v5_parser_tolerates_unknown_types_tool_calls_and_extra_keys() -> None:
    lines = [{**line, "futureKey": [1, {"x": None}]} for line in EXAMPLE_C]
    lines.insert(
        3, {"message": "m", "type": "toolCall", "toolCallId": "t", "toolName": "n", "args": {}, "toolSource": None}
    )
    lines.insert(4, {"message": "m", "type": "someNewChunk", "payload": 1})
    assert feed_all(V5Parser(), lines)[:-2] == feed_all(V5Parser(), EXAMPLE_C)[:-2]


def test_v5_eof_without_end_after_text_is_unavailable() -> None:
    parser = V5Parser()
    assert parser.feed(EXAMPLE_C[5]) == [TextDelta("2, 3")]
    with pytest.raises(UnavailableError, match="closed the stream before the end"):
        parser.close()


def test_fixture_a3_without_chunks_still_finds_the_nested_reply() -> None:
    events = feed_all(V4MessageParser(), [json.loads(A3_LINES[0]), json.loads(A3_LINES[2])])
    assert events == [
        TextDelta("Hello! How can I help?"),  # the final snapshot's text, since no chunk carried it
        StateUpdate({"protocol": "v4-message", "parent": "msg_A9S2D5F8G1", "thread_id": "msg_S1Y4U7I0O3"}),
        Finished("stop"),
    ]


# --- the simulator itself is as strict as the real server ------------------------------------------


def post(url: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.post(url + path, timeout=5, **kwargs)  # type: ignore[arg-type]


ANON = {"X-Anonymous-User-ID": "3f6c2a9e-8b1d-4c57-9a0e-2d7f1b6c4e80"}


def test_simulator_v5_accepts_only_forms_with_a_role_and_an_identity(allenai_sim: SimHandle) -> None:
    url = allenai_sim.url
    as_json = post(
        url, "/v5/threads/chat", json={"role": "user", "model": "olmo-3.1-32b-instruct", "content": "x"}, headers=ANON
    )
    assert as_json.status_code == 422 and as_json.headers["content-type"] == "application/problem+json"
    assert as_json.json()["errors"][0]["type"] == "union_tag_not_found"
    no_role = post(url, "/v5/threads/chat", data={"model": "olmo-3.1-32b-instruct", "content": "x"}, headers=ANON)
    assert no_role.status_code == 422 and "discriminator 'role'" in no_role.json()["errors"][0]["msg"]
    anonymous = post(url, "/v5/threads/chat", data={"role": "user", "model": "olmo-3.1-32b-instruct", "content": "x"})
    assert anonymous.status_code == 401 and anonymous.json()["type"] == "http-unauthorized"
    captcha = post(
        url,
        "/v5/threads/chat",
        data={"role": "user", "model": "olmo-3.1-32b-instruct", "content": "x", "captchaToken": ""},
        headers=ANON,
    )
    assert captcha.status_code == 400 and captcha.json()["detail"] == "Invalid captcha"
    empty = post(
        url, "/v5/threads/chat", data={"role": "user", "model": "olmo-3.1-32b-instruct", "content": " "}, headers=ANON
    )
    assert empty.status_code == 422
    missing_parent = post(
        url,
        "/v5/threads/chat",
        data={"role": "user", "model": "olmo-3.1-32b-instruct", "content": "x", "parent": "msg_A1B1C1D1E1"},
        headers=ANON,
    )
    assert (
        missing_parent.status_code == 422
        and missing_parent.json()["detail"] == "Parent message msg_A1B1C1D1E1 not found"
    )
    assert not allenai_sim.sim.messages  # nothing was stored for rejected requests


def test_simulator_wire_formats(allenai_sim: SimHandle) -> None:
    url = allenai_sim.url
    v5 = post(
        url,
        "/v5/threads/chat",
        files={"role": (None, "user"), "model": (None, "olmo-3.1-32b-instruct"), "content": (None, "Grüße")},
        headers=ANON,
    )
    assert v5.status_code == 200 and v5.headers["content-type"].startswith("application/jsonl")
    v5_lines = v5.text.splitlines()
    assert [json.loads(line)["type"] for line in v5_lines[:2]] == ["start", "startThread"]
    assert [json.loads(line)["type"] for line in v5_lines[-2:]] == ["finalThread", "end"]
    assert '"type":"start"' in v5_lines[0] and ", " not in v5_lines[0] and "Grüße" in v5_lines[1]  # compact, UTF-8

    v4 = post(
        url,
        "/v4/message/stream",
        files={
            "model": (None, "tulu3-405b"),
            "host": (None, "inferd"),
            "content": (None, "Grüße"),
            "private": (None, "true"),
        },
        headers=ANON,
    )
    head, *chunks, final = [json.loads(line) for line in v4.text.splitlines()]
    assert '"content": "Gr\\u00fc\\u00dfe"' in v4.text.splitlines()[0]  # Python separators, ASCII escapes
    assert (
        list(head)[:5] == ["id", "content", "snippet", "creator", "role"] and head["children"][0]["role"] == "assistant"
    )
    assert all(list(chunk) == ["message", "content", "logprobs"] for chunk in chunks)
    assert final["final"] is True and final["children"][0]["content"] == "".join(c["content"] for c in chunks)
    for message_id in (head["id"], head["children"][0]["id"], json.loads(v5_lines[0])["message"]):
        assert ID.match(message_id)

    v4_error = post(url, "/v4/message/stream", files={"model": (None, "tulu3-405b")})
    assert v4_error.status_code == 401 and list(v4_error.json()["error"]) == ["code", "message"]


def test_simulator_model_routes(allenai_sim: SimHandle) -> None:
    url = allenai_sim.url
    assert httpx.get(url + "/v5/models/").status_code == 401
    v5 = httpx.get(url + "/v5/models/", headers=ANON).json()
    assert {"id", "acceptsFiles", "canThink", "promptType", "isVisible", "isDeprecated"} <= set(v5[0])
    v4 = httpx.get(url + "/v4/models/").json()  # no identity needed
    assert list(v4[0]) == sorted(v4[0]) and {"accepts_files", "can_think", "is_deprecated"} <= set(v4[0])


def test_simulator_records_first_byte_times(allenai_sim: SimHandle) -> None:
    sim = allenai_sim.sim
    sim.script.first_byte_delay, sim.script.chunks, sim.script.chunk_delay = 0.1, ["a", "b"], 0.05
    assert (
        final_of(turn(AllenAI(base_url=allenai_sim.url), ChatRequest("olmo-3.1-32b-instruct", HELLO))).reason == "stop"
    )
    [sent] = sim.chat_requests()
    assert sent.first_byte_at - sent.received_at >= 0.1
    assert sent.first_text_at >= sent.first_byte_at and sent.wait_finished() - sent.first_text_at >= 0.05
    assert not sent.disconnected and sim.disconnects == 0


def test_simulator_runs_standalone() -> None:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "simulators.allenai", "--port", str(port), "--chunk-delay", "0",
         "--generation", "v4-threads"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: _answers(url + "/v4/models/"), timeout=15), "the standalone simulator did not come up"
        provider = AllenAI(base_url=url)
        events = turn(provider, ChatRequest("olmo-3.1-32b-instruct", (ChatMessage("user", "Hello there"),)))
        assert "Hello there" in text_of(events) and final_of(events).reason == "stop"
        assert state_of(events)["protocol"] == "v4-threads"  # the generation asked for on the command line
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
