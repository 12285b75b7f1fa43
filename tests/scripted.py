"""A provider that plays a script of events: for tests about the runner or a page, not a wire protocol.

``ScriptedProvider(events)`` answers every request with ``events`` (a Finished at the end is optional: the
stream is guarded like a backend's, so one is added), optionally after ``first_delay`` seconds, ``delay``
seconds apart, held at a ``gate`` until the test opens it, or ending in ``failure`` (a ProviderError raised
after the events, reported as ``Finished("error")`` with its record). It records the requests it got
(``requests``), the logins it was built with (``logins``) and whether its streams were closed (``closed``).

A runner uses it through its provider factory, the seam the application fills with its registry's ``create``:
``Runner(engine, provider_factory=scripted.factory)``, or ``Application(runner_options={"provider_factory": ...})``
as the fixture ``scripted_runner`` does.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import httpx
import pytest

from providers.base import ModelInfo, Provider, guarded
from providers.errors import ProviderError
from providers.events import ChatRequest, Event, TextDelta


class ScriptedProvider:
    """Plays ``events`` for every request (see the module docstring)."""

    def __init__(
        self,
        events: Sequence[Event] = (),
        *,
        name: str = "Scripted",
        delay: float = 0.0,
        first_delay: float = 0.0,
        failure: ProviderError | None = None,
        gate: threading.Event | None = None,
        models: Sequence[ModelInfo] = (),
    ) -> None:
        self.name = name
        self.events = list(events)
        self.delay, self.first_delay = delay, first_delay
        self.failure = failure
        self.gate = gate
        self.models = list(models)
        self.requests: list[ChatRequest] = []
        self.logins: list[Mapping[str, str] | None] = []
        self.started = threading.Event()  # set when a stream began (its request is recorded)
        self.closed = 0  # streams closed, whether they played to the end or were abandoned (cancel, deadline)

    def factory(self, _backend: str, _client: httpx.AsyncClient | None,
                credentials: Mapping[str, str] | None) -> Provider:
        """A ``runner.runner.ProviderFactory``: this provider, whatever backend the runner asks for."""
        self.logins.append(credentials)
        return self

    def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        self.requests.append(request)
        self.started.set()
        return guarded(self.name, self._play())

    async def _play(self) -> AsyncIterator[Event]:
        try:
            while self.gate is not None and not self.gate.is_set():  # noqa: ASYNC110 (opened by the test's thread)
                await asyncio.sleep(0.01)
            for number, event in enumerate(self.events):
                pause = self.first_delay if number == 0 else self.delay
                if pause:
                    await asyncio.sleep(pause)
                yield event
            if self.failure is not None:
                raise self.failure
        finally:
            self.closed += 1

    async def list_models(self) -> list[ModelInfo]:
        return list(self.models)


def words(texts: Sequence[str]) -> list[Event]:
    """A script of answer text, one delta per item."""
    return [TextDelta(text) for text in texts]


@pytest.fixture
def scripted() -> ScriptedProvider:
    """A provider that plays nothing until the test gives it events (``scripted.events = [...]``)."""
    return ScriptedProvider()


@pytest.fixture
def scripted_runner(engine: Any, scripted: ScriptedProvider) -> Iterator[Any]:
    """The runner of an application on the test's database (installed for the test) whose every backend is
    ``scripted``."""
    import application

    options = {"flush_interval": 0.05, "provider_factory": scripted.factory}
    app = application.install(application.Application(engine=engine, runner_options=options))
    yield app.runner
    application.reset()
