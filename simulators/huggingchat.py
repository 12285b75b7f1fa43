"""A strict, scriptable, recording simulator of HuggingChat (huggingface/chat-ui), mounted under ``/chat``.

By default it behaves as chat-ui at c100c162 was observed to (shared/protocols/observed-servers.md): any
``hf-chat`` cookie is a session, with or without a ``token``; the first POST without a cookie gets
``Set-Cookie: hf-chat=<uuid>``; ``/api/v2/user`` answers ``{"json": null}`` for an anonymous session;
``__data.json`` answers ``nodes: [null, null]`` for any id; a deleted conversation, or one of another
session, is a 404; request fields outside the schema (``web_search``, ``tools``, ``is_continue``) are
dropped silently (and listed in ``dropped`` for tests); reasoning comes inline as ``<think>`` tags;
images sent to a text-only model are stored and never shown to it.

``HuggingChatSimulator(token_coupled=True)`` is huggingface.co instead: the session is coupled to the
``token`` cookie, so every non-GET request and every conversation read needs both (401 otherwise).
``script.v2_status = 404`` plays a server from before June 2025 (no v2 conversation route, the page's
``__data.json`` with the messages).

Routes: ``GET /chat/api/v2/models``, ``GET /chat/api/v2/user``, ``GET /chat/api/mcp/servers``,
``POST /chat/conversation``, ``GET /chat/api/v2/conversations/{id}``, ``GET /chat/conversation/{id}/__data.json``,
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
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from simulators.common import BaseScript, RecordedRequest, RecordingSimulator
from simulators.huggingchat_stream import answer_lines
from simulators.huggingchat_wire import (
    DEFAULT_MODELS,
    EMPTY_DATA_JSON,
    LOGIN_PAGE,
    MESSAGE_FIELDS,
    SimConversation,
    SimModel,
    data_json,
    hook_error,
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
    reasoning_style: str = "inline"  # "inline": <think> tags in the tokens; "typed": the older reasoning lines
    mcp_servers: list[str] = field(default_factory=list)  # GET /api/mcp/servers (the server's MCP_SERVERS)


class HuggingChatSimulator(RecordingSimulator):
    """HuggingChat in miniature. ``app`` is the Starlette app to serve."""

    def __init__(self, *, models: list[SimModel] | None = None, token_coupled: bool = False) -> None:
        super().__init__()
        self.script = Script()
        self.token_coupled = token_coupled  # huggingface.co: a session needs its token cookie
        self.dropped: list[str] = []  # message fields the server ignored, in order
        self.issued: list[str] = []  # hf-chat sessions handed out with Set-Cookie
        self.models = {m.id: m for m in (models or DEFAULT_MODELS)}
        self.logins: dict[str, tuple[str, str]] = {DEMO_SESSION: (DEMO_TOKEN, DEMO_USER)}  # hf-chat -> (token, user)
        self.conversations: dict[str, SimConversation] = {}
        self.app = Starlette(
            routes=[
                Route("/chat/api/v2/models", self._models, methods=["GET"]),
                Route("/chat/api/v2/user", self._user, methods=["GET"]),
                Route("/chat/api/mcp/servers", self._mcp_servers, methods=["GET"]),
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

    def _session(self, record: RecordedRequest, *, create: bool) -> tuple[str | None, Response | None]:
        """The request's session: its ``hf-chat``, or (``create``) a new one to hand out; or the 401."""
        session, user = self._user_of(record)
        if self.token_coupled and user is None:
            return None, hook_error(401, "You have to be logged in.", record.headers.get("accept", ""),
                                    record.content_type)
        if session is None and create:
            session = str(uuid.uuid4())
            self.issued.append(session)
        return session, None

    def _owned(self, record: RecordedRequest, cid: str) -> tuple[SimConversation | None, Response | None]:
        """The session's conversation ``cid``; someone else's is "not found", like a deleted one."""
        session, error = self._session(record, create=False)
        if error is not None:
            return None, error
        if not re.fullmatch(r"[0-9a-f]{24}", cid):
            return None, route_error(400, "Invalid conversation ID format")
        conversation = self.conversations.get(cid)
        if conversation is None or session is None or conversation.session != session:
            return None, route_error(404, "Conversation not found")
        return conversation, None

    @staticmethod
    def _with_cookie(response: Response, session: str, record: RecordedRequest) -> Response:
        """The answer, with ``Set-Cookie`` when the request came without a session."""
        if "hf-chat=" not in record.headers.get("cookie", ""):
            response.headers["set-cookie"] = f"hf-chat={session}; Path=/; HttpOnly; Secure; SameSite=None"
        return response

    # -- routes

    async def _models(self, request: Request) -> Response:
        record = await self._record(request)
        if self.script.models_error:
            return self._forced(self.script.models_error, record, route_error)
        listed = [m.wire() for m in self.models.values() if not m.unlisted]
        return self._finish(record, Response(superjson(listed), media_type="application/json"))

    async def _mcp_servers(self, request: Request) -> Response:
        record = await self._record(request)
        servers = [{"id": f"base-{name}", "name": name, "url": f"https://mcp.example/{name}", "type": "base",
                    "isLocked": False} for name in self.script.mcp_servers]
        return self._finish(record, JSONResponse(servers))

    async def _user(self, request: Request) -> Response:
        record = await self._record(request)
        _, user = self._user_of(record)
        body = {"id": hashlib.sha1(user.encode()).hexdigest()[:24], "username": user} if user else None  # noqa: S324
        return self._finish(record, Response(superjson(body), media_type="application/json"))

    async def _create(self, request: Request) -> Response:
        record = await self._record(request)
        session, error = self._session(record, create=True)
        if error is not None or session is None:
            return self._finish(record, error)  # type: ignore[arg-type]
        if self.script.html_200:
            return self._finish(record, HTMLResponse(LOGIN_PAGE))
        body = record.json_body if isinstance(record.json_body, dict) else {}
        model = self.models.get(str(body.get("model")))
        preprompt = body.get("preprompt", "")
        if model is None or not isinstance(preprompt, str):  # zod: preprompt is an optional string
            return self._finish(record, route_error(400, "Invalid request"))
        if model.unlisted:
            return self._finish(record, route_error(400, "Can't start a conversation with an unlisted model"))
        conversation = SimConversation.new(uuid.uuid4().hex[:24], str(session), model.id, preprompt)
        self.conversations[conversation.id] = conversation
        answer: dict[str, Any] = {"conversationId": conversation.id}
        if self.script.include_conversation:
            answer["conversation"] = superjson(conversation.payload())
        return self._finish(record, self._with_cookie(JSONResponse(answer), str(session), record))

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
        if self.script.v2_status != 404:  # today's server: the page loads its data through the v2 API
            return self._finish(record, Response(EMPTY_DATA_JSON, media_type="application/json"))
        conversation, error = self._owned(record, request.path_params["cid"])
        if conversation is None and error is not None and error.status_code == 404:
            message = json.loads(bytes(error.body))["message"]
            return self._finish(record, Response(data_json(None, (404, message)), media_type="application/json"))
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
        _, error = self._session(record, create=False)
        if error is not None:
            return self._finish(record, error)
        origin = record.headers.get("origin")
        if "multipart/form-data" in record.content_type and not origin:
            return self._finish(record, hook_error(403, "Non-JSON form requests need to have an origin", accept, ""))
        if origin and origin.split("://")[-1] != record.headers.get("host"):
            return self._finish(record, hook_error(403, "Invalid referer for POST request", accept, ""))
        conversation, error = self._owned(record, request.path_params["cid"])
        if conversation is None:
            return self._finish(record, error)  # type: ignore[arg-type]
        if script.http_error:
            return self._forced(script.http_error, record, route_error)
        if script.model_gone:
            return self._finish(record, route_error(410, "Model not available anymore"))
        if not isinstance(record.form.get("data"), str):
            return self._finish(record, route_error(400, "Invalid request"))
        try:
            data = json.loads(record.form["data"])
            self.dropped += [key for key in data if key not in MESSAGE_FIELDS]  # zod strips unknown keys
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
        user_message.files = files  # stored, even where the model is text-only and never sees them
        reply = conversation.add("assistant", "", user_message)
        model = self.models.get(conversation.model, SimModel(conversation.model))
        lines = answer_lines(script, conversation, reply, inputs, model)
        return self._finish(record, self._stream(lines, "application/jsonl", record))


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
