"""A strict, scriptable, recording simulator of HuggingChat (huggingface/chat-ui), mounted under ``/chat``.

Strict like the real server (web-backends.md §1): a logged-in cookie session (``hf-chat`` coupled with
``token``) for every non-GET request and for reading conversations, which belong to the session that
made them; ``Origin`` required on the multipart POST; the parent id must exist in the conversation;
NUL-padded tokens, keep-alives, the 4096-space tail; error bodies as the server sends them.

Routes: ``GET /chat/api/v2/models``, ``GET /chat/api/v2/user``, ``POST /chat/conversation``,
``GET /chat/api/v2/conversations/{id}``, ``GET /chat/conversation/{id}/__data.json``,
``POST /chat/conversation/{id}``, ``GET /chat/conversation/{id}/output/{sha}``.

Usage in a test::

    sim = HuggingChatSimulator()
    sim.script.chunks = ["Hel", "lo"]          # or .reply / .thinking / .sources / .image / .title ...
    with serve(sim.app) as url: base_url = url + "/chat"; cookies = sim.cookie_header()
    sim.sent()  # the parsed ``data`` JSON of each message POST

Standalone: ``python -m simulators.huggingchat --port 8766`` (the demo login is printed).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from simulators.common import Abort, BaseScript, RecordedRequest, RecordingSimulator, pause, prompt_topic
from simulators.huggingchat_wire import (
    DEFAULT_MODELS,
    LOGIN_PAGE,
    TAIL,
    SimConversation,
    SimModel,
    data_json,
    hook_error,
    line,
    padded,
    route_error,
    superjson,
)

BACKEND = "HuggingChat"
DEMO_SESSION, DEMO_TOKEN, DEMO_USER = "sim-hf-chat-session", "hf_simulatedtoken", "demo-user"
MAX_FILE = 10 * 1024 * 1024


@dataclass
class Script(BaseScript):
    """Per-test knobs: the generic ones of ``BaseScript``, and HuggingChat's below."""

    keepalives: bool = True  # a keepAlive status line between tokens
    title: str | None = None  # the generated title (None: from the prompt; "": no title update)
    sources: list[tuple[str, str]] = field(default_factory=list)  # (link, title): webSearch sources
    web_sources_final: bool = False  # send the sources as finalAnswer.webSources instead ({uri, title})
    image: bytes | None = None  # a generated image (tool call + file update)
    image_mime: str = "image/webp"
    router_model: str | None = None  # routerMetadata: the model the "Omni" router picked
    v2_status: int | None = None  # /api/v2/conversations answers this status (404: a server before June 2025)
    model_gone: bool = False  # message POSTs answer 410 "Model not available anymore"
    max_file_bytes: int = MAX_FILE  # decoded files above this answer 413
    include_conversation: bool = False  # create answers with the conversation too (servers since 2026-07)
    no_final: bool = False  # the stream ends without finalAnswer (and without an error)


class HuggingChatSimulator(RecordingSimulator):
    """HuggingChat in miniature. ``app`` is the Starlette app to serve."""

    def __init__(self, *, models: list[SimModel] | None = None) -> None:
        super().__init__()
        self.script = Script()
        self.models = {m.id: m for m in (models or DEFAULT_MODELS)}
        self.logins: dict[str, tuple[str, str]] = {DEMO_SESSION: (DEMO_TOKEN, DEMO_USER)}  # hf-chat -> (token, user)
        self.conversations: dict[str, SimConversation] = {}
        self.app = Starlette(
            routes=[
                Route("/chat/api/v2/models", self._models, methods=["GET"]),
                Route("/chat/api/v2/user", self._user, methods=["GET"]),
                Route("/chat/conversation", self._create, methods=["POST"]),
                Route("/chat/api/v2/conversations/{cid}", self._conversation_v2, methods=["GET"]),
                Route("/chat/conversation/{cid}/__data.json", self._data_json, methods=["GET"]),
                Route("/chat/conversation/{cid}", self._message, methods=["POST"]),
                Route("/chat/conversation/{cid}/output/{sha}", self._output, methods=["GET"]),
            ]
        )

    # -- helpers for tests

    def cookie_header(self, session: str = DEMO_SESSION) -> str:
        token = self.logins[session][0] if session in self.logins else "hf_nobody"
        return f"hf-chat={session}; token={token}; _ga=GA1.1.123"

    def add_login(self, session: str, token: str, user: str) -> None:
        self.logins[session] = (token, user)

    def message_posts(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and re.fullmatch(r"/chat/conversation/\w+", r.path)]

    def sent(self) -> list[dict[str, Any]]:
        """The ``data`` JSON of every message POST, in order."""
        return [json.loads(r.form["data"]) for r in self.message_posts() if "data" in r.form]

    # -- sessions

    def _user_of(self, record: RecordedRequest) -> tuple[str | None, str | None]:
        """(session id, user name) from the cookies; the user is None when the session has none."""
        jar = SimpleCookie()
        jar.load(record.headers.get("cookie", ""))
        session = jar["hf-chat"].value if "hf-chat" in jar else None
        login = self.logins.get(session or "")
        token = jar["token"].value if "token" in jar else None
        return session, (login[1] if login and login[0] == token else None)

    def _owned(self, record: RecordedRequest, cid: str) -> tuple[SimConversation | None, Response | None]:
        session, user = self._user_of(record)
        if session is None:
            return None, route_error(401, "Must have a valid session or user")
        conversation = self.conversations.get(cid)
        if not re.fullmatch(r"[0-9a-f]{24}", cid):
            return None, route_error(400, "Invalid conversation ID format")
        if conversation is None:
            return None, route_error(404, "Conversation not found.")
        if conversation.session != session or user is None:
            return None, route_error(
                403, "You don't have access to this conversation. If someone gave you this link, ask them to use "
                "the 'share' feature instead.")
        return conversation, None

    # -- routes

    async def _models(self, request: Request) -> Response:
        record = await self._record(request)
        if self.script.models_error:
            return self._forced(self.script.models_error, record, route_error)
        listed = [m.wire() for m in self.models.values() if not m.unlisted]
        return self._finish(record, Response(superjson(listed), media_type="application/json"))

    async def _user(self, request: Request) -> Response:
        record = await self._record(request)
        _, user = self._user_of(record)
        body = {"id": hashlib.sha1(user.encode()).hexdigest()[:24], "username": user} if user else None  # noqa: S324
        return self._finish(record, Response(superjson(body), media_type="application/json"))

    async def _create(self, request: Request) -> Response:
        record = await self._record(request)
        session, user = self._user_of(record)
        if user is None:
            return self._finish(record, hook_error(401, "You have to be logged in.", record.headers.get("accept", ""),
                                                   record.content_type))
        if self.script.html_200:
            return self._finish(record, HTMLResponse(LOGIN_PAGE))
        body = record.json_body if isinstance(record.json_body, dict) else {}
        model = self.models.get(str(body.get("model")))
        if model is None:
            return self._finish(record, route_error(400, "Invalid request"))
        if model.unlisted:
            return self._finish(record, route_error(400, "Can't start a conversation with an unlisted model"))
        conversation = SimConversation.new(uuid.uuid4().hex[:24], str(session), model.id)
        self.conversations[conversation.id] = conversation
        answer: dict[str, Any] = {"conversationId": conversation.id}
        if self.script.include_conversation:
            answer["conversation"] = superjson(conversation.payload())
        return self._finish(record, JSONResponse(answer))

    async def _conversation_v2(self, request: Request) -> Response:
        record = await self._record(request)
        if self.script.v2_status:
            return self._finish(record, Response("Not Found", self.script.v2_status, media_type="text/plain"))
        conversation, error = self._owned(record, request.path_params["cid"])
        if conversation is None:
            return self._finish(record, error)  # type: ignore[arg-type]
        return self._finish(record, Response(superjson(conversation.payload()), media_type="application/json"))

    async def _data_json(self, request: Request) -> Response:
        record = await self._record(request)
        conversation, error = self._owned(record, request.path_params["cid"])
        if conversation is None and error is not None and error.status_code in (403, 404):
            message = json.loads(bytes(error.body))["message"]
            return self._finish(record, Response(data_json(None, (error.status_code, message)),
                                                 media_type="application/json"))
        if conversation is None:
            return self._finish(record, error)  # type: ignore[arg-type]
        return self._finish(record, Response(data_json(conversation), media_type="application/json"))

    async def _output(self, request: Request) -> Response:
        record = await self._record(request)
        conversation, error = self._owned(record, request.path_params["cid"])
        if conversation is None:
            return self._finish(record, error)  # type: ignore[arg-type]
        sha = request.path_params["sha"]
        if sha not in conversation.files:
            return self._finish(record, route_error(404, "File not found"))
        mime, data = conversation.files[sha]
        extension = mime.split("/")[-1]
        return self._finish(record, Response(data, media_type=mime, headers={
            "Content-Disposition": f'attachment; filename="{sha[:8]}.{extension}"',
            "Content-Security-Policy": "default-src 'none'; script-src 'none'; style-src 'none'; sandbox;"}))

    async def _message(self, request: Request) -> Response:
        record = await self._record(request)
        script = self.script
        accept = record.headers.get("accept", "")
        _, user = self._user_of(record)
        if user is None:
            return self._finish(record, hook_error(401, "You have to be logged in.", accept, record.content_type))
        origin = record.headers.get("origin")
        if "multipart/form-data" in record.content_type and not origin:
            return self._finish(record, hook_error(403, "Non-JSON form requests need to have an origin", accept, ""))
        if origin and origin.split("://")[-1] != record.headers.get("host"):
            return self._finish(record, hook_error(403, "Invalid referer for POST request", accept, ""))
        conversation, error = self._owned(record, request.path_params["cid"])
        if conversation is None:
            return self._finish(record, route_error(404, "Conversation not found") if error.status_code == 403  # type: ignore[union-attr]
                                else error)  # type: ignore[arg-type]
        if script.http_error:
            return self._forced(script.http_error, record, route_error)
        if script.model_gone:
            return self._finish(record, route_error(410, "Model not available anymore"))
        if not isinstance(record.form.get("data"), str):
            return self._finish(record, route_error(400, "Invalid request"))
        try:
            data = json.loads(record.form["data"])
            parent = conversation.find(data["id"])
            inputs = data["inputs"].replace("\r\n", "\n")
            uuid.UUID(data["id"])
            assert isinstance(inputs, str) and inputs
        except (ValueError, KeyError, TypeError, AttributeError, AssertionError):
            return self._finish(record, route_error(500, "An error occurred"))  # zod failures are unexpected errors
        if parent is None:
            return self._finish(record, route_error(400, "Invalid message id: it is not in this conversation"))
        files = []
        for part in record.files:
            kind, _, name = (part.filename or "").partition(";")
            try:
                decoded = base64.b64decode(part.data, validate=True)
            except (binascii.Error, ValueError):
                return self._finish(record, route_error(400, "Invalid request"))
            if kind != "base64" or not part.size:
                return self._finish(record, route_error(400, "Invalid request"))
            if len(decoded) > script.max_file_bytes:
                return self._finish(record, route_error(413, "File too large, should be <10MB"))
            digest = hashlib.sha256(decoded).hexdigest()
            files.append({"type": "hash", "name": name, "mime": part.content_type, "value": digest})
        if script.html_200:
            return self._finish(record, HTMLResponse(LOGIN_PAGE))
        user_message = conversation.add("user", inputs, parent)
        user_message.files = files
        reply = conversation.add("assistant", "", user_message)
        model = self.models.get(conversation.model, SimModel(conversation.model))
        lines = self._lines(conversation, reply, inputs, model, data)
        return self._finish(record, self._stream(lines, "application/jsonl", record))

    # -- the stream

    async def _lines(
        self, conversation: SimConversation, reply: Any, prompt: str, model: SimModel, data: dict[str, Any]
    ) -> AsyncIterator[bytes]:
        script = self.script
        chunks = script.answer_chunks(prompt, BACKEND)
        thinking = script.thinking_pieces(prompt, can_think=model.reasoning)

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
        if script.sources and data.get("web_search") and not script.web_sources_final:
            yield update("webSearch", {"type": "webSearch", "subtype": "update", "message": "Searching Google",
                                       "args": [prompt_topic(prompt)]})
            yield update("webSearch", {"type": "webSearch", "subtype": "sources", "message": "sources",
                                       "sources": [{"link": u, "title": t} for u, t in script.sources]})
            yield update("webSearch", {"type": "webSearch", "subtype": "finished"})
        if thinking:
            yield update("reasoning", {"type": "reasoning", "subtype": "status", "status": "Started reasoning..."})
            for piece in thinking:
                await pause(script.chunk_delay)
                reply.reasoning += piece
                yield update("reasoning", {"type": "reasoning", "subtype": "stream", "token": piece})
            yield update("reasoning", {"type": "reasoning", "subtype": "status", "status": "Done in 1s."})
        if script.image is not None and "000000000000000000000001" in (data.get("tools") or []):
            call = {"name": "image_generation", "parameters": {"prompt": prompt_topic(prompt)}}
            tool_id = str(uuid.uuid4())
            yield update("tool", {"type": "tool", "subtype": "call", "uuid": tool_id, "call": call})
            sha = hashlib.sha256(script.image).hexdigest()
            conversation.files[sha] = (script.image_mime, script.image)
            yield update("file", {"type": "file", "name": f"0-{sha}.{script.image_mime.split('/')[-1]}", "sha": sha,
                                  "mime": script.image_mime})
            yield update("tool", {"type": "tool", "subtype": "result", "uuid": tool_id,
                                  "result": {"outputs": [], "display": False, "call": call, "status": "success"}})
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
        final: dict[str, Any] = {"type": "finalAnswer", "text": reply.content, "interrupted": False}
        if script.web_sources_final and script.sources:
            final["webSources"] = [{"uri": u, "title": t} for u, t in script.sources]
        yield update("finalAnswer", final) + TAIL.encode()


def main(argv: list[str] | None = None) -> None:
    from simulators.serve import run_forever

    parser = argparse.ArgumentParser(description="Serve the HuggingChat simulator on loopback (under /chat).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--chunk-delay", type=float, default=0.02, help="seconds between answer chunks")
    args = parser.parse_args(argv)
    sim = HuggingChatSimulator()
    sim.script.chunk_delay = args.chunk_delay
    print(f"HuggingChat simulator: http://{args.host}:{args.port}/chat  cookies: {sim.cookie_header()}", flush=True)
    run_forever(sim.app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
