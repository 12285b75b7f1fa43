"""OpenAI-compatible chat-completion streams, parsed: SSE bytes in, events out.

The body of ``POST /chat/completions`` with ``"stream": true`` is Server-Sent Events: ``data:``
lines, each a JSON chunk ``{"choices": [{"delta": {...}, "finish_reason": ...}], "usage": ...}``,
events separated by a blank line, ``data: [DONE]`` at the end (protocols/README.md, Hugging Face
Inference). Text is in ``delta.content``, reasoning in ``delta.reasoning_content`` (vLLM,
DeepSeek) or ``delta.reasoning`` (Ollama, the Hugging Face router).

``SSEReader`` splits bytes into the data of each event; ``ChunkParser`` turns one event's data
into events and, at the end, the closing ``Finished``. Both are pure (no I/O), so they can be
fuzzed directly. The provider that sends the requests is providers/openai_compatible.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from providers.errors import UnavailableError, UnexpectedResponseError
from providers.events import Drift, Event, Finished, FinishReason, ReasoningDelta, TextDelta
from providers.lines import LineTally, sse_events

# delta keys this client knows; a string under any other key is a hint the protocol changed
KNOWN_DELTA_KEYS = frozenset(
    {"role", "content", "reasoning_content", "reasoning", "tool_calls", "function_call", "refusal", "name"}
)
USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")
LENGTH_REASONS = frozenset({"length", "max_tokens", "model_length"})


class SSEReader:
    """Splits an SSE body into the data of each event (its ``data:`` lines joined by ``\\n``).

    Comments (``:`` lines, used as keep-alives) and other fields (``event:``, ``id:``) are skipped;
    an event is dispatched at a blank line, and a last event without one at the end of the body.
    An event whose data is over the line-size cap comes as a ``Drift`` (providers/lines.py).
    """

    async def events(self, byte_chunks: AsyncIterator[bytes]) -> AsyncIterator[str | Drift]:
        async for item in sse_events(byte_chunks):
            yield item if isinstance(item, Drift) else item[1]


class ChunkParser:
    """The events of one completion stream, one SSE event's data at a time.

    ``feed`` gives a ``Drift`` for data that is not a JSON object (the drift policy: reading goes on),
    raises UnexpectedResponseError for a chunk that no longer looks like the protocol and
    UnavailableError for an error the server reports in the stream; ``close`` gives the final
    ``Finished`` (with the finish reason and token usage) or raises when the answer was cut short.
    """

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.tally = LineTally(backend)
        self.done = False  # [DONE] seen
        self.finish_reason: str | None = None
        self.usage: dict[str, int] | None = None
        self.got_output = False
        self.unknown_keys: set[str] = set()

    def drift(self, what: str, snippet: str = "") -> UnexpectedResponseError:
        message = f"{self.backend} protocol changed: {what}"
        return UnexpectedResponseError(message, backend=self.backend, snippet=snippet)

    def feed(self, data: str) -> list[Event]:
        if self.done:
            return []
        if data.strip() == "[DONE]":
            self.tally.read()
            self.done = True
            return []
        chunk = self.tally.json_object(data)
        if isinstance(chunk, Drift):
            return [chunk]
        if chunk.get("error") is not None:
            raise UnavailableError(f"{self.backend} reported an error mid-answer: {_error_text(chunk['error'])}",
                                   backend=self.backend)
        if isinstance(chunk.get("usage"), dict):
            self.usage = _usage(chunk["usage"]) or self.usage
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            raise self.drift("a chunk has no choices list", data[:200])
        if not choices or not isinstance(choices[0], dict):
            return []  # the usage-only chunk at the end, or a keep-alive
        return self._choice(choices[0])

    def _choice(self, choice: Mapping[str, Any]) -> list[Event]:
        events: list[Event] = []
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            delta = choice.get("message")
            if not isinstance(delta, dict):
                delta = {}
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            events.append(ReasoningDelta(reasoning))
        content = delta.get("content")
        if isinstance(content, str) and content:
            events.append(TextDelta(content))
        self.got_output = self.got_output or bool(events)
        self.unknown_keys |= {k for k, v in delta.items() if k not in KNOWN_DELTA_KEYS and isinstance(v, str) and v}
        if isinstance(choice.get("finish_reason"), str):
            self.finish_reason = choice["finish_reason"]
        return events

    def close(self) -> Finished:
        """The final event once the body has ended (raises if it ended too early)."""
        self.tally.check_end()
        if not self.done and self.finish_reason is None:
            raise UnavailableError(f"{self.backend} closed the connection mid-answer", backend=self.backend)
        if not self.got_output and self.unknown_keys:
            unknown = ", ".join(sorted(self.unknown_keys))
            raise self.drift(f"the answer came in fields this client does not know ({unknown})")
        reason: FinishReason = "length" if self.finish_reason in LENGTH_REASONS else "stop"
        return Finished(reason, usage=self.usage)


async def parse_stream(backend: str, byte_chunks: AsyncIterator[bytes]) -> AsyncIterator[Event]:
    """The events of a whole SSE completion body, ending with ``Finished``.

    After ``[DONE]`` the rest of the body is read and ignored, so the connection can be reused.
    """
    parser = ChunkParser(backend)
    events = SSEReader().events(byte_chunks)
    try:
        async for data in events:
            if isinstance(data, Drift):  # an event over the size cap
                yield parser.tally.drift(data)
                continue
            for event in parser.feed(data):
                yield event
    finally:
        await events.aclose()  # type: ignore[attr-defined]
    yield parser.close()


def parse_completion(backend: str, body: Any) -> list[Event]:
    """The events of a non-streamed completion (a server that ignored ``"stream": true``)."""
    parser = ChunkParser(backend)
    events = parser.feed(json.dumps(body))
    parser.done = True
    return [*events, parser.close()]


def _usage(raw: Mapping[str, Any]) -> dict[str, int] | None:
    usage = {k: raw[k] for k in USAGE_KEYS if isinstance(raw.get(k), int) and not isinstance(raw.get(k), bool)}
    return usage or None


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error.get("type") or error)[:300]
    return str(error)[:300]
