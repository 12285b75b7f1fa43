"""Simulator fixtures and the per-backend contract adapters (a pytest plugin).

Fixtures:
    allenai_server  session-scoped: one uvicorn on 127.0.0.1 whose app is swapped per test
    allenai_sim     a fresh AllenAISimulator per test, served there: ``.url``, ``.sim``

Helpers: ``run(coro)`` runs a coroutine (no pytest-asyncio here), ``collect(stream)`` drains an
event stream into a list, ``text_of(events)`` joins the text deltas, ``free_port()``.

Contract adapters: ``ADAPTERS[backend] = ContractAdapter(...)``: one entry per backend in
providers.registry.BACKENDS tells tests/test_provider_contract.py how to start that backend's
simulator and script it. A new backend adds one entry here (and its simulator fixture).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest

from providers import allenai
from providers.base import Provider
from providers.errors import HTTPStatusError, ProviderError, UnavailableError
from providers.events import ChatMessage, ChatRequest, Event, TextDelta
from simulators.allenai import AllenAISimulator
from simulators.common import ForcedError
from simulators.serve import serve

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def collect(stream: AsyncIterator[Event]) -> list[Event]:
    return [event async for event in stream]


def text_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def free_port() -> int:
    """A loopback port nothing listens on (for "connection refused")."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@dataclass
class SimHandle:
    url: str
    sim: Any


class _Swappable:
    """An ASGI app forwarding to the current test's simulator (so one server serves the session)."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def allenai_server() -> Iterator[tuple[_Swappable, str]]:
    dispatch = _Swappable()
    with serve(dispatch) as url:
        yield dispatch, url


@pytest.fixture
def allenai_sim(allenai_server: tuple[_Swappable, str]) -> SimHandle:
    dispatch, url = allenai_server
    sim = AllenAISimulator()
    dispatch.app = sim.app
    return SimHandle(url, sim)


# --- contract adapters --------------------------------------------------------------------------


@dataclass(frozen=True)
class ContractAdapter:
    """How the generic provider contract tests drive one backend and its simulator.

    Every ``script_*`` callable receives the simulator object (``handle.sim``) and changes
    what its next chat request gets.
    """

    backend: str
    sim_fixture: str  # name of a fixture returning a SimHandle (fresh simulator per test)
    make_provider: Callable[[str, httpx.AsyncClient | None], Provider]  # (base URL, shared client or None)
    request: Callable[[], ChatRequest]  # a first-turn request the simulator accepts
    script_answer: Callable[[Any, list[str], float], None]  # (sim, chunks, delay between chunks)
    script_http_error: Callable[[Any, int, str], None]  # (sim, status, message the server puts in its body)
    script_disconnect: Callable[[Any, list[str], int], None]  # (sim, chunks, cut the connection after N)
    script_unknown_fields: Callable[[Any, list[str]], None]  # normal answer plus unknown keys / event types
    script_renamed_field: Callable[[Any, list[str]], None]  # answer whose text field has another name
    disconnects: Callable[[Any], int]  # how many streams the client abandoned mid-answer
    # expected ProviderError subclass per HTTP status of a scripted error
    error_classes: dict[int, type[ProviderError]] = field(
        default_factory=lambda: {
            400: HTTPStatusError,
            403: HTTPStatusError,
            429: HTTPStatusError,
            500: HTTPStatusError,
            503: UnavailableError,
        }
    )


def _allenai_answer(sim: AllenAISimulator, chunks: list[str], delay: float) -> None:
    sim.script.chunks, sim.script.chunk_delay = chunks, delay


def _allenai_error(sim: AllenAISimulator, status: int, message: str) -> None:
    sim.script.http_error = ForcedError(status, message)


def _allenai_disconnect(sim: AllenAISimulator, chunks: list[str], after: int) -> None:
    sim.script.chunks, sim.script.disconnect_after = chunks, after


def _allenai_unknown(sim: AllenAISimulator, chunks: list[str]) -> None:
    sim.script.chunks, sim.script.extra_fields = chunks, True


def _allenai_renamed(sim: AllenAISimulator, chunks: list[str]) -> None:
    sim.script.chunks, sim.script.rename = chunks, ("modelResponse", "content", "text")


ADAPTERS: dict[str, ContractAdapter] = {
    "allenai": ContractAdapter(
        backend="allenai",
        sim_fixture="allenai_sim",
        make_provider=lambda url, client: allenai.AllenAI(base_url=url, client=client),
        request=lambda: ChatRequest(model="olmo-3.1-32b-instruct", messages=(ChatMessage("user", "Hello"),)),
        script_answer=_allenai_answer,
        script_http_error=_allenai_error,
        script_disconnect=_allenai_disconnect,
        script_unknown_fields=_allenai_unknown,
        script_renamed_field=_allenai_renamed,
        disconnects=lambda sim: sim.disconnects,
    ),
}
