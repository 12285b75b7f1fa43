"""The capped line readers every provider reads through, and the one drift policy (issues 13 and 14).

Memory is measured with tracemalloc (what Python allocates), with bounds far above what the capped
readers need and far below what holding the hostile line would take.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from providers import allenai_wire, hailuo_wire, openai_wire
from providers.errors import HTTPStatusError, UnexpectedResponseError, raise_for_status
from providers.events import Drift, Finished, TextDelta
from providers.lines import JsonLines, capped_lines, read_capped, sse_events
from simulators.serve import serve

MiB = 1 << 20


async def pieces(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def endless_line(prefix: bytes, total: int, then: bytes = b"") -> AsyncIterator[bytes]:
    """``prefix`` and then ``total`` bytes of one line without a newline (64 KiB at a time), then ``then``."""
    yield prefix
    block = b"x" * 65536
    for _ in range(total // len(block)):
        yield block
    yield then


async def drain(items: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in items]


def test_lines_from_any_split_with_the_last_line_kept_without_its_newline() -> None:
    body = b"one\r\ntwo\n\nthree"
    for size in (1, 2, 5, len(body)):
        assert asyncio.run(drain(capped_lines(pieces(body, size)))) == [b"one\r", b"two", b"", b"three"]


def test_a_line_over_the_cap_becomes_drift_and_the_next_lines_are_read() -> None:
    body = b"short\n" + b"y" * 100 + b"\nafter\n" + b"z" * 11
    for size in (1, 7, 64, len(body)):
        lines = asyncio.run(drain(capped_lines(pieces(body, size), limit=10)))
        assert lines == [b"short", Drift("a line longer than 10 bytes", "y" * 10), b"after",
                         Drift("a line longer than 10 bytes", "z" * 10)], size


def test_an_sse_event_whose_data_lines_add_up_over_the_cap_is_drift() -> None:
    body = b"data: 12345\ndata: 67890\ndata: abcde\n\ndata: ok\n\n"
    assert asyncio.run(drain(sse_events(pieces(body, 3), limit=12))) == [
        Drift("a line longer than 12 bytes", "12345\n67890\n"), ("message", "ok"),
    ]


READERS: dict[str, Callable[[AsyncIterator[bytes]], AsyncIterator[Any]]] = {
    "json-lines": lambda chunks: JsonLines("X").lines(chunks),
    "openai-sse": lambda chunks: openai_wire.SSEReader().events(chunks),
    "hailuo-sse": hailuo_wire.sse_events,
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_an_endless_line_never_grows_memory(reader: str) -> None:
    """64 MiB of one line (a backend that never sends a newline): the reader holds at most the cap."""
    sse = "sse" in reader
    prefix, then = (b"data: ", b"\n\ndata: ok\n\n") if sse else (b"", b'\n{"ok": 1}\n')
    tracemalloc.start()
    try:
        out = asyncio.run(drain(READERS[reader](endless_line(prefix, 64 * MiB, then))))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    out = [item[1] for item in out] if reader == "json-lines" else out  # (line number, line)
    assert len(out) == 2 and isinstance(out[0], Drift) and "longer than" in out[0].what, out
    assert out[1] in (("message", "ok"), "ok", {"ok": 1}), out  # and the next line is read
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"


def openai_events(body: bytes) -> list[Any]:
    return asyncio.run(drain(openai_wire.parse_stream("HF", pieces(body, 5))))


def hailuo_events(body: bytes) -> list[Any]:
    return asyncio.run(drain(hailuo_wire.parse_stream(hailuo_wire.ReplyParser({}), pieces(body, 5))))


def v5_events(body: bytes) -> list[Any]:
    return asyncio.run(drain(allenai_wire.parse_stream(allenai_wire.V5Parser(), pieces(body, 5))))


def v4_events(body: bytes) -> list[Any]:
    return asyncio.run(drain(allenai_wire.parse_stream(allenai_wire.V4MessageParser(), pieces(body, 5))))


def hchat_lines(body: bytes) -> list[Any]:
    return [line for _, line in asyncio.run(drain(JsonLines("HuggingChat").lines(pieces(body, 5))))]


GARBAGE_ONLY = {
    "openai": (openai_events, b"data: {oops\n\ndata: [1, 2]\n\n"),
    "hailuo": (hailuo_events, b"event:message_result\ndata:{oops\n\nevent:close_chunk\n\n"),
    "allenai-v5": (v5_events, b"{oops\n[1]\n"),
    "allenai-v4": (v4_events, b"{oops\n<html>\n"),
    "huggingchat": (hchat_lines, b"{oops\n<html>\n"),
}


@pytest.mark.parametrize("backend", sorted(GARBAGE_ONLY))
def test_a_stream_of_which_nothing_could_be_read_is_still_a_protocol_change(backend: str) -> None:
    parse, body = GARBAGE_ONLY[backend]
    with pytest.raises(UnexpectedResponseError, match="protocol changed: no line of the answer could be read"):
        parse(body)


def test_a_json_line_that_is_no_object_is_drift_and_an_unknown_kind_is_silent() -> None:
    body = (b'data: {"choices": [{"delta": {"content": "Hi"}}]}\n\ndata: [1]\n\n'
            b'data: {"object": "sim.future", "choices": []}\n\n'
            b'data: {"choices": [{"delta": {"content": "!"}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n')
    assert openai_events(body) == [
        TextDelta("Hi"), Drift("a line that is a JSON list, not an object", "[1]"), TextDelta("!"), Finished("stop"),
    ]


def test_read_capped_stops_at_the_limit() -> None:
    assert asyncio.run(read_capped(pieces(b"0123456789", 3), 4)) == (b"0123", True)
    assert asyncio.run(read_capped(pieces(b"0123456789", 3), 10)) == (b"0123456789", False)


async def _huge_error_page(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app answering 404 with 64 MiB of HTML (the same block over and over)."""
    await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
    block = b"Not here. " + b"x" * 65526
    for _ in range(1024):
        await send({"type": "http.response.body", "body": block, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def test_an_error_body_is_read_only_as_far_as_it_is_shown() -> None:
    async def fetch(url: str) -> HTTPStatusError:
        async with httpx.AsyncClient() as client, client.stream("GET", url) as response:
            with pytest.raises(HTTPStatusError) as raised:
                await raise_for_status(response, "X")
            return raised.value

    with serve(_huge_error_page) as url:
        tracemalloc.start()
        try:
            error = asyncio.run(fetch(url))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert error.status == 404 and error.server_message.startswith("Not here. xxx")
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"
