"""A strict, scriptable, recording simulator of HailuoAI's web chat (www.hailuo.ai).

One route, ``POST /v4/api/chat/msg?<device query>`` (shared/protocols/web-backends.md §3, §5.3, §6):
it checks the login, the device query, the form and the ``yy`` signature (simulators/hailuo_rules.py
says how and what it answers otherwise), creates a chat on ``chatID=0``, continues a chat of the
same user otherwise, and streams SSE ``send_result`` → ``message_result`` (the whole answer so far,
growing by irregular amounts) … → ``close_chunk``. Each event goes out in pieces of irregular size,
cut by default one byte into the event's first multi-byte character, so a client that decodes
network reads one by one breaks.

Usage in a test::

    sim = HailuoSimulator()                      # knows one login: DEMO_TOKEN / DEMO_DEVICE_ID / DEMO_USER_ID
    sim.script.chunks = ["Hel", "lo ✓"]         # or .reply / .n_chunks, .rewrite, .title ...
    sim.script.error_after = 1                   # an in-stream statusInfo error after one chunk
    sim.expire(DEMO_TOKEN, "status")             # or "401"
    with serve(sim.app) as url: ...
    sim.requests[-1].form["chatID"], sim.chats[...]

Standalone: ``python -m simulators.hailuo --port 8766`` (prints the login it accepts).
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from simulators.common import Abort, BaseScript, RecordedRequest, RecordingSimulator, pause, prompt_topic
from simulators.hailuo_rules import Account, Rejected, SimChat, Turn, json_error, payload, read_chat, sse

BACKEND = "HailuoAI"  # as default replies name it
DEMO_TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjaGF0ZGVjay1kZW1vIn0.c2ltdWxhdG9yLXNpZ25hdHVyZQ"
DEMO_DEVICE_ID = "312345678901234567"
DEMO_USER_ID = "0c7f0a1e-3b6d-4d2a-9f1e-2b5c8d7e6f01"
FIRST_ID = 283746512398745600  # ids are 18-digit decimal strings (§5.3)


@dataclass
class Script(BaseScript):
    """Per-test knobs: the generic ones of ``BaseScript`` (chunks, delays, ``error_after``,
    ``disconnect_after``, ``extra_fields``, ``rename`` of a ``messageResult`` key …) and these."""

    title: str | None = None  # chatTitle of a new chat (default: from the prompt)
    rewrite: tuple[int, str] | None = None  # (before chunk N, text): the answer so far is replaced by text
    error_code: int = 1000001  # statusInfo.code of the in-stream error (error_after)
    piece_size: int | None = None  # write every event in pieces of this many bytes (default: two irregular pieces)
    piece_delay: float = 0.0  # seconds between the pieces of one event
    max_skew: float | None = 300.0  # seconds a request's ``unix`` may differ from the clock (None: any)


class HailuoSimulator(RecordingSimulator):
    """HailuoAI's chat route in miniature. ``app`` is the Starlette app to serve."""

    def __init__(self) -> None:
        super().__init__()
        self.script = Script()
        self.accounts: dict[str, Account] = {}
        self.chats: dict[str, SimChat] = {}
        self._ids = itertools.count(FIRST_ID)
        self.add_account(DEMO_TOKEN, DEMO_DEVICE_ID, DEMO_USER_ID)
        self.app = Starlette(routes=[Route("/v4/api/chat/msg", self._chat, methods=["POST"])])

    def add_account(self, token: str, device_id: str, user_id: str) -> Account:
        account = Account(token, device_id, user_id)
        self.accounts[token] = account
        return account

    def expire(self, token: str, how: str = "status") -> None:
        """From now on this login is refused: with an SSE status error (``"status"``) or HTTP 401."""
        self.accounts[token].expired = how

    def new_id(self) -> str:
        return str(next(self._ids))

    async def _chat(self, request: Request) -> Response:
        record = await self._record(request)
        if self.script.http_error:
            return self._forced(self.script.http_error, record, _error_envelope)
        raw_query = request.scope["query_string"].decode("latin-1")  # as sent: the signature covers it
        try:
            turn = read_chat(record, raw_query, self.accounts, self.chats, max_skew=self.script.max_skew)
        except Rejected as rejected:
            return self._finish(record, rejected.response)
        if self.script.html_200:
            return self._finish(record, HTMLResponse("<!doctype html><html><body>Hailuo AI</body></html>"))
        return self._finish(record, self._stream(self._body(turn, record), "text/event-stream", record))

    async def _body(self, turn: Turn, record: RecordedRequest) -> AsyncIterator[bytes]:
        """The events of ``_events``, each written in pieces (``_pieces``)."""
        async for data in self._events(turn, record):
            for index, piece in enumerate(self._pieces(data)):
                if index:
                    await pause(self.script.piece_delay)
                yield piece

    async def _events(self, turn: Turn, record: RecordedRequest) -> AsyncIterator[bytes]:
        script = self.script
        chunks = script.answer_chunks(turn.content, BACKEND)
        chat, is_new = turn.chat, turn.chat is None
        if chat is None:
            title = script.title or " ".join(prompt_topic(turn.content).split()[:5]).capitalize()
            chat = SimChat(self.new_id(), turn.account.user_id, title)
            self.chats[chat.id] = chat
        user_id, reply_id = self.new_id(), self.new_id()
        chat.messages += [("user", turn.content), ("assistant", "")]

        await pause(script.first_byte_delay)
        if script.extra_fields:
            yield b": ping\n\n"
        result = {"userMsgID": user_id, "chatID": chat.id, "systemMsgID": reply_id}
        result |= {"chatTitle": chat.title} if is_new else {}
        yield sse("send_result", payload(1, {"sendResult": script.decorate("sendResult", result)}))
        content = ""
        for index in range(len(chunks) + 1):
            if index == script.disconnect_after:
                raise Abort
            if index == script.garbled_after:
                yield b"event:message_result\ndata:" + script.garbled + b"\n\n"
            if index == script.error_after:
                yield sse("message_result", payload(3, {}, script.error_code, script.error_text))
                break
            if index == len(chunks):
                break
            if index:
                await pause(script.chunk_delay)
            if script.rewrite and script.rewrite[0] == index:
                content = script.rewrite[1]  # the backend rewrites what it said so far
                yield self._message(chat, reply_id, content, record, last=False)
            content += chunks[index]
            yield self._message(chat, reply_id, content, record, last=index == len(chunks) - 1)
            if index == 0 and script.extra_fields:
                yield sse("sim_heartbeat", {"type": 99, "note": "an event type this client does not know"})
        if script.extra_fields and script.error_after is None:
            extra: dict[str, Any] = {"netSearchStatus": {"linkDetail": []}}
            yield sse("follow_up_question_result", payload(4, {"messageResult": {"content": content}, "extra": extra}))
        yield sse("close_chunk", payload(8, {}))

    def _message(self, chat: SimChat, reply_id: str, content: str, record: RecordedRequest, *, last: bool) -> bytes:
        """A ``message_result`` event: the whole answer so far (``isEnd`` 0 on the last one)."""
        chat.messages[-1] = ("assistant", content)
        record.first_text_at = record.first_text_at or time.monotonic()
        message = {"chatID": chat.id, "msgID": reply_id, "content": content, "isEnd": 0 if last else 1}
        obj = payload(2, {"messageResult": self.script.decorate("messageResult", message)})
        return sse("message_result", self.script.decorate("payload", obj))

    def _pieces(self, data: bytes) -> list[bytes]:
        """One event's bytes as separate writes: ``piece_size`` bytes each, or two irregular pieces,
        the first ending one byte into the first multi-byte character (else a third of the way in)."""
        if self.script.piece_size:
            size = self.script.piece_size
            return [data[i : i + size] for i in range(0, len(data), size)]
        cut = next((i + 1 for i, byte in enumerate(data) if byte >= 0x80), max(1, len(data) // 3))
        return [data[:cut], data[cut:]]


def _error_envelope(status: int, message: str) -> Response:
    """A forced error's body: HailuoAI's envelope with the HTTP status (codes invented)."""
    return json_error(status, 1_000_000 + status, message)


def demo_environment(url: str) -> dict[str, str]:
    """The app's settings for talking to a simulator at ``url`` with the login it accepts."""
    return {
        "CHATDECK_HAILUO_URL": url,
        "CHATDECK_HAILUO_TOKEN": DEMO_TOKEN,
        "CHATDECK_HAILUO_DEVICE_ID": DEMO_DEVICE_ID,
        "CHATDECK_HAILUO_USER_ID": DEMO_USER_ID,
    }


def main(argv: list[str] | None = None) -> None:
    from simulators.serve import run_forever

    parser = argparse.ArgumentParser(description="Serve the HailuoAI simulator on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--chunk-delay", type=float, default=0.02, help="seconds between answer chunks")
    parser.add_argument("--first-byte-delay", type=float, default=0.0, help="seconds before the first event")
    args = parser.parse_args(argv)
    sim = HailuoSimulator()
    sim.script.chunk_delay, sim.script.first_byte_delay = args.chunk_delay, args.first_byte_delay
    print("HailuoAI simulator; the login it accepts:")
    for name, value in demo_environment(f"http://{args.host}:{args.port}").items():
        print(f"  {name}={value}")
    run_forever(sim.app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
