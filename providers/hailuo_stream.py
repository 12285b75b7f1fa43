"""HailuoAI's answer stream, parsed: bytes in, events out (shared/protocols/web-backends.md §3.4, §5.3).

The body is Server-Sent Events::

    event:send_result       data.sendResult: chatID (and chatTitle on a new chat)
    event:message_result    data.messageResult.content: the WHOLE answer so far (cumulative)
    event:close_chunk       the end

Every payload is ``{"type", "statusInfo": {"code", "message"}, "data"}``; a non-zero
``statusInfo.code`` is an error, typically an expired login.

* ``sse_events`` splits the bytes into ``(event, data)`` pairs. It cuts lines on bytes and decodes
  whole lines only, so a multi-byte character split across network reads arrives intact.
* ``ReplyParser`` turns the pairs into Chatdeck events: cumulative content becomes deltas (a
  rewrite of earlier text becomes ``TextDelta(whole_text, replace=True)``), the title a ``Title``,
  the chat id a ``StateUpdate``. It is pure, so it can be fed directly in tests.
* ``backend_error`` maps a ``statusInfo`` error to a ProviderError (used for error bodies too).

The provider that sends the request is providers/hailuo.py.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

from providers.errors import CredentialsError, ProviderError, UnavailableError, UnexpectedResponseError
from providers.events import Event, Finished, StateUpdate, TextDelta, Title

DISPLAY_NAME = "HailuoAI"  # how messages name the backend
LOGIN_EXPIRED = f"{DISPLAY_NAME} login expired: paste a fresh token in Settings"

log = logging.getLogger(__name__)

# statusInfo messages that mean "log in again" (the codes themselves are not documented).
_LOGIN_WORDS = re.compile(r"token|log ?in|sign ?in|unauthori[sz]ed|not authenticated|登录|令牌", re.IGNORECASE)


def drift(what: str) -> UnexpectedResponseError:
    """The error for a body that no longer looks like the protocol."""
    return UnexpectedResponseError(f"{DISPLAY_NAME} protocol changed: {what}", backend=DISPLAY_NAME)


def status_of(payload: Any) -> tuple[int, str] | None:
    """``(code, message)`` of a payload's ``statusInfo`` when it reports an error (code not 0)."""
    info = payload.get("statusInfo") if isinstance(payload, dict) else None
    if not isinstance(info, dict):
        return None
    code = info.get("code")
    if code in (0, "0", None):
        return None
    message = info.get("message")
    return (code if isinstance(code, int) else -1), (message.strip() if isinstance(message, str) else "")


def backend_error(code: int | None, message: str, *, http_status: int | None = None) -> ProviderError:
    """The error for a ``statusInfo`` error (or a 401): a login problem, or the backend's own words."""
    parts = ["HTTP 401"] if http_status == 401 else []
    parts += [f"“{message}”"] if message else []
    parts += [f"code {code}"] if code else []
    if http_status == 401 or _LOGIN_WORDS.search(message):
        said = ", ".join(parts)
        return CredentialsError(f"{LOGIN_EXPIRED} ({DISPLAY_NAME} said: {said})", backend=DISPLAY_NAME)
    return ProviderError(f"{DISPLAY_NAME} reported an error: {message or 'no reason given'} (code {code})",
                         backend=DISPLAY_NAME)


async def sse_events(byte_chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[str, str]]:
    """``(event name, data)`` for each event of an SSE body.

    One space after the colon is optional; comments (``:``) and unknown fields are skipped;
    several ``data`` lines are joined with ``\\n``. ``close_chunk`` is reported as soon as its
    ``event`` line arrives and reading stops there, as the web client does: nothing after it is needed.
    """
    name, data = "", []
    async with aclosing(_lines(byte_chunks)) as lines:
        async for line in lines:
            if not line:
                if name or data:
                    yield name or "message", "\n".join(data)
                name, data = "", []
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value.strip()
                if name == "close_chunk":
                    yield name, ""
                    return
            elif field == "data":
                data.append(value)
    if name or data:  # the body ended without the blank line after its last event
        yield name or "message", "\n".join(data)


async def _lines(byte_chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """The body's lines, without their ``\\n`` or ``\\r\\n``.

    Lines are cut on bytes and decoded whole, so a multi-byte character split across network
    reads arrives intact. A line that is not UTF-8 is skipped.
    """
    buffer = b""
    async for chunk in byte_chunks:
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for raw in complete:
            if (line := _decode(raw)) is not None:
                yield line
    if buffer and (line := _decode(buffer)) is not None:
        yield line


def _decode(raw: bytes) -> str | None:
    try:
        return raw.removesuffix(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        log.debug("%s: skipped a line that is not UTF-8", DISPLAY_NAME)
        return None


class ReplyParser:
    """One answer's events, from ``send_result`` to ``close_chunk``.

    ``base_state`` is persisted with the chat id (``characterID``, the account it belongs to).
    """

    def __init__(self, base_state: Mapping[str, Any]) -> None:
        self.base_state = dict(base_state)
        self.text = ""  # the answer as the backend last sent it
        self.chat_id: str | None = None
        self.done = False
        self.results = 0  # message_result events seen
        self.results_with_content = 0

    def feed(self, event: str, data: str) -> list[Event]:
        if self.done:
            return []
        if event == "close_chunk":
            self.done = True
            return []
        if event not in ("send_result", "message_result"):
            return []  # follow_up_question_result, pings and unknown events
        try:
            payload = json.loads(data)
        except ValueError:  # the next cumulative content repairs whatever this one held
            log.debug("%s: skipped a %s data line that is not JSON", DISPLAY_NAME, event)
            return []
        if (error := status_of(payload)) is not None:
            raise backend_error(*error)
        body = payload.get("data") if isinstance(payload, dict) else None
        if event == "send_result":
            return self._send_result(body)
        return self._message_result(body)

    def _send_result(self, body: Any) -> list[Event]:
        result = body.get("sendResult") if isinstance(body, dict) else None
        if not isinstance(result, dict):
            raise drift("send_result without data.sendResult")
        events: list[Event] = []
        title = result.get("chatTitle")
        if isinstance(title, str) and title.strip():
            events.append(Title(title.strip()))
        chat_id = result.get("chatID")
        if isinstance(chat_id, int | str) and str(chat_id) not in ("", "0") and self.chat_id is None:
            self.chat_id = str(chat_id)  # a JSON string today; a number would be taken as well
            events.append(StateUpdate({**self.base_state, "chatID": self.chat_id}))
        return events

    def _message_result(self, body: Any) -> list[Event]:
        self.results += 1
        result = body.get("messageResult") if isinstance(body, dict) else None
        content = result.get("content") if isinstance(result, dict) else None
        if not isinstance(content, str):
            return []  # judged at the end: drift only if no message_result ever had content
        self.results_with_content += 1
        return self._delta(content)

    def _delta(self, content: str) -> list[Event]:
        """Cumulative content → what is new. A rewrite of earlier text replaces the answer."""
        previous, self.text = self.text, content
        if content.startswith(previous):
            return [TextDelta(content[len(previous) :])] if len(content) > len(previous) else []
        if not content:  # an empty snapshot says nothing; keep what was shown
            self.text = previous
            return []
        return [TextDelta(content, replace=True)]

    def close(self) -> list[Event]:
        """End of the body: the closing events, or the error that ended the answer."""
        if not self.done:
            raise UnavailableError(f"{DISPLAY_NAME} closed the stream before the end of the answer",
                                   backend=DISPLAY_NAME)
        if self.results and not self.results_with_content:
            raise drift("message_result events no longer carry data.messageResult.content")
        if self.chat_id is None:
            log.warning("%s named no chat id; the next turn starts a new chat", DISPLAY_NAME)
        return [Finished("stop")]


async def parse_stream(parser: ReplyParser, byte_chunks: AsyncIterator[bytes]) -> AsyncIterator[Event]:
    """Run an SSE body through ``parser``, ending with its closing events.

    Reading stops at ``close_chunk``; the caller closes the response.
    """
    events = sse_events(byte_chunks)
    try:
        async for name, data in events:
            for event in parser.feed(name, data):
                yield event
            if parser.done:
                break
    except RecursionError as exc:  # absurdly nested JSON
        raise drift("an event nests too deeply to parse") from exc
    finally:
        await events.aclose()  # type: ignore[attr-defined]
    for event in parser.close():
        yield event
