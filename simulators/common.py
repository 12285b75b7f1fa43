"""What every loopback simulator shares, whichever backend it imitates.

* ``RecordedRequest`` / ``FilePart``: one request as received (headers, query, a JSON body or
  a form parsed into ``form`` / ``form_items`` / ``files``) and what became of its answer;
* ``ForcedError``: an HTTP error a test makes a route answer instead of its normal reply;
* ``BaseScript``: the per-test knobs every simulator understands (reply text and chunking,
  delays, forced and in-stream errors, cut connections, protocol drift);
* ``ChunkStream`` / ``Abort``: a streaming response that writes each body chunk as its own
  message and records client disconnects and deliberate cuts;
* ``RecordingSimulator``: the base class keeping the request log and disconnect count;
* reply text: ``default_reply``, ``prompt_topic``, ``split_words``, ``split_even``,
  ``split_thinking``; and ``pause``.

A backend's simulator (simulators/allenai.py) adds its routes, rules and wire shapes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

NGINX_403 = (
    "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


GARBLED = b'{"type": "stream", "token": "a line cut off by a broken proxy'  # not JSON: unreadable


# --- script: what the next requests get ---------------------------------------------------------


@dataclass
class ForcedError:
    """An HTTP error the chat (or model) routes answer instead of streaming.

    ``body=None`` means the route's own error envelope carrying ``message``;
    a str/bytes body is sent as is with ``content_type``, a dict as JSON.
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

    def response(self, envelope: Callable[[int, str], Response]) -> Response:
        """This error as a response; ``envelope(status, message)`` builds the route's own error body."""
        if self.body is None:
            response = envelope(self.status, self.message)
        elif isinstance(self.body, dict):
            media_type = self.content_type or "application/json"
            response = Response(json.dumps(self.body), self.status, media_type=media_type)
        else:
            response = Response(self.body, self.status, media_type=self.content_type or "text/plain")
        response.headers.update(self.headers)
        return response


@dataclass
class BaseScript:
    """Per-test knobs; change fields directly (``sim.script.chunk_delay = 0.01``).

    A simulator's own ``Script`` subclasses this with its backend's knobs.
    """

    reply: str | Callable[[str], str] | None = None  # None: default_reply(prompt)
    chunks: list[str] | None = None  # explicit text chunks (override reply)
    n_chunks: int | None = None  # split the reply into this many chunks (default: word by word)
    thinking: str | None = None  # reasoning text (default: a short one for models that think)
    first_byte_delay: float = 0.0  # seconds before the first body line
    chunk_delay: float = 0.0  # seconds before each chunk after the first
    http_error: ForcedError | None = None  # chat routes answer this error
    models_error: ForcedError | None = None  # model routes answer this error
    error_after: int | None = None  # in-stream model error after N text chunks
    error_text: str = "Simulated model failure"  # the in-stream error's message
    disconnect_after: int | None = None  # cut the connection after N text chunks (no end)
    extra_fields: bool = False  # unknown keys on every line and unknown line types (drift tolerance)
    rename: tuple[str, str, str] | None = None  # (line kind, old key, new key): drift detection
    html_200: bool = False  # answer 200 text/html instead of a stream
    garbled_after: int | None = None  # one unreadable line (``garbled``) after N text chunks: the drift policy
    garbled: bytes = GARBLED  # that line, without its framing
    hold_at: int | None = None  # the answer stops before this text chunk until ``release`` is set
    release: threading.Event = field(default_factory=threading.Event)

    async def hold(self, index: int) -> None:
        """Before text chunk ``index``: wait while the test holds the answer there (a reply mid-stream)."""
        while index == self.hold_at and not self.release.is_set():  # noqa: ASYNC110 - set by the test thread
            await asyncio.sleep(0.01)

    def answer_chunks(self, prompt: str, backend: str) -> list[str]:
        """The answer's text chunks: ``chunks``, else ``reply`` (or ``default_reply``) split up."""
        if self.chunks is not None:
            return list(self.chunks)
        reply = self.reply(prompt) if callable(self.reply) else self.reply
        text = default_reply(prompt, backend) if reply is None else reply
        return split_even(text, self.n_chunks) if self.n_chunks else split_words(text)

    def thinking_pieces(self, prompt: str, *, can_think: bool) -> list[str]:
        """The reasoning, in pieces of three words: ``thinking``, else a short one if the model thinks."""
        thinking = self.thinking
        if thinking is None and can_think:
            thinking = f"Question: {prompt_topic(prompt)}\nPlan: restate it, split it into parts, point to a source."
        return split_thinking(thinking) if thinking else []

    def decorate(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        """A line's object with the scripted drift applied (``rename``, ``extra_fields``)."""
        if self.rename and self.rename[0] == kind and self.rename[1] in obj:
            obj = {(self.rename[2] if k == self.rename[1] else k): v for k, v in obj.items()}
        if self.extra_fields:
            obj = obj | {"simUnknownField": {"note": "a key this client does not know", "n": [1, 2]}}
        return obj


# --- the request log ------------------------------------------------------------------------------


@dataclass
class FilePart:
    field: str
    filename: str | None
    content_type: str
    size: int
    data: bytes = dataclasses.field(repr=False)  # plain ``field`` here would name the attribute above


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

    def wait_finished(self, timeout: float = 10.0) -> float:
        """``finished_at``, once the simulator has set it.

        A client may return as soon as it has read the last event, a moment before the
        simulator's own bookkeeping for that stream runs: tests wait for it here instead of
        racing it.
        """
        deadline = time.monotonic() + timeout
        while self.finished_at is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"the simulator did not finish {self.method} {self.path} in {timeout} s")
            time.sleep(0.005)
        return self.finished_at


class Abort(Exception):
    """Raised inside a body generator to cut the connection without an end."""


class ChunkStream(StreamingResponse):
    """Writes each chunk as its own body message; notices when the client goes away."""

    def __init__(
        self, chunks: AsyncIterator[bytes], media_type: str, record: RecordedRequest, sim: RecordingSimulator
    ) -> None:
        super().__init__(chunks, media_type=media_type)
        self.record, self.sim = record, sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        record, completed = self.record, False

        async def write(group: anyio.abc.TaskGroup) -> None:
            nonlocal completed
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            try:
                async for chunk in self.body_iterator:
                    record.first_byte_at = record.first_byte_at or time.monotonic()
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except Abort:
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


class RecordingSimulator:
    """Base of the simulators: every request is logged in ``requests`` with what became of it."""

    app: Starlette  # each simulator's routes, built by its own ``__init__``

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.disconnects = 0  # streams the client left before their end

    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST"]

    async def _record(self, request: Request) -> RecordedRequest:
        """Log ``request``: a JSON body into ``json_body``, a (multipart) form into form fields and files."""
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
    def _forced(error: ForcedError, record: RecordedRequest, envelope: Callable[[int, str], Response]) -> Response:
        record.status = error.status
        return error.response(envelope)

    @staticmethod
    def _finish(record: RecordedRequest, response: Response) -> Response:
        record.status = response.status_code
        if not isinstance(response, StreamingResponse):
            record.finished_at = time.monotonic()
        return response

    def _stream(self, chunks: AsyncIterator[bytes], media_type: str, record: RecordedRequest) -> ChunkStream:
        return ChunkStream(chunks, media_type, record, self)


# --- reply text -----------------------------------------------------------------------------------


def default_reply(prompt: str, backend: str) -> str:
    """A deterministic, readable markdown answer derived from the prompt (``backend``: "the Ai2 Playground")."""
    topic = prompt_topic(prompt)
    pick = int(hashlib.sha256(prompt.encode()).hexdigest(), 16)
    opener = ["Good question", "Happy to help", "Let's look at this", "Here is a short answer"][pick % 4]
    angle = ["the basics", "a practical view", "the main trade-offs", "a worked example"][pick // 4 % 4]
    return (
        f"{opener}: you asked about **{topic}**.\n\n"
        f"This answer comes from Chatdeck's simulator of {backend}: it is built from your prompt, "
        f"not written by a model. It starts with {angle} and stays brief.\n\n"
        f"- First, restate the question in your own words: *{topic}*\n"
        f"- Second, split it into parts you can check one at a time.\n"
        f"- Third, compare what you find with a source you trust.\n\n"
        f"Ask a follow-up and the conversation continues in the same thread."
    )


def prompt_topic(prompt: str) -> str:
    """The last user turn of a ``User: …\\nAssistant:`` prompt, on one line, at most 80 characters."""
    text = prompt.removesuffix("\nAssistant:")
    if "User: " in text:
        text = text.rsplit("User: ", 1)[1]
    text = " ".join(text.split()) or "nothing in particular"
    return text if len(text) <= 80 else text[:79] + "…"


def split_words(text: str) -> list[str]:
    """Word-sized chunks with their trailing whitespace, like tokens streamed by a model."""
    return re.findall(r"\S+\s*|\s+", text) or [text]


def split_even(text: str, n: int) -> list[str]:
    """``text`` in at most ``n`` chunks of one length (the last may be shorter)."""
    size = max(1, -(-len(text) // max(1, n)))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def split_thinking(text: str) -> list[str]:
    """Reasoning in pieces of three words, each with a trailing space but the last."""
    words = text.split()
    pieces = [" ".join(words[i : i + 3]) + " " for i in range(0, len(words), 3)]
    if pieces:
        pieces[-1] = pieces[-1].rstrip()
    return pieces


async def pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)
