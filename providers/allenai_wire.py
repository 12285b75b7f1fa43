"""The Ai2 Playground's JSON-lines chat bodies, parsed: lines in, events out.

``V5Parser`` reads ``POST /v5/threads/chat`` (compact lines typed by ``type``: start,
startThread/addMessage, modelResponse, thinking, error, finalThread, end; allenai-current.md
§2.4); ``V4MessageParser`` reads the seed's ``POST /v4/message/stream`` (a head message with
``children``, ``{"message", "content"}`` chunks, legacy error lines, a final message;
web-backends.md §2.4). Both share the abstract ``_Parser``'s bookkeeping, and
``parse_stream`` runs a body's bytes through one.

The parsers are pure (no I/O), so they can be fuzzed directly (tests/test_parsers_fuzz.py).
The provider that sends the requests is providers/allenai.py.
"""

from __future__ import annotations

import abc
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from providers.errors import ProviderError, UnavailableError, UnexpectedResponseError
from providers.events import Drift, Event, Finished, ReasoningDelta, StateUpdate, TextDelta
from providers.lines import JsonLines

DISPLAY_NAME = "Ai2 Playground"  # how errors name the backend


def drift(what: str, line: Any = None) -> UnexpectedResponseError:
    """The error for a body that no longer looks like the protocol (with the line, for a bug report)."""
    snippet = "" if line is None else json.dumps(line, ensure_ascii=False, default=str)[:500]
    return UnexpectedResponseError(f"{DISPLAY_NAME} protocol changed: {what}", backend=DISPLAY_NAME, snippet=snippet)


def as_str(value: Any) -> str:
    """``value`` if it is a string, else ``""``."""
    return value if isinstance(value, str) else ""


def dicts_of(value: Any) -> list[dict[str, Any]]:
    """The objects in ``value`` if it is a list, else none."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


class _Parser(abc.ABC):
    """Common bookkeeping: the state to persist, whether it was sent, the remembered error."""

    protocol = ""

    def __init__(self, base_state: Mapping[str, Any] | None = None) -> None:
        self.base_state = dict(base_state or {})
        self.thread_id: str | None = None
        self.parent: str | None = None
        self.error: str | None = None
        self.finish_reason = "stop"
        self.done = False
        self._streamed: list[str] = []
        self._state_sent = False

    @abc.abstractmethod
    def feed(self, line: Any) -> list[Event]:
        """The events one line (a decoded JSON value) gives."""
        ...

    def _text(self, content: str) -> list[Event]:
        self._streamed.append(content)
        return [TextDelta(content)] if content else []

    def _rest_of(self, final_content: Any) -> list[Event]:
        """Text the final snapshot holds beyond what was streamed (normally none)."""
        streamed = "".join(self._streamed)
        if isinstance(final_content, str) and len(final_content) > len(streamed) and final_content.startswith(streamed):
            return self._text(final_content[len(streamed) :])
        return []

    def state_update(self) -> StateUpdate:
        self._state_sent = True
        state = {**self.base_state, "protocol": self.protocol, "parent": self.parent, "thread_id": self.thread_id}
        return StateUpdate(state)

    def close(self) -> list[Event]:
        """End of the body: the closing events, or the error that ended the turn."""
        if self.finish_reason != "length":
            if self.error is not None:
                raise UnavailableError(f"{DISPLAY_NAME}: {self.error}", backend=DISPLAY_NAME)
            if not self.done:
                raise UnavailableError(f"{DISPLAY_NAME} closed the stream before the end", backend=DISPLAY_NAME)
        events: list[Event] = [] if self._state_sent else [self.state_update()]
        return [*events, Finished("length" if self.finish_reason == "length" else "stop")]

    def fail_state(self) -> StateUpdate | None:
        """What to persist when the turn failed: only a parent the backend surely stored."""
        return self.state_update() if self.parent and not self._state_sent else None


class V5Parser(_Parser):
    """Lines of ``POST /v5/threads/chat`` (allenai-current.md §2.4)."""

    protocol = "v5"

    def __init__(self, base_state: Mapping[str, Any] | None = None) -> None:
        super().__init__(base_state)
        self.assistant_id: str | None = None
        self._handlers = {
            "start": self._start,
            "startThread": self._announced,
            "addMessage": self._announced,
            "modelResponse": self._model_response,
            "thinking": self._thinking,
            "error": self._error,
            "finalThread": self._final_thread,
            "end": self._end,
        }  # toolCall and unknown types are ignored

    def feed(self, line: Any) -> list[Event]:
        if self.done:
            return []
        if not isinstance(line, dict):
            raise drift(f"a line is a JSON {type(line).__name__}, not an object")
        kind = line.get("type")
        if not isinstance(kind, str):
            if "error" in line:  # a legacy type-less error line
                self.error = as_str(line.get("error")) or "the model failed"
                return []
            raise drift("a line has no 'type'")
        handler = self._handlers.get(kind)
        return handler(line) if handler else []

    def _start(self, line: dict[str, Any]) -> list[Event]:
        self.thread_id = _required_str(line, "message")
        return []

    def _announced(self, line: dict[str, Any]) -> list[Event]:
        """startThread / addMessage: new messages; an assistant one may carry its first part."""
        messages = line.get("messages")
        if not isinstance(messages, list):
            raise drift(f"{line['type']} line without a 'messages' list")
        if self.thread_id is None and isinstance(line.get("id"), str):
            self.thread_id = line["id"]
        events: list[Event] = []
        for message in dicts_of(messages):
            if message.get("role") != "assistant":
                continue
            if isinstance(message.get("id"), str):
                self.assistant_id = message["id"]
            if thinking := as_str(message.get("thinking")):
                events.append(ReasoningDelta(thinking))
            events += self._text(as_str(message.get("content")))
        return events

    def _model_response(self, line: dict[str, Any]) -> list[Event]:
        return self._text(_required_str(line, "content"))

    def _thinking(self, line: dict[str, Any]) -> list[Event]:
        content = _required_str(line, "content")
        return [ReasoningDelta(content)] if content else []

    def _error(self, line: dict[str, Any]) -> list[Event]:
        self.error = as_str(line.get("errorDescription")) or as_str(line.get("errorCode")) or "the model failed"
        return []

    def _final_thread(self, line: dict[str, Any]) -> list[Event]:
        messages = dicts_of(line.get("messages"))
        if not messages or not isinstance(messages[-1].get("id"), str):
            raise drift("finalThread line without messages carrying an 'id'")
        last = messages[-1]
        if last.get("role") == "user":  # the model call failed: there is no reply to continue from
            return []
        self.parent = last["id"]
        return [*self._rest_of(last.get("content")), self.state_update()]

    def _end(self, line: dict[str, Any]) -> list[Event]:
        self.done = True
        if self.parent is None and self.error is None:
            self.parent = self.assistant_id  # no finalThread: the announced reply is stored by now
        return []


class V4MessageParser(_Parser):
    """Lines of the seed's ``POST /v4/message/stream`` (web-backends.md §2.4)."""

    protocol = "v4-message"

    def feed(self, line: Any) -> list[Event]:
        if self.done or not isinstance(line, dict):
            return []
        if "error" in line:
            self.error = as_str(line.get("error")) or as_str(line.get("reason")) or "the model failed"
            if line.get("reason") == "length":
                self.finish_reason = "length"
            return []
        if line.get("final") is True:
            return self._final(line)
        if "children" in line:
            self._head(line)
            return []
        if "message" in line:
            content = line.get("content")
            if not isinstance(content, str):
                raise drift("a message chunk without a string 'content'")
            if self.parent is None and isinstance(line["message"], str):
                self.parent = line["message"]
            return self._text(content)  # whitespace-only chunks ("\n\n") are kept
        return []  # unknown shapes are tolerated

    def _head(self, line: dict[str, Any]) -> dict[str, Any] | None:
        if self.thread_id is None:
            root = line.get("root") if isinstance(line.get("root"), str) else line.get("id")
            self.thread_id = root if isinstance(root, str) else None
        reply = _assistant_reply(line)
        if reply and isinstance(reply.get("id"), str):
            self.parent = reply["id"]
        return reply

    def _final(self, line: dict[str, Any]) -> list[Event]:
        self.done = True
        reply = self._head(line)
        if self.parent is None:
            raise drift("the final message names no assistant reply")
        if reply and reply.get("finish_reason") == "length":
            self.finish_reason = "length"
        return [*self._rest_of(reply.get("content") if reply else None), self.state_update()]


def _required_str(line: dict[str, Any], key: str) -> str:
    value = line.get(key)
    if not isinstance(value, str):
        raise drift(f"{line.get('type')} line without a string '{key}'", line)
    return value


def _assistant_reply(message: dict[str, Any]) -> dict[str, Any] | None:
    """The assistant child of a head message: one level down, or two below a system head."""
    for child in dicts_of(message.get("children")):
        if child.get("role") == "assistant":
            return child
        for grandchild in dicts_of(child.get("children")):
            if grandchild.get("role") == "assistant":
                return grandchild
    return None


async def parse_stream(parser: _Parser, byte_chunks: AsyncIterator[bytes]) -> AsyncIterator[Event]:
    """Split a JSON-lines body, run it through ``parser`` and end with the parser's closing events.

    After the last line (``end`` / the final message) the rest of the body is read and
    ignored, so the connection can go back to the pool instead of being dropped.
    """
    lines = JsonLines(DISPLAY_NAME).lines(byte_chunks)
    try:
        async for _number, line in lines:
            if isinstance(line, Drift):  # unreadable: marked, and reading goes on (providers/lines.py)
                yield line
                continue
            for event in parser.feed(line):
                yield event
    except RecursionError as exc:  # absurdly nested JSON
        if not parser.done:
            raise drift("a line nests too deeply to parse") from exc
    except (ProviderError, httpx.HTTPError):
        if not parser.done:
            raise
    finally:
        await lines.aclose()  # type: ignore[attr-defined]
    for event in parser.close():
        yield event
