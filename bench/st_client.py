"""A Streamlit session driven over its websocket, the way the browser's frontend drives it (no browser).

The frontend opens ``/_stcore/stream`` (subprotocol ``streamlit``), asks for a script run with a
``BackMsg.rerun_script`` (a ``ClientState``: query string, page, widget states), and receives
``ForwardMsg``s: ``new_session``, ``delta``s (elements by path), ``script_finished``. Submitting a chat
input is another rerun whose widget states carry the input's id with a ``chat_input_value``. This client
does just that, keeps every markdown body it received, and counts the bytes, so bench/load.py can tell
when the answer's first and last words arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin, Subprotocol


@dataclass
class Seen:
    """A text the session waits for, and when it first arrived (``time.monotonic()``)."""

    text: str
    at: float | None = None
    event: asyncio.Event = field(default_factory=asyncio.Event)


class StreamlitSession:
    def __init__(self, base_url: str, headers: Mapping[str, str] | None = None) -> None:
        self.url = base_url.replace("http://", "ws://", 1) + "/_stcore/stream"
        self.origin = base_url
        self.headers = dict(headers or {})
        self.bytes_received = 0
        self.messages = 0
        self.chat_input_id: str | None = None
        self.exceptions: list[str] = []  # exception elements the app drew (a script error)
        self.runs_finished = 0
        self.ended: str | None = None  # why the connection ended, if it did
        self._finished = asyncio.Event()
        self._watching: list[Seen] = []
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None

    async def open(self, patience: float = 60) -> None:
        """Connect and run the script once, as a new browser tab does; returns when that run is over."""
        self._ws = await connect(self.url, subprotocols=[Subprotocol("streamlit")], origin=Origin(self.origin),
                                 additional_headers=self.headers, max_size=None, open_timeout=patience,
                                 proxy=None,  # loopback only, whatever the environment says
                                 ping_interval=None)  # a busy client must not hang up on its own
        self._reader = asyncio.create_task(self._read())
        self._finished.clear()
        await self._send_rerun(None)
        await asyncio.wait_for(self._finished.wait(), patience)

    def watch(self, text: str) -> Seen:
        """From now on, note when a markdown body containing ``text`` first arrives."""
        seen = Seen(text)
        self._watching.append(seen)
        return seen

    async def send_chat(self, prompt: str) -> None:
        """Submit ``prompt`` in the page's chat input (a rerun carrying its value)."""
        if self.chat_input_id is None:
            raise RuntimeError("the page drew no chat input")
        await self._send_rerun(prompt)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    async def _send_rerun(self, prompt: str | None) -> None:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = ""
        state.page_script_hash = ""
        state.widget_states.SetInParent()
        if prompt is not None and self.chat_input_id is not None:
            widget = state.widget_states.widgets.add()
            widget.id = self.chat_input_id
            widget.chat_input_value.data = prompt
        assert self._ws is not None
        await self._ws.send(msg.SerializeToString())

    async def _read(self) -> None:
        try:
            await self._read_all()
            self.ended = "closed by the server"
        except Exception as exc:
            self.ended = f"{type(exc).__name__}: {exc}"

    async def _read_all(self) -> None:
        assert self._ws is not None
        async for payload in self._ws:
            data = payload if isinstance(payload, bytes) else payload.encode()
            self.bytes_received += len(data)
            self.messages += 1
            msg = ForwardMsg()
            msg.ParseFromString(data)
            kind = msg.WhichOneof("type")
            if kind == "delta":
                self._delta(msg)
            elif kind == "script_finished":
                self.runs_finished += 1
                self._finished.set()

    def _delta(self, msg: ForwardMsg) -> None:
        delta = msg.delta
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        if kind == "chat_input":
            self.chat_input_id = element.chat_input.id
        elif kind == "exception":
            self.exceptions.append(element.exception.message)
        elif kind == "markdown" and self._watching:
            body, now = element.markdown.body, time.monotonic()
            for seen in self._watching:
                if seen.at is None and seen.text in body:
                    seen.at = now
                    seen.event.set()
