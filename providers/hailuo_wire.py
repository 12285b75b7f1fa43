"""HailuoAI's answer stream, parsed: bytes in, events out (shared/protocols/web-backends.md §3.4, §5.3).

The body is Server-Sent Events::

    event:send_result       data.sendResult: chatID (and chatTitle on a new chat)
    event:message_result    data.messageResult.content: the WHOLE answer so far (cumulative)
    event:close_chunk       the end

Every payload is ``{"type", "statusInfo": {"code", "message"}, "data"}``; a non-zero
``statusInfo.code`` is an error, typically an expired login.

* ``sse_events`` splits the bytes into ``(event, data)`` pairs (the shared capped reader). It cuts lines on
  bytes and decodes whole lines only, so a multi-byte character split across network reads arrives intact.
* ``ReplyParser`` turns the pairs into Chatdeck events: cumulative content becomes deltas (a
  rewrite of earlier text becomes ``TextDelta(whole_text, replace=True)``), the title a ``Title``,
  the chat id a ``StateUpdate``. It is pure, so it can be fed directly in tests.
* ``backend_error`` maps a ``statusInfo`` error to a ProviderError (used for error bodies too).

The provider that sends the request is providers/hailuo.py.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

from providers.errors import CredentialsError, ProviderError, UnavailableError, UnexpectedResponseError
from providers.events import Drift, Event, Finished, StateUpdate, TextDelta, Title
from providers.lines import LineTally
from providers.lines import sse_events as sse_lines

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


def sse_events(byte_chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[str, str] | Drift]:
    """``(event name, data)`` for each event of an SSE body, or a ``Drift`` for one that cannot be read.

    The shared capped reader (providers/lines.py): one space after the colon is optional; comments
    (``:``) and unknown fields are skipped; several ``data`` lines are joined with ``\\n``. Lines are cut
    on bytes and decoded whole, so a multi-byte character split across network reads arrives intact;
    an event with a line that is not UTF-8 is drift. ``close_chunk`` is reported as soon as its ``event``
    line arrives and reading stops there, as the web client does: nothing after it is needed.
    """
    return sse_lines(byte_chunks, stop_at=("close_chunk",), strict_utf8=True)


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
        self.tally = LineTally(DISPLAY_NAME)

    def feed(self, event: str, data: str) -> list[Event]:
        if self.done:
            return []
        if event == "close_chunk":
            self.done = True
            return []
        if event not in ("send_result", "message_result"):
            return []  # follow_up_question_result, pings and unknown events
        payload = self.tally.json_object(data)
        if isinstance(payload, Drift):  # marked; the next cumulative content repairs the text
            return [payload]
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
        self.tally.check_end()
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
        async for item in events:
            if isinstance(item, Drift):  # an event over the size cap, or not UTF-8
                yield parser.tally.drift(item)
                continue
            for event in parser.feed(*item):
                yield event
            if parser.done:
                break
    except RecursionError as exc:  # absurdly nested JSON
        raise drift("an event nests too deeply to parse") from exc
    finally:
        await events.aclose()  # type: ignore[attr-defined]
    for event in parser.close():
        yield event
