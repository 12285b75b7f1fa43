"""(a) How fast the Ai2 provider turns a v5 stream into events, next to a raw line read of the same stream.

Two sources of the same body:

* ``live``: the simulator itself, in this process (its per-line work and one body message per line
  bound both readers, so this says whether the provider keeps up with a fast server);
* ``replay``: the body the simulator produced, recorded once and served again in 64 KB writes,
  so the client side is the bottleneck and the ratio is the provider's own cost.

Plus the parser alone on the recorded bytes in memory (no HTTP), to say where the time goes.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from bench.texts import long_answer
from providers.allenai import USER_AGENT, AllenAI
from providers.allenai_wire import V5Parser, parse_stream
from providers.base import Guarded
from providers.events import ChatMessage, ChatRequest, TextDelta
from simulators.allenai import AllenAISimulator
from simulators.serve import serve

MODEL = "olmo-3.1-32b-instruct"
FIELDS = [("role", (None, "user")), ("model", (None, MODEL)), ("content", (None, "Write a long answer."))]
HEADERS = {"User-Agent": USER_AGENT, "X-Anonymous-User-ID": "bench-user", "Accept": "application/json, */*"}
PIECE = 65536


class Replay:
    """An ASGI app answering every POST with one recorded JSON-lines body, in ``PIECE``-sized writes."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-type", b"application/jsonl")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for start in range(0, len(self.body), PIECE):
            await send({"type": "http.response.body", "body": self.body[start : start + PIECE], "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _raw(client: httpx.AsyncClient, url: str) -> tuple[float, int, int]:
    """Seconds, body bytes and lines of one streamed POST read with ``aiter_lines``."""
    started = time.perf_counter()
    lines = 0
    async with client.stream("POST", url + "/v5/threads/chat", files=FIELDS, headers=HEADERS) as response:
        response.raise_for_status()
        async for _line in response.aiter_lines():
            lines += 1
        size = response.num_bytes_downloaded
    return time.perf_counter() - started, size, lines


async def _provider(client: httpx.AsyncClient, url: str) -> tuple[float, int, int]:
    """Seconds, events and answer characters of one AllenAI stream (guarded, as the runner gets it) consumed."""
    provider = AllenAI(base_url=url, client=client, protocol="v5")
    request = ChatRequest(model=MODEL, messages=(ChatMessage("user", "Write a long answer."),))
    started = time.perf_counter()
    events = chars = 0
    async for event in Guarded(provider).stream(request):
        events += 1
        if isinstance(event, TextDelta):
            chars += len(event.text)
    return time.perf_counter() - started, events, chars


async def _compare(url: str, repeats: int) -> dict[str, Any]:
    raw_times, provider_times = [], []
    async with httpx.AsyncClient(timeout=60) as client:
        await _raw(client, url)  # warm the connection
        for _ in range(repeats):
            seconds, size, lines = await _raw(client, url)
            raw_times.append(seconds)
            seconds, events, chars = await _provider(client, url)
            provider_times.append(seconds)
    raw_s, provider_s = statistics.median(raw_times), statistics.median(provider_times)
    return {
        "body_bytes": size,
        "lines": lines,
        "events": events,
        "answer_chars": chars,
        "raw": _rates(raw_s, size, lines, None),
        "provider": _rates(provider_s, size, lines, events),
        "ratio": provider_s / raw_s,
        "raw_all_s": raw_times,
        "provider_all_s": provider_times,
    }


def _rates(seconds: float, size: int, lines: int, events: int | None) -> dict[str, float | None]:
    return {
        "seconds": seconds,
        "mb_per_s": size / seconds / 1e6,
        "lines_per_s": lines / seconds,
        "events_per_s": None if events is None else events / seconds,
    }


async def _record(url: str) -> bytes:
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(url + "/v5/threads/chat", files=FIELDS, headers=HEADERS)
        response.raise_for_status()
        return response.content


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), PIECE):
        yield body[start : start + PIECE]


async def _in_memory(body: bytes, repeats: int) -> dict[str, float]:
    """The parser alone, and json.loads alone, on the recorded body: median seconds."""
    parse, loads = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        async for _event in parse_stream(V5Parser(), _chunks(body)):
            pass
        parse.append(time.perf_counter() - started)
        started = time.perf_counter()
        for line in body.split(b"\n"):
            if line:
                json.loads(line)
        loads.append(time.perf_counter() - started)
    return {"parse_stream_s": statistics.median(parse), "json_loads_s": statistics.median(loads)}


def measure(chunks: int = 20_000, repeats: int = 5) -> dict[str, Any]:
    """Figures for (a); takes a few seconds per 20,000 chunks."""
    sim = AllenAISimulator()
    sim.script.chunks = long_answer(chunks)
    with serve(sim.app) as url:
        live = asyncio.run(_compare(url, repeats))
        body = asyncio.run(_record(url))
    with serve(Replay(body)) as url:
        replay = asyncio.run(_compare(url, repeats))
    memory = asyncio.run(_in_memory(body, repeats))
    return {"chunks": chunks, "repeats": repeats, "live": live, "replay": replay, "in_memory": memory}


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
