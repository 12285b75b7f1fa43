"""Busy backend streams read in fewer, larger reads.

A backend streams its answer a few bytes at a time, each piece its own network read. Every read is
a turn of the reading event loop through httpx, httpcore, h11 and anyio: about 0.3 ms of CPU
whatever its size (bench.load), and after each wait for the network the loop needs the interpreter
back from the threads drawing pages. A hundred replies streaming a piece every 30 ms are 3,000
reads a second. With many connections open, a connection's next read waits until a pause has
passed since its previous one, so what arrives meanwhile comes in one read.

The pause is :data:`PAUSE_PER_STREAM` per connection open in the process, at most :data:`MAX_PAUSE`
(less than the pages' own gathering of text into updates under load: views/components.py). The
read that follows a request (the response's start: its status, a first token) never waits.

httpx takes no network backend of its own, so :func:`paced_transport` gives its transport's
connection pool one (``_pool._network_backend``; httpx and httpcore are pinned, and
tests/test_paced_reads.py fails should that place move).
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

PAUSE_PER_STREAM = 0.001  # seconds between a connection's reads, per connection open in the process...
MAX_PAUSE = 0.1  # ...up to this


class _OpenStreams:
    """How many paced connections are open in the process (any thread, any event loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self, n: int) -> None:
        with self._lock:
            self.count += n


OPEN = _OpenStreams()


def pause() -> float:
    """Seconds a connection's read waits after its previous read, with the connections open now."""
    return min(MAX_PAUSE, PAUSE_PER_STREAM * OPEN.count)


class PacedStream(httpcore.AsyncNetworkStream):
    """A connection whose reads, once its response is under way, come at most every :func:`pause`."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._last_read = 0.0
        self._wrote = True  # a read after a write is a response's start: it never waits
        self._open = True
        OPEN.add(1)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109 (httpcore's)
        loop = asyncio.get_running_loop()
        if not self._wrote:
            wait = self._last_read + pause() - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
        self._wrote = False
        data = await self._inner.read(max_bytes, timeout)
        self._last_read = loop.time()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        self._wrote = True
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        self._forget()
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        try:
            inner = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        except BaseException:  # a failed handshake closes the socket without this stream's aclose
            self._forget()
            raise
        if inner is self._inner:
            return self
        self._forget()  # the TLS stream replaces this one, which is not closed on its own
        return PacedStream(inner)

    def _forget(self) -> None:
        if self._open:
            self._open = False
            OPEN.add(-1)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class PacedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with every connection a :class:`PacedStream`."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        return PacedStream(await self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        return PacedStream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def paced_transport(verify: ssl.SSLContext, limits: httpx.Limits | None = None) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections read at the pace above."""
    transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits or httpx.Limits())
    pool = transport._pool
    if not isinstance(pool, httpcore.AsyncConnectionPool) or not hasattr(pool, "_network_backend"):
        raise RuntimeError("httpx's transport no longer keeps its pool where Chatdeck paces reads")
    pool._network_backend = PacedBackend(pool._network_backend)
    return transport
