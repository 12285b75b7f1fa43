"""Simulator fixtures and the per-backend contract adapters (a pytest plugin).

Fixtures:
    allenai_server  session-scoped: one uvicorn on 127.0.0.1 whose app is swapped per test
    allenai_sim     a fresh AllenAISimulator per test, served there: ``.url``, ``.sim``
    allenai_v4_threads_sim  the same, as a server of the ``/v4/threads/`` generation

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
    yield from swappable_server()


@pytest.fixture
def allenai_sim(allenai_server: tuple[_Swappable, str]) -> SimHandle:
    dispatch, url = allenai_server
    sim = AllenAISimulator()
    dispatch.app = sim.app
    return SimHandle(url, sim)


@pytest.fixture
def allenai_v4_threads_sim(allenai_sim: SimHandle) -> SimHandle:
    allenai_sim.sim.generation = "v4-threads"
    return allenai_sim


@pytest.fixture
def runner(engine: Any, allenai_sim: SimHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The runner of an application on the test's database (installed for the test), its Ai2 backend pointed
    at the test's simulator."""
    import application

    monkeypatch.setenv("CHATDECK_ALLENAI_URL", allenai_sim.url)
    app = application.install(application.Application(engine=engine, runner_options={"flush_interval": 0.05}))
    yield app.runner
    application.reset()


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
    script_garbled: Callable[[Any, list[str], int], None]  # (sim, chunks, one unreadable line after N chunks)
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


def script_adapter(
    backend: str, sim_fixture: str, make_provider: Callable[[str, httpx.AsyncClient | None], Provider],
    request: Callable[[], ChatRequest], renamed: tuple[str, str, str],
    error_classes: dict[int, type[ProviderError]] | None = None,
) -> ContractAdapter:
    """The adapter for a simulator scripted through ``simulators.common.BaseScript`` (all of ours).

    ``renamed`` is the (line kind, key, new name) that hides the answer's text from the client.
    """

    def answer(sim: Any, chunks: list[str], delay: float) -> None:
        sim.script.chunks, sim.script.chunk_delay = chunks, delay

    def http_error(sim: Any, status: int, message: str) -> None:
        sim.script.http_error = ForcedError(status, message)

    def disconnect(sim: Any, chunks: list[str], after: int) -> None:
        sim.script.chunks, sim.script.disconnect_after = chunks, after

    def unknown(sim: Any, chunks: list[str]) -> None:
        sim.script.chunks, sim.script.extra_fields = chunks, True

    def rename(sim: Any, chunks: list[str]) -> None:
        sim.script.chunks, sim.script.rename = chunks, renamed

    def garbled(sim: Any, chunks: list[str], after: int) -> None:
        sim.script.chunks, sim.script.garbled_after = chunks, after

    extra = {"error_classes": error_classes} if error_classes is not None else {}
    return ContractAdapter(
        backend=backend, sim_fixture=sim_fixture, make_provider=make_provider, request=request,
        script_answer=answer, script_http_error=http_error, script_disconnect=disconnect,
        script_unknown_fields=unknown, script_renamed_field=rename, disconnects=lambda sim: sim.disconnects,
        script_garbled=garbled,
        **extra,
    )


def swappable_server() -> Iterator[tuple[_Swappable, str]]:
    """One uvicorn for a test session whose app each test swaps for a fresh simulator."""
    dispatch = _Swappable()
    with serve(dispatch) as url:
        yield dispatch, url


ADAPTERS: dict[str, ContractAdapter] = {
    "allenai": script_adapter(
        "allenai", "allenai_sim", lambda url, client: allenai.AllenAI(base_url=url, client=client),
        lambda: ChatRequest(model="olmo-3.1-32b-instruct", messages=(ChatMessage("user", "Hello"),)),
        renamed=("modelResponse", "content", "text"),
    ),
    # the same backend on a server of the middle generation, found by auto-detection
    "allenai@v4-threads": script_adapter(
        "allenai", "allenai_v4_threads_sim", lambda url, client: allenai.AllenAI(base_url=url, client=client),
        lambda: ChatRequest(model="olmo-3.1-32b-instruct", messages=(ChatMessage("user", "Hello"),)),
        renamed=("modelResponse", "content", "text"),
    ),
}
