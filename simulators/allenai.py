"""A strict, scriptable, recording simulator of the Ai2 Playground API (olmo-api).

It speaks the three chat routes the Playground has shipped (shared/protocols/allenai-current.md,
observed-servers.md and web-backends.md §2):

* ``POST /v5/threads/chat``: form only, compact JSON lines typed by ``type``,
  RFC 9457 ``application/problem+json`` errors; ``GET /v5/models/`` (camelCase, auth needed);
* ``POST /v4/threads/``: the Flask API of olmo-api at f0c14ee, multipart or JSON, sorted-key
  JSON lines with type-less thread snapshots, ``{"error": {"code", "message"}}`` errors;
  ``GET /v4/threads/{root}`` reads a thread back (simulators/allenai_threads.py streams it);
* ``POST /v4/message/stream``: the seed's legacy protocol, JSON lines with Python's
  ``", "``/``": "`` separators and ASCII escapes, ``{"error": {"code", "message"}}`` errors;
  ``GET /v4/models/`` (snake_case, sorted keys, no auth).

``generation`` makes it one real server: ``"v5"`` (today's: v5, and the Flask ``/v4/threads/``
still beside it), ``"v4-threads"`` (olmo-api as of 2026-01: v5 and v4-message answer 404) or
``"v4-message"`` (the seed's server); every route it lacks answers 404 in the envelope of the
app behind that path. ``None`` (the default) serves every route, for tests of one protocol.

This module holds ``AllenAISimulator`` (routes, the conversation tree, the v5 and v4-message
streams) and its ``Script``. Beside it: simulators/allenai_rules.py (which chat requests are
accepted), simulators/allenai_wire.py (models, messages, lines and error envelopes as sent),
simulators/allenai_threads.py (the ``/v4/threads/`` stream) and simulators/common.py (what all
simulators share: the request log, ``ForcedError``, the generic script knobs, the
chunk-by-chunk streaming response, reply text).

Usage in a test::

    sim = AllenAISimulator(generation="v4-threads")   # or "v5", "v4-message"; None: every route
    sim.script.chunks = ["Hel", "lo"]          # or .reply / .n_chunks / .thinking ...
    sim.script.http_error = ForcedError.rate_limited(7)   # from simulators.common
    with serve(sim.app) as url: ...
    sim.requests[-1].form["content"], sim.requests[-1].headers["x-anonymous-user-id"]

Standalone: ``python -m simulators.allenai --port 8765``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import string
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from simulators.allenai_rules import Rejected, Turn, caller, read_v4, read_v4_threads, read_v5
from simulators.allenai_threads import thread_lines
from simulators.allenai_wire import (
    DEFAULT_MODELS,
    V4_FORBIDDEN,
    V4_NOT_FOUND,
    V4_UNAUTHORIZED,
    SimMessage,
    SimModel,
    flat_v4_threads,
    flat_v5,
    legacy_error,
    problem,
    tree_v4,
    v4_line,
    v4_threads_line,
    v5_line,
)
from simulators.common import Abort, BaseScript, RecordedRequest, RecordingSimulator, pause

BACKEND = "the Ai2 Playground"  # as default replies name it
HTML_PAGE = "<!doctype html><html><body>Ai2 Playground</body></html>"  # what html_200 answers
GENERATIONS: dict[str, set[str]] = {  # the routes each generation's server has
    "v5": {"/v5/threads/chat", "/v5/models/", "/v4/threads/", "/v4/models/"},
    "v4-threads": {"/v4/threads/", "/v4/models/"},
    "v4-message": {"/v4/message/stream", "/v4/models/"},
}


@dataclass
class Script(BaseScript):
    """Per-test knobs: the generic ones of ``BaseScript``, and the Ai2 ones below."""

    error_text: str = "status_code: 503, model_name: simulated, body: Service Unavailable"
    v5_status: int | None = None  # every /v5 route answers this status (404/405: no v5 here)
    error_reason: str = "Model http error"  # v4 legacy error line's reason ("length", "model overloaded", …)
    error_then_final: bool = False  # v4: the final message follows the error line (else EOF)
    error_chunk: bool = False  # v4 threads: a typed error chunk, then the final thread and end (else legacy + EOF)


class AllenAISimulator(RecordingSimulator):
    """The Ai2 Playground API in miniature. ``app`` is the Starlette app to serve."""

    def __init__(self, *, models: list[SimModel] | None = None, seed: int = 0, generation: str | None = None) -> None:
        super().__init__()
        if generation is not None and generation not in GENERATIONS:
            raise ValueError(f"unknown generation {generation!r}")
        self.generation = generation  # may be changed between requests
        self.script = Script()
        self.models = {m.id: m for m in (models or DEFAULT_MODELS)}
        self.messages: dict[str, SimMessage] = {}
        self.threads: dict[str, list[SimMessage]] = {}  # root id -> messages in creation order
        self._rng = random.Random(seed)
        self.app = Starlette(
            routes=[
                Route("/v5/threads/chat", self._chat_v5, methods=["POST"]),
                Route("/v4/threads/", self._chat_v4_threads, methods=["POST"]),
                Route("/v4/threads/{root}", self._thread_v4, methods=["GET"]),
                Route("/v4/message/stream", self._chat_v4, methods=["POST"]),
                Route("/v5/models/", self._models_v5, methods=["GET"]),
                Route("/v4/models/", self._models_v4, methods=["GET"]),
            ]
        )

    def new_id(self) -> str:
        while True:
            chars = [self._rng.choice(string.ascii_uppercase if i % 2 == 0 else string.digits) for i in range(10)]
            message_id = "msg_" + "".join(chars)
            if message_id not in self.messages:
                return message_id

    # -- models

    async def _models_v5(self, request: Request) -> Response:
        record = await self._record(request)
        if self.script.v5_status or not self._has("/v5/models/"):
            return self._finish(record, self._v5_gone(self.script.v5_status or 404))
        if self.script.models_error:
            return self._forced(self.script.models_error, record, _v5_envelope)
        if caller(record) is None:
            return self._finish(record, problem(401, "http-unauthorized", "Unauthorized", "Authentication required"))
        body = json.dumps([m.v5() for m in self.models.values()], separators=(",", ":"))
        return self._finish(record, Response(body, media_type="application/json"))

    async def _models_v4(self, request: Request) -> Response:
        record = await self._record(request)
        if not self._has("/v4/models/"):
            return self._finish(record, legacy_error(404, V4_NOT_FOUND))
        if self.script.models_error:
            return self._forced(self.script.models_error, record, legacy_error)
        body = json.dumps([m.v4() for m in self.models.values()], sort_keys=True)
        return self._finish(record, Response(body, media_type="application/json"))

    def _has(self, path: str) -> bool:
        """Whether this generation's server has the route (``None``: every route)."""
        return self.generation is None or path in GENERATIONS[self.generation]

    @staticmethod
    def _v5_gone(status: int) -> Response:
        if status == 405:
            return Response("Method Not Allowed", 405, headers={"Allow": "GET"}, media_type="text/plain")
        return problem(status, "not-found-problem" if status == 404 else "simulated-problem", "Not Found", "Not Found")

    # -- chat

    async def _chat_v5(self, request: Request) -> Response:
        record = await self._record(request)
        script = self.script
        if script.v5_status or not self._has("/v5/threads/chat"):
            return self._finish(record, self._v5_gone(script.v5_status or 404))
        if script.http_error:
            return self._forced(script.http_error, record, _v5_envelope)
        try:
            turn = read_v5(record, self.models, self.messages, self.threads)
        except Rejected as rejected:
            return self._finish(record, rejected.response)
        if script.html_200:
            return self._finish(record, HTMLResponse(HTML_PAGE))
        return self._finish(record, self._stream(self._v5_lines(turn, record), "application/jsonl", record))

    async def _chat_v4_threads(self, request: Request) -> Response:
        """The Flask generation's ``/v4/threads/``."""
        record = await self._record(request)
        if not self._has("/v4/threads/"):
            return self._finish(record, legacy_error(404, V4_NOT_FOUND))
        if self.script.http_error:
            return self._forced(self.script.http_error, record, legacy_error)
        try:
            turn = read_v4_threads(record, self.models, self.messages, self.threads)
        except Rejected as rejected:
            return self._finish(record, rejected.response)
        if self.script.html_200:
            return self._finish(record, HTMLResponse(HTML_PAGE))
        lines = thread_lines(self, turn, record, BACKEND)
        return self._finish(record, self._stream(lines, "application/jsonl", record))

    async def _thread_v4(self, request: Request) -> Response:
        """``GET /v4/threads/{root}``: a thread read back by its creator, as one flat message list."""
        record = await self._record(request)
        user = caller(record)
        thread = self.threads.get(request.path_params["root"])
        if not self._has("/v4/threads/") or thread is None:
            return self._finish(record, legacy_error(404, V4_NOT_FOUND))
        if user is None:
            return self._finish(record, legacy_error(401, V4_UNAUTHORIZED))
        if thread[0].creator != user:
            return self._finish(record, legacy_error(403, V4_FORBIDDEN))
        body = {"id": thread[0].id, "messages": [flat_v4_threads(m) for m in thread]}
        return self._finish(record, Response(v4_threads_line(body), media_type="application/json"))

    async def _chat_v4(self, request: Request) -> Response:
        """The seed's ``/v4/message/stream``."""
        record = await self._record(request)
        if not self._has("/v4/message/stream"):
            return self._finish(record, legacy_error(404, V4_NOT_FOUND))
        if self.script.http_error:
            return self._forced(self.script.http_error, record, legacy_error)
        try:
            turn = read_v4(record, self.models, self.messages, self.threads)
        except Rejected as rejected:
            return self._finish(record, rejected.response)
        if self.script.html_200:
            return self._finish(record, HTMLResponse(HTML_PAGE))
        return self._finish(record, self._stream(self._v4_lines(turn, record), "application/jsonl", record))

    # -- the conversation tree

    def _add(self, turn: Turn, role: str, content: str, parent: SimMessage | None) -> SimMessage:
        message_id = self.new_id()
        root = parent.root if parent else message_id
        message = SimMessage(
            message_id, role, content, turn.caller, root, parent.id if parent else None, turn.model, dict(turn.opts)
        )
        self.messages[message_id] = message
        self.threads.setdefault(root, []).append(message)
        if parent:
            parent.children.append(message_id)
        return message

    def start_turn(self, turn: Turn) -> tuple[list[SimMessage], SimMessage]:
        """Store the new messages (system on a new thread, user, empty assistant reply)."""
        new: list[SimMessage] = []
        parent = turn.parent
        if parent is None and turn.model.system_prompt:
            parent = self._add(turn, "system", turn.model.system_prompt, None)
            new.append(parent)
        user = self._add(turn, "user", turn.content, parent)
        user.file_names = turn.files
        new.append(user)
        return new, self._add(turn, "assistant", "", user)

    def _forget(self, message: SimMessage) -> None:
        """Take a never-persisted reply out of the tree again."""
        del self.messages[message.id]
        self.threads[message.root].remove(message)
        if message.parent:
            self.messages[message.parent].children.remove(message.id)

    # -- v5 stream

    async def _v5_lines(self, turn: Turn, record: RecordedRequest) -> AsyncIterator[bytes]:
        script = self.script
        chunks = script.answer_chunks(turn.content, BACKEND)
        thinking = script.thinking_pieces(turn.content, can_think=turn.model.can_think)
        new, reply = self.start_turn(turn)
        root, first = new[0].root, new[0]

        def line(kind: str, obj: dict[str, Any]) -> bytes:
            return v5_line(script.decorate(kind, obj))

        if script.first_byte_delay:
            await asyncio.sleep(script.first_byte_delay)
        yield line("start", {"message": root, "type": "start"})
        if script.extra_fields:
            yield line("heartbeat", {"message": root, "type": "simHeartbeat", "at": time.time()})
        kind = "startThread" if turn.parent is None else "addMessage"
        yield line(kind, {"message": first.id, "id": first.id, "messages": [flat_v5(m) for m in new], "type": kind})

        announced = False

        def announce(content: str, reasoning: str | None) -> bytes:
            reply.content, reply.thinking = content, reasoning
            obj = {"message": reply.id, "id": reply.id, "messages": [flat_v5(reply)], "type": "addMessage"}
            return line("addMessage", obj)

        if thinking:
            yield announce("", thinking[0])
            announced = True
            for piece in thinking[1:]:
                await pause(script.chunk_delay)
                reply.thinking = (reply.thinking or "") + piece
                yield line("thinking", {"message": reply.id, "content": piece, "id": None, "type": "thinking"})
        failed = False
        for index in range(len(chunks) + 1):
            if index == script.disconnect_after:
                raise Abort
            if index == script.garbled_after:
                yield script.garbled + b"\n"
            if index == script.error_after:
                failed = True
                break
            if index == len(chunks):
                break
            if index or thinking:
                await pause(script.chunk_delay)
            await script.hold(index)
            record.first_text_at = record.first_text_at or time.monotonic()
            if not announced:
                yield announce(chunks[index], None)
                announced = True
            else:
                reply.content += chunks[index]
                yield line("modelResponse", {"message": reply.id, "content": chunks[index], "type": "modelResponse"})
            if index == 0 and script.extra_fields:
                yield line("usage", {"message": reply.id, "type": "simUsage", "tokens": 1})
        if failed:
            yield line(
                "error",
                {
                    "message": reply.id,
                    "errorCode": "otherError",
                    "errorDescription": script.error_text,
                    "errorSeverity": "error",
                    "type": "error",
                },
            )
            reply.error_description = script.error_text
            if not announced:  # never persisted (example D)
                self._forget(reply)
        for message in [*new, reply]:
            message.final = True
        shown = [*new, reply] if reply.id in self.messages else new
        final = [flat_v5(m, error=failed and m is reply) for m in shown]
        yield line("finalThread", {"message": first.id, "id": first.id, "messages": final, "type": "finalThread"})
        yield line("end", {"message": root, "type": "end"})

    # -- v4 (legacy) stream

    async def _v4_lines(self, turn: Turn, record: RecordedRequest) -> AsyncIterator[bytes]:
        script = self.script
        chunks = script.answer_chunks(turn.content, BACKEND)
        new, reply = self.start_turn(turn)
        chain = [*new, reply]

        def line(kind: str, obj: dict[str, Any]) -> bytes:
            return v4_line(script.decorate(kind, obj))

        if script.first_byte_delay:
            await asyncio.sleep(script.first_byte_delay)
        yield line("head", tree_v4(chain))
        if script.extra_fields:
            yield line("keepalive", {"keepalive": True, "at": time.time()})
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
            yield line("chunk", {"message": reply.id, "content": chunks[index], "logprobs": []})
        if script.error_after is not None and script.error_after <= len(chunks):
            yield line("error", {"message": reply.id, "error": script.error_text, "reason": script.error_reason})
            if not script.error_then_final:
                return  # the legacy server re-raised: the body just ends
            reply.finish_reason = script.error_reason
        for message in chain:
            message.final = True
        reply.finish_reason = reply.finish_reason or "stop"
        yield line("final", tree_v4(chain))


def _v5_envelope(status: int, message: str) -> Response:
    """A forced error's own body on the v5 routes (the v4 routes use ``legacy_error``)."""
    return problem(status, "simulated-problem", message, message)


def main(argv: list[str] | None = None) -> None:
    from simulators.serve import run_forever

    parser = argparse.ArgumentParser(description="Serve the Ai2 Playground simulator on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--chunk-delay", type=float, default=0.02, help="seconds between answer chunks")
    parser.add_argument("--first-byte-delay", type=float, default=0.0, help="seconds before the first line")
    parser.add_argument("--n-chunks", type=int, default=None, help="split each answer into N chunks")
    parser.add_argument("--v5-status", type=int, default=None, help="answer /v5 routes with this status (404/405)")
    parser.add_argument("--generation", choices=sorted(GENERATIONS), default=None,
                        help="be one generation's server (default: every route)")
    args = parser.parse_args(argv)
    sim = AllenAISimulator(generation=args.generation)
    sim.script.chunk_delay, sim.script.first_byte_delay = args.chunk_delay, args.first_byte_delay
    sim.script.n_chunks, sim.script.v5_status = args.n_chunks, args.v5_status
    run_forever(sim.app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
