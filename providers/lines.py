"""Streamed bodies read line by line with a size cap, and the one drift policy every backend follows.

Every provider reads its answer through :func:`capped_lines`, directly or through the two readers written
once here for every backend: :func:`sse_events` (Server-Sent Events) and :class:`JsonLines` (JSON lines).
So no backend can make Chatdeck hold more than ``MAX_LINE_BYTES`` of one line, or of one Server-Sent Event's
data, however long the line or however slowly it arrives (issue 14); error bodies are read with
:func:`read_capped`.

The drift policy (issue 13): a line that cannot be read in the middle of a stream (not JSON, not a JSON
object, not UTF-8 where the protocol needs it, over the cap) is reported as a :class:`Drift` event and
reading goes on, so every piece of text that was understood is kept and the answer is marked. A stream of
which not a single line could be read is still a protocol change: :meth:`LineTally.check_end` raises.
A well-formed line of a kind the provider does not know is not drift; providers skip those silently.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Collection
from typing import Any

from providers.errors import UnexpectedResponseError
from providers.events import Drift

MAX_LINE_BYTES = int(os.environ.get("CHATDECK_MAX_LINE_BYTES") or 1 << 20)  # one line, or one SSE event's data
SNIPPET_BYTES = 200  # how much of an unreadable line a Drift keeps for the bug report


def snippet_of(raw: bytes | bytearray | str) -> str:
    """The start of an unreadable line, as text."""
    if isinstance(raw, str):
        return raw[:SNIPPET_BYTES]
    return raw[:SNIPPET_BYTES].decode("utf-8", "replace")


def overlong(head: bytes | bytearray | str, limit: int) -> Drift:
    """The drift of a line over the cap; its snippet is the line's start, however the line arrived."""
    return Drift(f"a line longer than {limit:,} bytes", snippet_of(head[:limit]))


async def capped_lines(byte_chunks: AsyncIterator[bytes], limit: int | None = None) -> AsyncIterator[bytes | Drift]:
    """The body's lines (bytes without their ``\\n``; a ``\\r`` before it is left to the caller).

    A line longer than ``limit`` bytes is never held: its first bytes are kept for the snippet, the rest
    is dropped as it arrives, and a :class:`Drift` takes the line's place once its ``\\n`` comes (or the
    body ends). A last line without ``\\n`` is yielded at the end of the body.
    """
    limit = MAX_LINE_BYTES if limit is None else limit
    buffer = bytearray()
    skipping: Drift | None = None  # set while the rest of an overlong line is being dropped
    async for chunk in byte_chunks:
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            if skipping is None:
                buffer += chunk[start:end]
                yield overlong(buffer, limit) if len(buffer) > limit else bytes(buffer)
            else:
                yield skipping
            buffer.clear()
            skipping, start = None, end + 1
        if skipping is None:
            buffer += chunk[start:]
            if len(buffer) > limit:
                skipping = overlong(buffer, limit)
                buffer.clear()
    if skipping is not None:
        yield skipping
    elif buffer:
        yield bytes(buffer)


class LineTally:
    """One stream's count of lines understood and lines not, and the drift events for the latter."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.understood = 0
        self.unreadable = 0
        self.first: Drift | None = None

    def read(self) -> None:
        """A line was understood (whatever it said)."""
        self.understood += 1

    def drift(self, what: str | Drift, raw: bytes | str = b"") -> Drift:
        """Count an unreadable line; the event that marks the answer."""
        event = what if isinstance(what, Drift) else Drift(what, snippet_of(raw))
        self.unreadable += 1
        self.first = self.first or event
        return event

    def json_object(self, raw: bytes | str) -> dict[str, Any] | Drift:
        """A line parsed as the JSON object every protocol here sends per line, or the drift it is."""
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, absurd nesting
            return self.drift("a line that is not JSON", raw)
        if not isinstance(value, dict):
            return self.drift(f"a line that is a JSON {type(value).__name__}, not an object", raw)
        self.read()
        return value

    def check_end(self) -> None:
        """At the end of the body: nothing readable at all is a protocol change, not a marked answer."""
        if self.unreadable and not self.understood and self.first is not None:
            raise UnexpectedResponseError(
                f"{self.backend} protocol changed: no line of the answer could be read ({self.first.what})",
                backend=self.backend, snippet=self.first.snippet,
            )


class JsonLines:
    """Reads a JSON-lines body: one object per ``\\n``-terminated line, each line's size capped.

    ``lines()`` yields ``(line_number, object)``; blank lines are skipped. A line that cannot be read
    (not UTF-8 JSON, not an object, longer than ``MAX_LINE_BYTES``) is yielded as
    ``(line_number, Drift)`` for the provider to pass on: reading goes on (the drift policy
    above). A body whose every line was unreadable raises UnexpectedResponseError at its end.
    """

    def __init__(self, backend: str, *, limit: int | None = None) -> None:
        self.backend = backend
        self.limit = limit
        self.tally = LineTally(backend)

    async def lines(self, byte_chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[int, dict[str, Any] | Drift]]:
        number = 0
        async for raw in capped_lines(byte_chunks, self.limit):
            number += 1
            if isinstance(raw, Drift):
                yield number, self.tally.drift(raw)
            elif raw.strip():
                yield number, self.tally.json_object(raw)
        self.tally.check_end()


async def sse_events(
    byte_chunks: AsyncIterator[bytes], *, stop_at: Collection[str] = (), strict_utf8: bool = False,
    limit: int | None = None,
) -> AsyncIterator[tuple[str, str] | Drift]:
    """``(event name, data)`` for each Server-Sent Event of a body, or a :class:`Drift` for one not read.

    Comments (``:`` lines, keep-alives) and unknown fields are skipped; one space after the colon is
    optional; several ``data`` lines join with ``\\n``; an event is dispatched at a blank line, and a last
    one at the end of the body. The event's data together is capped like a line. An event named in
    ``stop_at`` is reported as soon as its ``event`` line arrives, and reading stops there. With
    ``strict_utf8`` a line that is not UTF-8 spoils its event (else it is decoded with replacements).
    """
    limit = MAX_LINE_BYTES if limit is None else limit
    data: list[str] = []
    spoiled: Drift | None = None
    name, size = "", 0
    async for raw in capped_lines(byte_chunks, limit):
        line = raw if isinstance(raw, Drift) else _decode(raw.removesuffix(b"\r"), strict_utf8)
        if isinstance(line, Drift):
            spoiled = spoiled or line
            continue
        if not line:
            if spoiled is not None:
                yield spoiled
            elif name or data:
                yield name or "message", "\n".join(data)
            name, data, size, spoiled = "", [], 0, None
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value.strip()
            if name in stop_at:
                yield name, ""
                return
        elif field == "data" and spoiled is None:
            size += len(value) + 1
            data.append(value)
            if size > limit:
                spoiled, data = overlong("\n".join(data), limit), []
    if spoiled is not None:
        yield spoiled
    elif name or data:  # the body ended without the blank line after its last event
        yield name or "message", "\n".join(data)


def _decode(raw: bytes, strict: bool) -> str | Drift:
    try:
        return raw.decode("utf-8", "strict" if strict else "replace")
    except UnicodeDecodeError:
        return Drift("a line that is not UTF-8", snippet_of(raw))


MAX_BODY_BYTES = 8 * MAX_LINE_BYTES  # a whole non-streamed answer (one JSON completion)
ERROR_BODY_BYTES = 64 * 1024  # an error page: only its first words are ever shown


async def read_capped(byte_chunks: AsyncIterator[bytes], limit: int) -> tuple[bytes, bool]:
    """The first ``limit`` bytes of a body and whether it was longer (the rest is not read: closing the
    response then drops the connection instead of downloading whatever a server keeps sending)."""
    body = bytearray()
    async for chunk in byte_chunks:
        body += chunk
        if len(body) > limit:
            return bytes(body[:limit]), True
    return bytes(body), False
