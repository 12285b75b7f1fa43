"""The Ai2 Playground's middle generation, ``POST /v4/threads/``, parsed: lines in, events out.

The Flask API of 2025 to early 2026 (olmo-api at f0c14ee; allenai-current.md §2.3) answers
JSON lines with sorted keys. Typed lines (``start``, ``modelResponse``, ``thinking``,
``toolCall``, ``error``, ``end``) carry a ``type``; two kinds of line carry none:

* a thread snapshot ``{"id", "messages"}`` (a flat list of messages): once when the empty reply
  is stored (every message ``final: false``) and once when the step is done (``final: true``,
  with the whole reply, the last message being the one to continue from);
* the legacy stream error ``{"error", "message", "reason"}``, after which the body simply ends.

Each kind of line has its own small method below, so the shapes stay easy to check against
the server's. The shared bookkeeping (state to persist, closing events) is
``allenai_wire._Parser``; the provider choosing this parser is providers/allenai.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.allenai_wire import _Parser, as_str, dicts_of, drift
from providers.events import Event, ReasoningDelta


class V4ThreadsParser(_Parser):
    """Lines of ``POST /v4/threads/`` (allenai-current.md §2.3, example bodies A and B in §2.6)."""

    protocol = "v4-threads"

    def __init__(self, base_state: Mapping[str, Any] | None = None) -> None:
        super().__init__(base_state)
        self.assistant_id: str | None = None
        self._handlers = {
            "start": self._start,
            "modelResponse": self._model_response,
            "thinking": self._thinking,
            "error": self._error_chunk,
            "end": self._end,
        }  # toolCall and unknown types are ignored

    def feed(self, line: Any) -> list[Event]:
        if self.done:
            return []
        if not isinstance(line, dict):
            raise drift(f"a line is a JSON {type(line).__name__}, not an object")
        kind = line.get("type")
        if kind is None:
            if "error" in line:
                return self._legacy_error(line)
            if "messages" in line:
                return self._snapshot(line)
            raise drift("a line has neither a 'type' nor a thread's 'messages'", line)
        if not isinstance(kind, str):
            raise drift("a line's 'type' is not a string", line)
        handler = self._handlers.get(kind)
        return handler(line) if handler else []

    def _start(self, line: dict[str, Any]) -> list[Event]:
        self.thread_id = _required_str(line, "message")
        return []

    def _snapshot(self, line: dict[str, Any]) -> list[Event]:
        """A type-less ``{id, messages}``: the thread so far, or (all final) the finished step."""
        messages = line.get("messages")
        if not isinstance(messages, list) or not dicts_of(messages):
            raise drift("a thread line without a 'messages' list", line)
        messages = dicts_of(messages)
        for message in messages:
            if message.get("role") == "assistant" and isinstance(message.get("id"), str):
                self.assistant_id = message["id"]
        last = messages[-1]
        if last.get("final") is not True:
            return []  # the first snapshot: the stored, still empty reply
        if not isinstance(last.get("id"), str):
            raise drift("the final thread's last message has no 'id'", line)
        if last.get("role") == "user":  # the model call failed: there is no reply to continue from
            return []
        self.parent = last["id"]
        return self._rest_of(last.get("content"))

    def _model_response(self, line: dict[str, Any]) -> list[Event]:
        return self._text(_required_str(line, "content"))  # the first one may be empty

    def _thinking(self, line: dict[str, Any]) -> list[Event]:
        content = _required_str(line, "content")
        return [ReasoningDelta(content)] if content else []

    def _error_chunk(self, line: dict[str, Any]) -> list[Event]:
        """A typed error (a failed tool lookup): the step stops; the final thread and ``end`` follow."""
        self.error = as_str(line.get("errorDescription")) or as_str(line.get("errorCode")) or "the model failed"
        return []

    def _legacy_error(self, line: dict[str, Any]) -> list[Event]:
        """The inference failed: ``{error, message, reason}``, then the server re-raises and the body ends."""
        reason = as_str(line.get("reason"))
        text = as_str(line.get("error")) or reason or "the model failed"
        self.error = f"{text} ({reason})" if reason and reason not in text else text
        return []

    def _end(self, line: dict[str, Any]) -> list[Event]:
        self.done = True
        if self.parent is None and self.error is None:
            self.parent = self.assistant_id  # no final snapshot: the announced reply is stored by now
        return []


def _required_str(line: dict[str, Any], key: str) -> str:
    value = line.get(key)
    if not isinstance(value, str):
        raise drift(f"{line.get('type')} line without a string '{key}'", line)
    return value
