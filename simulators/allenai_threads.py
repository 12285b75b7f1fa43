"""The simulated Ai2 Playground's middle generation: the body of ``POST /v4/threads/``.

olmo-api at f0c14ee (2026-01-30; allenai-current.md §2.3, observed-servers.md) answers a turn
with sorted-key JSON lines: ``start`` (the root id), a type-less thread snapshot ``{id,
messages}`` once the empty reply is stored, ``thinking`` / ``modelResponse`` deltas, the
snapshot again with every message final, and ``end``. An inference failure is the legacy line
``{error, message, reason}`` after which the body just ends (the Flask generator re-raised);
a failed tool lookup is a typed ``error`` chunk, after which the thread still gets its final
snapshot (the new messages final, the failed reply not, carrying the error) and ``end``.

``thread_lines`` is driven by simulators/allenai.py, which owns the routes and the tree.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from simulators.allenai_rules import Turn
from simulators.allenai_wire import flat_v4_threads, v4_threads_line
from simulators.common import Abort, RecordedRequest, pause

if TYPE_CHECKING:
    from simulators.allenai import AllenAISimulator


async def thread_lines(
    sim: AllenAISimulator, turn: Turn, record: RecordedRequest, backend: str
) -> AsyncIterator[bytes]:
    """One turn's body: the new messages are stored first, like the server does before streaming."""
    script = sim.script
    chunks = script.answer_chunks(turn.content, backend)
    thinking = script.thinking_pieces(turn.content, can_think=turn.model.can_think)
    new, reply = sim.start_turn(turn)
    root, first = new[0].root, new[0]

    def line(kind: str, obj: dict[str, Any]) -> bytes:
        return v4_threads_line(script.decorate(kind, obj))

    def snapshot(*, error: bool = False) -> bytes:
        messages = [flat_v4_threads(m, error=error and m is reply) for m in (*new, reply)]
        return line("thread", {"id": first.id, "messages": messages})

    if script.first_byte_delay:
        await asyncio.sleep(script.first_byte_delay)
    yield line("start", {"message": root, "type": "start"})
    yield snapshot()
    if script.extra_fields:
        yield line("heartbeat", {"at": time.time(), "message": root, "type": "simHeartbeat"})
    for piece in thinking:
        reply.thinking = (reply.thinking or "") + piece
        yield line("thinking", {"content": piece, "id": None, "message": reply.id, "type": "thinking"})
        await pause(script.chunk_delay)
    for index in range(len(chunks) + 1):
        if index == script.disconnect_after:
            raise Abort
        if index == script.garbled_after:
            yield script.garbled + b"\n"
        if index == script.error_after or index == len(chunks):
            break
        if index:
            await pause(script.chunk_delay)
        record.first_text_at = record.first_text_at or time.monotonic()
        reply.content += chunks[index]
        yield line("modelResponse", {"content": chunks[index], "message": reply.id, "type": "modelResponse"})
    failed = script.error_after is not None and script.error_after <= len(chunks)
    if failed and not script.error_chunk:
        yield line("error", {"error": script.error_text, "message": reply.id, "reason": script.error_reason})
        return  # the server re-raised: the body just ends, no final snapshot, no end
    if failed:
        reply.error_description = script.error_text
        error = {"errorCode": "toolCallError", "errorDescription": script.error_text, "errorSeverity": "error"}
        yield line("error", error | {"message": reply.id, "type": "error"})
    for message in new:
        message.final = True
    reply.final = not failed  # the server returns before finalizing a reply whose step failed
    yield snapshot(error=failed)
    yield line("end", {"message": root, "type": "end"})
