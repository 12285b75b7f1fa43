"""The answer stream of the HuggingChat simulator: the JSON lines of ``POST /conversation/{id}``.

As chat-ui at c100c162 writes them (shared/protocols/observed-servers.md): status lines, NUL-padded
``stream`` tokens, reasoning inline as ``<think>`` … ``</think>`` inside those tokens (the tags cut across
tokens) and inside ``finalAnswer.text``, or, for ``reasoning_style="typed"``, the older ``reasoning`` lines;
``title``, ``routerMetadata``, ``finalAnswer`` and the 4096-space tail. Web-search sources and generated
files come from MCP tools, which the simulator plays when the script has them (no request flag asks).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from simulators.common import Abort, pause, prompt_topic
from simulators.huggingchat_wire import TAIL, SimConversation, SimMessage, SimModel, line, padded

BACKEND = "HuggingChat"


def inline_thinking(pieces: list[str]) -> list[str]:
    """The reasoning as chat-ui streams it: wrapped in tags, each tag cut in two across tokens."""
    return ["<thi", "nk>", *pieces, "</th", "ink>\n\n"] if pieces else []


async def answer_lines(
    script: Any, conversation: SimConversation, reply: SimMessage, prompt: str, model: SimModel
) -> AsyncIterator[bytes]:
    chunks = script.answer_chunks(prompt, BACKEND)
    thinking = script.thinking_pieces(prompt, can_think=model.reasoning)
    raw = ""  # the whole answer as finalAnswer.text carries it, <think> block included

    def update(kind: str, obj: dict[str, Any]) -> bytes:
        obj = script.decorate(kind, obj)
        if kind not in ("status", "stream"):
            reply.updates.append(obj)
        return line(obj)

    await pause(script.first_byte_delay)
    yield update("status", {"type": "status", "status": "started"})
    if script.extra_fields:
        yield update("elicitation", {"type": "simFutureUpdate", "subtype": "request", "note": "unknown"})
    if script.keepalives:
        yield update("status", {"type": "status", "status": "keepAlive"})
    if script.sources and not script.web_sources_final:
        yield update("webSearch", {"type": "webSearch", "subtype": "update", "message": "Searching Google",
                                   "args": [prompt_topic(prompt)]})
        yield update("webSearch", {"type": "webSearch", "subtype": "sources", "message": "sources",
                                   "sources": [{"link": u, "title": t} for u, t in script.sources]})
        yield update("webSearch", {"type": "webSearch", "subtype": "finished"})
    if thinking and script.reasoning_style == "typed":
        yield update("reasoning", {"type": "reasoning", "subtype": "status", "status": "Started reasoning..."})
        for piece in thinking:
            await pause(script.chunk_delay)
            reply.reasoning += piece
            yield update("reasoning", {"type": "reasoning", "subtype": "stream", "token": piece})
        yield update("reasoning", {"type": "reasoning", "subtype": "status", "status": "Done in 1s."})
    elif thinking:
        for token in inline_thinking(thinking):
            await pause(script.chunk_delay)
            raw += token
            yield update("stream", {"type": "stream", "token": padded(token)})
    if script.image is not None:
        for obj in image_tool(script, conversation, prompt):
            yield update(obj["type"], obj)
    if script.router_model:
        yield update("routerMetadata", {"type": "routerMetadata", "route": "general", "model": script.router_model,
                                        "provider": "simulated"})
    title = prompt_topic(prompt)[:40] if script.title is None else script.title
    for index, chunk in enumerate(chunks):
        if index == script.disconnect_after:
            raise Abort
        if index == script.garbled_after:
            yield script.garbled + b"\n"
        if index == script.error_after:
            yield update("status", {"type": "status", "status": "error", "message": script.error_text})
            return
        if index:
            await pause(script.chunk_delay)
        if index == 1 and title and conversation.title == "New Chat":
            conversation.title = title
            yield update("title", {"type": "title", "title": title})
        reply.content += chunk
        raw += chunk
        yield update("stream", {"type": "stream", "token": padded(chunk)})
        if script.keepalives and index % 3 == 2:
            yield update("status", {"type": "status", "status": "keepAlive"})
    if script.error_after is not None and script.error_after >= len(chunks):
        yield update("status", {"type": "status", "status": "error", "message": script.error_text})
        return
    if title and conversation.title == "New Chat":
        conversation.title = title
        yield update("title", {"type": "title", "title": title})
    if script.no_final:
        return
    final: dict[str, Any] = {"type": "finalAnswer", "text": raw, "interrupted": False}
    if script.web_sources_final and script.sources:
        final["webSources"] = [{"uri": u, "title": t} for u, t in script.sources]
    yield update("finalAnswer", final) + TAIL.encode()


def image_tool(script: Any, conversation: SimConversation, prompt: str) -> list[dict[str, Any]]:
    """An image-generation MCP tool's call, its file and its result."""
    call = {"name": "image_generation", "parameters": {"prompt": prompt_topic(prompt)}}
    tool_id = str(uuid.uuid4())
    sha = hashlib.sha256(script.image).hexdigest()
    conversation.files[sha] = (script.image_mime, script.image)
    extension = script.image_mime.split("/")[-1]
    return [
        {"type": "tool", "subtype": "call", "uuid": tool_id, "call": call},
        {"type": "file", "name": f"0-{sha}.{extension}", "sha": sha, "mime": script.image_mime},
        {"type": "tool", "subtype": "result", "uuid": tool_id,
         "result": {"outputs": [], "display": False, "call": call, "status": "success"}},
    ]
