"""A strict, scriptable, recording simulator of the Ai2 Playground API (olmo-api).

It speaks both protocols the provider knows (shared/protocols/allenai-current.md and
web-backends.md §2):

* ``POST /v5/threads/chat``: form only, compact JSON lines typed by ``type``,
  RFC 9457 ``application/problem+json`` errors; ``GET /v5/models/`` (camelCase, auth needed);
* ``POST /v4/message/stream``: the seed's legacy protocol, JSON lines with Python's
  ``", "``/``": "`` separators and ASCII escapes, ``{"error": {"code", "message"}}`` errors;
  ``GET /v4/models/`` (snake_case, sorted keys, no auth).

Usage in a test::

    sim = AllenAISimulator()
    sim.script.chunks = ["Hel", "lo"]          # or .reply / .n_chunks / .thinking ...
    sim.script.http_error = ForcedError.rate_limited(7)
    with serve(sim.app) as url: ...
    sim.requests[-1].form["content"], sim.requests[-1].headers["x-anonymous-user-id"]

Standalone: ``python -m simulators.allenai --port 8765``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import re
import string
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

V4_UNAUTHORIZED = (
    "The server could not verify that you are authorized to access the URL requested. You either supplied the "
    "wrong credentials (e.g. a bad password), or your browser doesn't understand how to supply the credentials "
    "required."
)
V4_FORBIDDEN = (
    "You don't have the permission to access the requested resource. It is either read-protected or not "
    "readable by the server."
)
NGINX_403 = (
    "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


# --- script: what the next requests get ---------------------------------------------------------


@dataclass
class ForcedError:
    """An HTTP error the chat (or model) routes answer instead of streaming.

    ``body=None`` means the route's own envelope (problem+json on v5, ``{"error": …}`` on v4)
    carrying ``message``; a str/bytes body is sent as is with ``content_type``.
    """

    status: int
    message: str = "Simulated failure"
    body: str | bytes | dict[str, Any] | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def rate_limited(cls, retry_after: int = 7) -> ForcedError:
        return cls(429, "Too Many Requests", headers={"Retry-After": str(retry_after)})

    @classmethod
    def nginx_403(cls) -> ForcedError:
        return cls(403, body=NGINX_403, content_type="text/html")


@dataclass
class Script:
    """Per-test knobs; change fields directly (``sim.script.chunk_delay = 0.01``)."""

    reply: str | Callable[[str], str] | None = None  # None: default_reply(prompt)
    chunks: list[str] | None = None  # explicit text chunks (override reply)
    n_chunks: int | None = None  # split the reply into this many chunks (default: word by word)
    thinking: str | None = None  # reasoning text (default: a short one for models that think)
    first_byte_delay: float = 0.0  # seconds before the first body line
    chunk_delay: float = 0.0  # seconds before each chunk after the first
    v5_status: int | None = None  # every /v5 route answers this status (404/405: no v5 here)
    http_error: ForcedError | None = None  # chat routes answer this error
    models_error: ForcedError | None = None  # model routes answer this error
    error_after: int | None = None  # in-stream model error after N text chunks
    error_text: str = "status_code: 503, model_name: simulated, body: Service Unavailable"
    error_reason: str = "Model http error"  # v4 legacy error line's reason ("length", "model overloaded", …)
    error_then_final: bool = False  # v4: the final message follows the error line (else EOF)
    disconnect_after: int | None = None  # cut the connection after N text chunks (no end)
    extra_fields: bool = False  # unknown keys on every line and unknown line types (drift tolerance)
    rename: tuple[str, str, str] | None = None  # (line kind, old key, new key): drift detection
    html_200: bool = False  # answer 200 text/html instead of a stream


@dataclass
class SimModel:
    id: str
    name: str
    host: str = "modal_openai"
    prompt_type: str = "text_only"  # text_only | multi_modal | files_only
    can_think: bool = False
    system_prompt: str | None = None
    visible: bool = True

    @property
    def accepts_files(self) -> bool:
        return self.prompt_type != "text_only"

    # fmt: off
    def v5(self) -> dict[str, Any]:
        """The camelCase model object of ``GET /v5/models/`` (allenai-current.md §4)."""
        data: dict[str, Any] = {
            "id": self.id, "name": self.name, "description": f"{self.name} (simulated)", "host": self.host,
            "modelType": "chat", "promptType": self.prompt_type, "internal": False, "familyId": None,
            "familyName": None, "informationUrl": None, "systemPrompt": self.system_prompt,
            "acceptsFiles": self.accepts_files, "availableTools": [], "canCallTools": False,
            "canThink": self.can_think, "infiniGramIndex": None,
            "temperatureDefault": 0.7, "temperatureUpper": 1.0, "temperatureLower": 0.0, "temperatureStep": 0.01,
            "topPDefault": 1.0, "topPUpper": 1.0, "topPLower": 0.01, "topPStep": 0.01,
            "maxTokensDefault": 2048, "maxTokensUpper": 2048, "maxTokensLower": 1, "maxTokensStep": 1,
            "stopDefault": None,
        }
        if self.accepts_files:
            data |= {
                "acceptedFileTypes": ["image/*"], "maxFilesPerMessage": 1, "requireFileToPrompt": "no_requirement",
                "maxTotalFileSize": 10_000_000, "allowFilesInFollowups": True,
            }
        return data | {"isVisible": self.visible, "isDeprecated": not self.visible}
    # fmt: on

    def v4(self) -> dict[str, Any]:
        snake = {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): value for key, value in self.v5().items()}
        return dict(sorted(snake.items()))


# fmt: off
DEFAULT_MODELS = [
    SimModel("olmo-3.1-32b-instruct", "Olmo 3.1 32B Instruct",
             system_prompt="You are Olmo, a helpful AI assistant built by Ai2."),
    SimModel("olmo-3.1-32b-think", "Olmo 3.1 32B Think", can_think=True),
    SimModel("molmo2-8b", "Molmo 2 8B", prompt_type="multi_modal"),
    # the seed's models: hidden and deprecated, but still accepted by the chat routes
    SimModel("tulu3-405b", "Tülu 3 405B", host="inferd", visible=False),
    SimModel("OLMo-2-1124-13B-Instruct", "OLMo 2 13B Instruct", host="modal", visible=False,
             system_prompt="You are OLMo 2 Instruct, a helpful, open-source AI Assistant built by the Allen "
                           "Institute for AI."),
    SimModel("tulu-3-1-8b", "Tülu 3.1 8B", host="modal", visible=False),
    SimModel("Llama-3-1-Tulu-3-70B", "Llama 3.1 Tülu 3 70B", host="modal", visible=False),
    SimModel("olmoe-0125", "OLMoE 0125", host="modal", visible=False),
    SimModel("olmo-2-0325-32b-instruct", "OLMo 2 32B Instruct", host="modal", visible=False),
    SimModel("mm-olmo-uber-model-v4-synthetic", "Molmo", host="modal", prompt_type="multi_modal", visible=False),
]
# fmt: on


# --- the message store and the request log --------------------------------------------------------


@dataclass
class SimMessage:
    id: str
    role: str
    content: str
    creator: str
    root: str
    parent: str | None
    model: SimModel
    opts: dict[str, Any]
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    children: list[str] = field(default_factory=list)
    thinking: str | None = None
    final: bool = False
    finish_reason: str | None = None
    error_description: str | None = None
    file_names: list[str] = field(default_factory=list)


@dataclass
class FilePart:
    field: str
    filename: str | None
    content_type: str
    size: int
    data: bytes = field(repr=False)


@dataclass
class RecordedRequest:
    """One request as the simulator received it, and what became of its answer.

    Times are ``time.monotonic()`` values: ``first_byte_at`` is when the first body line
    was written, ``first_text_at`` when the first answer text was.
    """

    method: str
    path: str
    headers: dict[str, str]
    content_type: str
    peer: str = ""  # the client's "host:port": the same peer means a reused (warm) connection
    query: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    form_items: list[tuple[str, str]] = field(default_factory=list)
    files: list[FilePart] = field(default_factory=list)
    json_body: Any = None
    received_at: float = field(default_factory=time.monotonic)
    status: int | None = None
    first_byte_at: float | None = None
    first_text_at: float | None = None
    finished_at: float | None = None
    disconnected: bool = False  # the client went away before the end
    aborted: bool = False  # the simulator cut the connection (disconnect_after)


class _Abort(Exception):
    """Raised inside a line generator to cut the connection without an end."""


class _LineStream(StreamingResponse):
    """Writes each line as its own body message; notices when the client goes away."""

    def __init__(self, lines: AsyncIterator[bytes], media_type: str, record: RecordedRequest, sim: AllenAISimulator):
        super().__init__(lines, media_type=media_type)
        self.record, self.sim = record, sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        record, completed = self.record, False

        async def write(group: anyio.abc.TaskGroup) -> None:
            nonlocal completed
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            try:
                async for line in self.body_iterator:
                    record.first_byte_at = record.first_byte_at or time.monotonic()
                    await send({"type": "http.response.body", "body": line, "more_body": True})
            except _Abort:
                record.aborted = True
            else:
                completed = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            record.finished_at = time.monotonic()
            group.cancel_scope.cancel()

        async def listen(group: anyio.abc.TaskGroup) -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            if not completed and not record.aborted:
                record.disconnected = True
                self.sim.disconnects += 1
            group.cancel_scope.cancel()

        async with anyio.create_task_group() as group:
            group.start_soon(write, group)
            group.start_soon(listen, group)


# --- helpers -------------------------------------------------------------------------------------


def default_reply(prompt: str) -> str:
    """A deterministic, readable markdown answer derived from the prompt."""
    topic = _topic(prompt)
    pick = int(hashlib.sha256(prompt.encode()).hexdigest(), 16)
    opener = ["Good question", "Happy to help", "Let's look at this", "Here is a short answer"][pick % 4]
    angle = ["the basics", "a practical view", "the main trade-offs", "a worked example"][pick // 4 % 4]
    return (
        f"{opener}: you asked about **{topic}**.\n\n"
        f"This answer comes from Chatdeck's simulator of the Ai2 Playground: it is built from your prompt, "
        f"not written by a model. It starts with {angle} and stays brief.\n\n"
        f"- First, restate the question in your own words: *{topic}*\n"
        f"- Second, split it into parts you can check one at a time.\n"
        f"- Third, compare what you find with a source you trust.\n\n"
        f"Ask a follow-up and the conversation continues in the same thread."
    )


def _topic(prompt: str) -> str:
    text = prompt.removesuffix("\nAssistant:")
    if "User: " in text:
        text = text.rsplit("User: ", 1)[1]
    text = " ".join(text.split()) or "nothing in particular"
    return text if len(text) <= 80 else text[:79] + "…"


def split_words(text: str) -> list[str]:
    """Word-sized chunks with their trailing whitespace, like tokens streamed by a model."""
    return re.findall(r"\S+\s*|\s+", text) or [text]


def split_even(text: str, n: int) -> list[str]:
    size = max(1, -(-len(text) // max(1, n)))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _snippet(text: str) -> str:
    words = text.split()
    return " ".join(words[:16]) + ("…" if len(words) > 16 else "")


def _iso(moment: datetime, *, z: bool) -> str:
    text = moment.isoformat()
    return text.replace("+00:00", "Z") if z else text


def v5_line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def v4_line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode() + b"\n"  # Python's default ", " / ": " separators, ASCII escapes


def problem(status: int, type_: str, title: str, detail: str | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    return Response(json.dumps(body | extra), status, media_type="application/problem+json")


def validation_problem(errors: list[dict[str, Any]]) -> Response:
    return problem(422, "request-validation-failed", "Request validation error.", errors=errors)


def invalid(type_: str, loc: list[str], msg: str, value: Any = None) -> dict[str, Any]:
    """One entry of a request-validation problem's ``errors``."""
    return {"type": type_, "loc": loc, "msg": msg, "input": value}


def legacy_error(status: int, message: str, **extra: Any) -> Response:
    body = {"error": {"code": status, "message": message, **extra}}
    return Response(json.dumps(body, sort_keys=True), status, media_type="application/json")


class _Rejected(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _rejected(v5: bool, message: str, v5_status: int = 422, type_: str = "unprocessable-problem") -> _Rejected:
    """A request error in the protocol's envelope (v4 always answers 400)."""
    if v5:
        return _Rejected(problem(v5_status, type_, type_.replace("-", " ").capitalize(), message))
    return _Rejected(legacy_error(400, message))


# --- the simulator -------------------------------------------------------------------------------


class AllenAISimulator:
    """The Ai2 Playground API in miniature. ``app`` is the Starlette app to serve."""

    def __init__(self, *, models: list[SimModel] | None = None, seed: int = 0) -> None:
        self.script = Script()
        self.models = {m.id: m for m in (models or DEFAULT_MODELS)}
        self.requests: list[RecordedRequest] = []
        self.messages: dict[str, SimMessage] = {}
        self.threads: dict[str, list[SimMessage]] = {}  # root id -> messages in creation order
        self.disconnects = 0
        self._rng = random.Random(seed)
        self.app = Starlette(
            routes=[
                Route("/v5/threads/chat", self._chat_v5, methods=["POST"]),
                Route("/v4/message/stream", self._chat_v4, methods=["POST"]),
                Route("/v5/models/", self._models_v5, methods=["GET"]),
                Route("/v4/models/", self._models_v4, methods=["GET"]),
            ]
        )

    # -- recorded views

    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST"]

    def new_id(self) -> str:
        while True:
            chars = [self._rng.choice(string.ascii_uppercase if i % 2 == 0 else string.digits) for i in range(10)]
            message_id = "msg_" + "".join(chars)
            if message_id not in self.messages:
                return message_id

    # -- request intake

    async def _record(self, request: Request) -> RecordedRequest:
        record = RecordedRequest(
            method=request.method,
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            content_type=request.headers.get("content-type", ""),
            peer=f"{request.client.host}:{request.client.port}" if request.client else "",
            query=dict(request.query_params),
        )
        self.requests.append(record)
        if request.method != "POST":
            return record
        if "json" in record.content_type:
            try:
                record.json_body = json.loads(await request.body())
            except ValueError:
                record.json_body = "<invalid JSON>"
        elif "form" in record.content_type:
            async with request.form() as form:
                for key, value in form.multi_items():
                    if isinstance(value, UploadFile):
                        data = await value.read()
                        ctype = value.content_type or "application/octet-stream"
                        record.files.append(FilePart(key, value.filename, ctype, len(data), data))
                    else:
                        record.form_items.append((key, value))
                        record.form[key] = value
        return record

    @staticmethod
    def _caller(record: RecordedRequest) -> str | None:
        anonymous = record.headers.get("x-anonymous-user-id", "").strip()
        bearer = record.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return f"auth0|{bearer}" if bearer else (anonymous or None)

    def _forced(self, error: ForcedError, record: RecordedRequest, *, v5: bool) -> Response:
        record.status = error.status
        if error.body is None:
            if v5:
                response = problem(error.status, "simulated-problem", error.message, error.message)
            else:
                response = legacy_error(error.status, error.message)
        elif isinstance(error.body, dict):
            media_type = error.content_type or "application/json"
            response = Response(json.dumps(error.body), error.status, media_type=media_type)
        else:
            response = Response(error.body, error.status, media_type=error.content_type or "text/plain")
        response.headers.update(error.headers)
        return response

    def _finish(self, record: RecordedRequest, response: Response) -> Response:
        record.status = response.status_code
        if not isinstance(response, StreamingResponse):
            record.finished_at = time.monotonic()
        return response

    # -- models

    async def _models_v5(self, request: Request) -> Response:
        record = await self._record(request)
        if self.script.v5_status:
            return self._finish(record, self._v5_gone(self.script.v5_status))
        if self.script.models_error:
            return self._forced(self.script.models_error, record, v5=True)
        if self._caller(record) is None:
            return self._finish(record, problem(401, "http-unauthorized", "Unauthorized", "Authentication required"))
        body = json.dumps([m.v5() for m in self.models.values()], separators=(",", ":"))
        return self._finish(record, Response(body, media_type="application/json"))

    async def _models_v4(self, request: Request) -> Response:
        record = await self._record(request)
        if self.script.models_error:
            return self._forced(self.script.models_error, record, v5=False)
        body = json.dumps([m.v4() for m in self.models.values()], sort_keys=True)
        return self._finish(record, Response(body, media_type="application/json"))

    @staticmethod
    def _v5_gone(status: int) -> Response:
        if status == 405:
            return Response("Method Not Allowed", 405, headers={"Allow": "GET"}, media_type="text/plain")
        return problem(status, "not-found-problem" if status == 404 else "simulated-problem", "Not Found", "Not Found")

    # -- chat, v5

    async def _chat_v5(self, request: Request) -> Response:
        record = await self._record(request)
        script = self.script
        if script.v5_status:
            return self._finish(record, self._v5_gone(script.v5_status))
        if script.http_error:
            return self._forced(script.http_error, record, v5=True)
        try:
            turn = self._validate_v5(record)
        except _Rejected as rejected:
            return self._finish(record, rejected.response)
        if script.html_200:
            return self._finish(record, HTMLResponse("<!doctype html><html><body>Ai2 Playground</body></html>"))
        stream = _LineStream(self._v5_lines(turn, record), "application/jsonl", record, self)
        return self._finish(record, stream)

    def _validate_v5(self, record: RecordedRequest) -> _Turn:
        caller = self._caller(record)
        if caller is None:
            raise _Rejected(problem(401, "http-unauthorized", "Unauthorized", "Authentication required"))
        form = record.form
        if "form" not in record.content_type or "role" not in form:
            tag_error = invalid("union_tag_not_found", ["body"], "Unable to extract tag using discriminator 'role'")
            raise _Rejected(validation_problem([tag_error]))
        if form["role"] != "user":
            expected = "does not match any of the expected tags: 'user', 'tool_call_result'"
            tag_error = invalid(
                "union_tag_invalid", ["body"], f"Input tag '{form['role']}' found using 'role' {expected}"
            )
            raise _Rejected(validation_problem([tag_error]))
        if "captchaToken" in form or "captcha_token" in form:
            raise _Rejected(problem(400, "bad-request-problem", "Bad Request", "Invalid captcha"))
        errors = [] if form.get("model") else [invalid("missing", ["body", "user", "model"], "Field required")]
        if not form.get("content", "").strip():
            message = "Value error, One of content or inputParts is required"
            errors.append(invalid("value_error", ["body", "user"], message))
        opts = self._options(form, ("temperature", "topP", "maxTokens"), errors, v5=True)
        if errors:
            raise _Rejected(validation_problem(errors))
        model = self.models.get(form["model"])
        if model is None:
            detail = f"Model with ID '{form['model']}' not found"
            raise _Rejected(problem(422, "model-not-found", "Model not found", detail))
        self._check_files(record, model, v5=True)
        parent = self._check_parent(form.get("parent"), caller, v5=True)
        return _Turn(caller, model, form["content"], parent, opts, [f.filename or "file" for f in record.files])

    # -- chat, v4 (the seed's /v4/message/stream)

    async def _chat_v4(self, request: Request) -> Response:
        record = await self._record(request)
        if self.script.http_error:
            return self._forced(self.script.http_error, record, v5=False)
        try:
            turn = self._validate_v4(record)
        except _Rejected as rejected:
            return self._finish(record, rejected.response)
        if self.script.html_200:
            return self._finish(record, HTMLResponse("<!doctype html><html><body>Ai2 Playground</body></html>"))
        stream = _LineStream(self._v4_lines(turn, record), "application/jsonl", record, self)
        return self._finish(record, stream)

    def _validate_v4(self, record: RecordedRequest) -> _Turn:
        caller = self._caller(record)
        if caller is None:
            raise _Rejected(legacy_error(401, V4_UNAUTHORIZED))
        form = dict(record.form)
        if isinstance(record.json_body, dict):
            form |= {k: str(v) for k, v in record.json_body.items()}
        if form.get("captcha_token") or form.get("captchaToken"):
            raise _Rejected(legacy_error(400, "invalid_captcha"))
        missing = [name for name in ("model", "host", "content") if not form.get(name)]
        if missing:
            text = f"{len(missing)} validation error for CreateMessageRequestV4\n" + "\n".join(
                f"{name}\n  Field required [type=missing]" for name in missing
            )
            errors = [{"loc": [name], "msg": "Field required", "type": "missing"} for name in missing]
            raise _Rejected(legacy_error(400, text, validation_errors=errors))
        problems: list[dict[str, Any]] = []
        opts = self._options(form, ("temperature", "top_p", "max_tokens"), problems, v5=False)
        if problems:
            text = "validation error for CreateMessageRequestV4\n" + "\n".join(p["msg"] for p in problems)
            raise _Rejected(legacy_error(400, text, validation_errors=problems))
        model = self.models.get(form["model"])
        if model is None:
            raise _Rejected(legacy_error(400, f"Invalid model {form['model']}"))
        self._check_files(record, model, v5=False)
        parent = self._check_parent(form.get("parent"), caller, v5=False)
        return _Turn(caller, model, form["content"], parent, opts, [f.filename or "file" for f in record.files])

    # -- shared validation

    @staticmethod
    def _options(
        form: dict[str, str], names: tuple[str, str, str], errors: list[dict[str, Any]], *, v5: bool
    ) -> dict[str, Any]:
        """Sampling options (model defaults unless sent); bad numbers are collected into ``errors``."""
        opts: dict[str, Any] = {"temperature": 0.7, "top_p": 1.0, "max_tokens": 2048}
        for key, name, kind in zip(("temperature", "top_p", "max_tokens"), names, (float, float, int), strict=True):
            raw = form.get(name, form.get(key))
            if raw is None:
                continue
            try:
                opts[key] = kind(raw)
            except ValueError:
                expected = "number" if kind is float else "integer"
                errors.append(
                    invalid(
                        f"{kind.__name__}_parsing", ["body", "user", name], f"Input should be a valid {expected}", raw
                    )
                )
        for key, (low, high) in {"temperature": (0.0, 1.0), "top_p": (0.01, 1.0), "max_tokens": (1, 2048)}.items():
            if not low <= opts[key] <= high:  # a plain ValueError on the server: 500 in v5, 400 in v4
                raise _rejected(v5, f"{key} must be between {low} and {high}", 500, "unhandled-exception")
        return opts

    def _check_files(self, record: RecordedRequest, model: SimModel, *, v5: bool) -> None:
        if record.files and not model.accepts_files:
            raise _rejected(v5, "This model doesn't accept files")
        if any(not f.content_type.startswith(("image/", "video/")) for f in record.files):
            raise _rejected(v5, "Unsupported file types in input", 400, "bad-request-problem")

    def _check_parent(self, parent_id: str | None, caller: str, *, v5: bool) -> SimMessage | None:
        if not parent_id:
            return None
        parent = self.messages.get(parent_id)
        if parent is None:
            raise _rejected(v5, f"Parent message {parent_id} not found", type_="invalid-parent")
        if self.threads[parent.root][0].creator != caller:
            if v5:
                raise _Rejected(
                    problem(403, "forbidden-problem", "Forbidden", "Cannot create message when not creator")
                )
            raise _Rejected(legacy_error(403, V4_FORBIDDEN))
        if parent.role == "user":
            raise _rejected(v5, "Parent and child must have different roles", type_="invalid-parent")
        return parent

    # -- the conversation tree

    def _add(self, turn: _Turn, role: str, content: str, parent: SimMessage | None) -> SimMessage:
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

    def _start_turn(self, turn: _Turn) -> tuple[list[SimMessage], SimMessage]:
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

    def _plan(self, turn: _Turn) -> tuple[list[str], list[str]]:
        """The answer's text chunks and thinking pieces for this turn."""
        script = self.script
        if script.chunks is not None:
            chunks = list(script.chunks)
        else:
            reply = script.reply(turn.content) if callable(script.reply) else script.reply
            text = default_reply(turn.content) if reply is None else reply
            chunks = split_even(text, script.n_chunks) if script.n_chunks else split_words(text)
        thinking = script.thinking
        if thinking is None and turn.model.can_think:
            thinking = f"Question: {_topic(turn.content)}\nPlan: restate it, split it into parts, point to a source."
        pieces = [" ".join(p) + " " for p in _groups(thinking.split(), 3)] if thinking else []
        if pieces:
            pieces[-1] = pieces[-1].rstrip()
        return chunks, pieces

    def _decorate(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        script = self.script
        if script.rename and script.rename[0] == kind and script.rename[1] in obj:
            obj = {(script.rename[2] if k == script.rename[1] else k): v for k, v in obj.items()}
        if script.extra_fields:
            obj = obj | {"simUnknownField": {"note": "a key this client does not know", "n": [1, 2]}}
        return obj

    # -- v5 stream

    # fmt: off
    def _flat_v5(self, m: SimMessage, *, error: bool = False) -> dict[str, Any]:
        """A v5 FlatMessage: pydantic field order, computed fields last (allenai-current.md §2.2)."""
        return {
            "id": m.id, "content": m.content, "inputParts": None, "creator": m.creator, "role": m.role,
            "opts": {"maxTokens": m.opts["max_tokens"], "temperature": m.opts["temperature"],
                     "topP": m.opts["top_p"], "stop": [], "n": 1, "logprobs": None},
            "root": m.root, "created": _iso(m.created, z=True), "modelId": m.model.id, "modelHost": m.model.host,
            "agentId": None, "deleted": None, "parent": m.parent, "template": None, "children": list(m.children),
            "completion": None, "final": m.final, "original": None, "private": False,
            "modelType": "chat" if m.role == "assistant" else None, "finishReason": m.finish_reason,
            "harmful": None, "expirationTime": None, "labels": [],
            "fileUrls": [f"/files/{name}" for name in m.file_names] or None,
            "toolCalls": None, "thinking": m.thinking, "toolDefinitions": [], "extraParameters": None,
            "errorCode": "otherError" if error else None, "errorDescription": m.error_description,
            "errorSeverity": "error" if error else None,
            "snippet": _snippet(m.content), "isLimitReached": False, "isOlderThan30Days": False,
        }
    # fmt: on

    async def _v5_lines(self, turn: _Turn, record: RecordedRequest) -> AsyncIterator[bytes]:
        script, (chunks, thinking) = self.script, self._plan(turn)
        new, reply = self._start_turn(turn)
        root, first = new[0].root, new[0]

        def line(kind: str, obj: dict[str, Any]) -> bytes:
            return v5_line(self._decorate(kind, obj))

        if script.first_byte_delay:
            await asyncio.sleep(script.first_byte_delay)
        yield line("start", {"message": root, "type": "start"})
        if script.extra_fields:
            yield line("heartbeat", {"message": root, "type": "simHeartbeat", "at": time.time()})
        kind = "startThread" if turn.parent is None else "addMessage"
        yield line(
            kind, {"message": first.id, "id": first.id, "messages": [self._flat_v5(m) for m in new], "type": kind}
        )

        announced = False

        def announce(content: str, reasoning: str | None) -> bytes:
            reply.content, reply.thinking = content, reasoning
            obj = {"message": reply.id, "id": reply.id, "messages": [self._flat_v5(reply)], "type": "addMessage"}
            return line("addMessage", obj)

        if thinking:
            yield announce("", thinking[0])
            announced = True
            for piece in thinking[1:]:
                await _pause(script.chunk_delay)
                reply.thinking = (reply.thinking or "") + piece
                yield line("thinking", {"message": reply.id, "content": piece, "id": None, "type": "thinking"})
        failed = False
        for index in range(len(chunks) + 1):
            if index == script.disconnect_after:
                raise _Abort
            if index == script.error_after:
                failed = True
                break
            if index == len(chunks):
                break
            if index or thinking:
                await _pause(script.chunk_delay)
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
        final = [self._flat_v5(m, error=failed and m is reply) for m in shown]
        yield line("finalThread", {"message": first.id, "id": first.id, "messages": final, "type": "finalThread"})
        yield line("end", {"message": root, "type": "end"})

    def _forget(self, message: SimMessage) -> None:
        del self.messages[message.id]
        self.threads[message.root].remove(message)
        if message.parent:
            self.messages[message.parent].children.remove(message.id)

    # -- v4 (legacy) stream

    # fmt: off
    def _flat_v4(self, m: SimMessage, children: list[dict[str, Any]] | None) -> dict[str, Any]:
        """A message of the seed protocol, in its dataclass key order (web-backends.md §2.4)."""
        return {
            "id": m.id, "content": m.content, "snippet": _snippet(m.content), "creator": m.creator, "role": m.role,
            "opts": {"max_tokens": m.opts["max_tokens"], "temperature": m.opts["temperature"], "n": 1,
                     "top_p": m.opts["top_p"], "logprobs": None, "stop": None},
            "root": m.root, "created": _iso(m.created, z=False), "model_id": m.model.id,
            "model_host": m.model.host, "deleted": None, "parent": m.parent, "template": None,
            "logprobs": [] if m.final and m.role == "assistant" else None, "children": children,
            "completion": None, "final": m.final, "original": None, "private": True,
            "model_type": "chat" if m.role == "assistant" else None, "finish_reason": m.finish_reason,
            "harmful": None if m.role == "assistant" else False,
            "expiration_time": _iso(m.created + timedelta(days=1), z=False), "labels": [],
            "file_urls": [f"/files/{name}" for name in m.file_names] or None,
        }
    # fmt: on

    def _tree_v4(self, chain: list[SimMessage]) -> dict[str, Any]:
        node: dict[str, Any] | None = None
        for message in reversed(chain):
            node = self._flat_v4(message, [node] if node else None)
        assert node is not None
        return node

    async def _v4_lines(self, turn: _Turn, record: RecordedRequest) -> AsyncIterator[bytes]:
        script, (chunks, _thinking) = self.script, self._plan(turn)
        new, reply = self._start_turn(turn)
        chain = [*new, reply]

        def line(kind: str, obj: dict[str, Any]) -> bytes:
            return v4_line(self._decorate(kind, obj))

        if script.first_byte_delay:
            await asyncio.sleep(script.first_byte_delay)
        yield line("head", self._tree_v4(chain))
        if script.extra_fields:
            yield line("keepalive", {"keepalive": True, "at": time.time()})
        for index in range(len(chunks) + 1):
            if index == script.disconnect_after:
                raise _Abort
            if index == script.error_after or index == len(chunks):
                break
            if index:
                await _pause(script.chunk_delay)
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
        yield line("final", self._tree_v4(chain))


@dataclass
class _Turn:
    caller: str
    model: SimModel
    content: str
    parent: SimMessage | None
    opts: dict[str, Any]
    files: list[str]


def _groups(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def _pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


def main(argv: list[str] | None = None) -> None:
    from simulators.serve import run_forever

    parser = argparse.ArgumentParser(description="Serve the Ai2 Playground simulator on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--chunk-delay", type=float, default=0.02, help="seconds between answer chunks")
    parser.add_argument("--first-byte-delay", type=float, default=0.0, help="seconds before the first line")
    parser.add_argument("--n-chunks", type=int, default=None, help="split each answer into N chunks")
    parser.add_argument("--v5-status", type=int, default=None, help="answer /v5 routes with this status (404/405)")
    args = parser.parse_args(argv)
    sim = AllenAISimulator()
    sim.script.chunk_delay, sim.script.first_byte_delay = args.chunk_delay, args.first_byte_delay
    sim.script.n_chunks, sim.script.v5_status = args.n_chunks, args.v5_status
    run_forever(sim.app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
