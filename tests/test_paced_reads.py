"""Busy backend streams read in fewer reads (providers/paced_reads.py), over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpcore
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from providers import paced_reads
from providers.base import new_client, tls_context
from providers.paced_reads import PacedBackend, paced_transport
from simulators.serve import serve

CHUNKS = 30
SPACING = 0.01  # seconds between the server's chunks
FIRST_AFTER = 0.3  # the first chunk comes this long after the response's start, as a backend's first token


async def _chunks(request: Request) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        await asyncio.sleep(FIRST_AFTER)
        for i in range(CHUNKS):
            yield f"chunk {i}\n".encode()
            await asyncio.sleep(SPACING)

    return StreamingResponse(body(), media_type="text/plain")


APP = Starlette(routes=[Route("/stream", _chunks, methods=["GET"])])


@pytest.fixture
def open_streams(monkeypatch: pytest.MonkeyPatch) -> paced_reads._OpenStreams:
    """The count of open connections, this test's own (other tests' runners may hold connections)."""
    fresh = paced_reads._OpenStreams()
    monkeypatch.setattr(paced_reads, "OPEN", fresh)
    return fresh


class CountingBackend(httpcore.AsyncNetworkBackend):
    """anyio's network backend, counting the reads that reach the socket and when each returned."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()
        self.reads: list[float] = []

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        backend = self

        class Counted(httpcore.AsyncNetworkStream):
            async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
                data = await stream.read(max_bytes, timeout)
                backend.reads.append(time.monotonic())
                return data

            async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
                await stream.write(buffer, timeout)

            async def aclose(self) -> None:
                await stream.aclose()

        return Counted()

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def _read_stream(url: str, backend: httpcore.AsyncNetworkBackend) -> tuple[bytes, float, float]:
    """The body, the seconds to its first chunk and to its end, read through ``backend``."""
    async with httpcore.AsyncConnectionPool(network_backend=backend) as pool:
        started = time.monotonic()
        async with pool.stream("GET", url + "/stream") as response:
            body, first = b"", 0.0
            async for chunk in response.aiter_stream():
                first = first or time.monotonic() - started
                body += chunk
        return body, first, time.monotonic() - started


def test_with_many_connections_open_a_stream_is_read_in_fewer_reads_and_its_start_is_not_delayed(
    monkeypatch: pytest.MonkeyPatch, open_streams: paced_reads._OpenStreams,
) -> None:
    monkeypatch.setattr(paced_reads, "MAX_PAUSE", 0.05)
    open_streams.count = 1000  # as if a thousand replies streamed: the longest pause
    counting = CountingBackend()
    with serve(APP) as url:
        body, first, total = asyncio.run(_read_stream(url, PacedBackend(counting)))
    assert body == b"".join(f"chunk {i}\n".encode() for i in range(CHUNKS))  # every byte, in order
    # After the status line, each read waited 50 ms since the one before: at most one read per 50 ms of the
    # body, however fast or slow this machine is (30 chunks 10 ms apart would otherwise be ~30 reads).
    body_reads = [t for t in counting.reads if t > counting.reads[0]]
    assert len(body_reads) <= (total - FIRST_AFTER) / 0.05 + 2
    assert len(body_reads) < CHUNKS / 2
    assert first < FIRST_AFTER + 0.05 + 0.25  # the first chunk waits at most one pause (plus a loaded machine)


def test_with_few_connections_open_every_chunk_is_read_as_it_comes(open_streams: paced_reads._OpenStreams) -> None:
    assert paced_reads.pause() == 0.0
    counting = CountingBackend()
    with serve(APP) as url:
        body, _, _ = asyncio.run(_read_stream(url, PacedBackend(counting)))
    assert body.count(b"\n") == CHUNKS
    assert len(counting.reads) >= CHUNKS / 2  # no pause: reads follow the chunks (a slow machine may merge some)


def test_the_pause_grows_with_the_connections_open_up_to_a_limit(open_streams: paced_reads._OpenStreams) -> None:
    for open_now, expected in ((0, 0.0), (10, 0.01), (100, 0.1), (5000, 0.1)):
        open_streams.count = open_now
        assert paced_reads.pause() == pytest.approx(expected)


def test_clients_count_their_connections_while_open_and_read_whole_bodies(
    open_streams: paced_reads._OpenStreams,
) -> None:
    async def fetch_all() -> tuple[list[bytes], int]:
        clients = [new_client(), httpx.AsyncClient(transport=paced_transport(tls_context()))]
        bodies, during = [], 0
        for client in clients:
            async with client.stream("GET", url + "/stream") as response:
                during = max(during, open_streams.count)
                bodies.append(await response.aread())
            await client.aclose()
        return bodies, during

    with serve(APP) as url:
        bodies, during = asyncio.run(fetch_all())
    assert all(body.count(b"\n") == CHUNKS for body in bodies)
    assert during == 1  # one connection open while a client streamed...
    assert open_streams.count == 0  # ...and none once the clients were closed


def test_a_failed_tls_handshake_leaves_no_connection_counted(open_streams: paced_reads._OpenStreams) -> None:
    async def attempt() -> None:
        async with httpx.AsyncClient(transport=paced_transport(tls_context())) as client:
            with pytest.raises(httpx.ConnectError):  # TLS spoken to a plain-HTTP server
                await client.get(url.replace("http://", "https://", 1) + "/stream")

    with serve(APP) as url:
        asyncio.run(attempt())
    assert open_streams.count == 0
