"""The provider contract, checked for every registered backend against its loopback simulator.

Each backend in providers.registry.BACKENDS needs an entry in tests.sim_fixtures.ADAPTERS; further
entries (``backend@variant``) run the contract against another server generation of a backend.
"""

from __future__ import annotations

import httpx
import pytest

from providers.events import Drift, Event, Finished, StateUpdate, TextDelta
from providers.registry import BACKENDS
from tests.sim_fixtures import ADAPTERS, ContractAdapter, SimHandle, collect, free_port, run, text_of, wait_for

CHUNKS = ["Hello", ", ", "world", "!\n\n", "Second ", "paragraph", " ünïcödé ✓."]


@pytest.fixture(params=sorted(set(BACKENDS) | set(ADAPTERS)))
def adapter(request: pytest.FixtureRequest) -> ContractAdapter:
    name = request.param
    if name not in ADAPTERS:
        pytest.fail(f"backend {name!r} has no contract adapter in tests/sim_fixtures.py")
    return ADAPTERS[name]


@pytest.fixture
def handle(adapter: ContractAdapter, request: pytest.FixtureRequest) -> SimHandle:
    return request.getfixturevalue(adapter.sim_fixture)


def stream(adapter: ContractAdapter, url: str, *, shared_client: bool = True) -> list[Event]:
    async def go() -> list[Event]:
        if not shared_client:
            return await collect(adapter.make_provider(url, None).stream(adapter.request()))
        async with httpx.AsyncClient() as client:
            events = await collect(adapter.make_provider(url, client).stream(adapter.request()))
            assert not client.is_closed, "the provider closed a client it was given"
            return events

    return run(go())


def assert_one_final(events: list[Event]) -> Finished:
    finals = [e for e in events if isinstance(e, Finished)]
    assert len(finals) == 1, events
    assert events[-1] is finals[0]
    return finals[0]


def test_every_backend_has_an_adapter() -> None:
    assert set(BACKENDS) <= set(ADAPTERS), set(BACKENDS) - set(ADAPTERS)


@pytest.mark.parametrize("shared_client", [True, False], ids=["shared-client", "own-client"])
def test_answer_streams_in_order_and_ends_once(
    adapter: ContractAdapter, handle: SimHandle, shared_client: bool
) -> None:
    adapter.script_answer(handle.sim, CHUNKS, 0.0)
    events = stream(adapter, handle.url, shared_client=shared_client)
    assert text_of(events) == "".join(CHUNKS)
    assert [e.text for e in events if isinstance(e, TextDelta)] == CHUNKS  # deltas are not merged or dropped
    final = assert_one_final(events)
    assert final.reason == "stop" and final.error is None
    updates = [e for e in events if isinstance(e, StateUpdate)]
    assert len(updates) == 1 and updates[0].state
    assert events.index(updates[0]) < len(events) - 1


@pytest.mark.parametrize("status", [400, 403, 429, 500, 503])
def test_http_error_becomes_finished_error(adapter: ContractAdapter, handle: SimHandle, status: int) -> None:
    message = f"simulated failure number {status}"
    adapter.script_http_error(handle.sim, status, message)
    events = stream(adapter, handle.url)
    final = assert_one_final(events)
    assert final.reason == "error"
    assert final.error.exception == adapter.error_classes[status].__name__, repr(final.error)
    assert message in str(final.error)
    assert not [e for e in events if isinstance(e, TextDelta)]


def test_disconnect_mid_stream_keeps_text_and_errors(adapter: ContractAdapter, handle: SimHandle) -> None:
    adapter.script_disconnect(handle.sim, CHUNKS, 3)
    events = stream(adapter, handle.url)
    assert text_of(events) == "".join(CHUNKS[:3])
    final = assert_one_final(events)
    assert final.reason == "error"
    assert final.error.kind == "unavailable", repr(final.error)


def test_unknown_fields_and_event_types_are_tolerated(adapter: ContractAdapter, handle: SimHandle) -> None:
    adapter.script_unknown_fields(handle.sim, CHUNKS)
    events = stream(adapter, handle.url)
    assert text_of(events) == "".join(CHUNKS)
    assert not [e for e in events if isinstance(e, Drift)], "unknown kinds are no drift: they stay silent"
    assert assert_one_final(events).reason == "stop"


def test_an_unreadable_line_mid_stream_is_marked_and_reading_goes_on(
    adapter: ContractAdapter, handle: SimHandle
) -> None:
    """Issue 13's one drift policy, the same for every backend: all text kept, one Drift, a normal end."""
    adapter.script_garbled(handle.sim, CHUNKS, 3)
    events = stream(adapter, handle.url)
    assert text_of(events) == "".join(CHUNKS)
    drifts = [e for e in events if isinstance(e, Drift)]
    assert len(drifts) == 1, events
    assert drifts[0].what == "a line that is not JSON" and "cut off by a broken proxy" in drifts[0].snippet
    final = assert_one_final(events)
    assert final.reason == "stop" and final.error is None


def test_renamed_required_field_is_reported_as_drift(adapter: ContractAdapter, handle: SimHandle) -> None:
    adapter.script_renamed_field(handle.sim, CHUNKS)
    events = stream(adapter, handle.url)
    final = assert_one_final(events)
    assert final.reason == "error"
    assert final.error.kind == "unexpected_response", repr(final.error)
    assert "changed" in str(final.error)


@pytest.mark.parametrize("shared_client", [True, False], ids=["shared-client", "own-client"])
def test_closing_early_closes_the_backend_connection(
    adapter: ContractAdapter, handle: SimHandle, shared_client: bool
) -> None:
    adapter.script_answer(handle.sim, [f"chunk {i} " for i in range(200)], 0.01)

    async def go() -> list[Event]:
        async with httpx.AsyncClient() as client:
            provider = adapter.make_provider(handle.url, client if shared_client else None)
            events = provider.stream(adapter.request())
            seen = []
            async for event in events:
                seen.append(event)
                if isinstance(event, TextDelta):
                    break
            await events.aclose()  # type: ignore[attr-defined]
            return seen

    seen = run(go())
    assert isinstance(seen[-1], TextDelta)
    assert wait_for(lambda: adapter.disconnects(handle.sim) == 1), "the simulator never saw the client go away"


def test_connection_refused_is_unavailable(adapter: ContractAdapter) -> None:
    events = stream(adapter, f"http://127.0.0.1:{free_port()}")
    final = assert_one_final(events)
    assert final.reason == "error"
    assert final.error.kind == "unavailable", repr(final.error)
    assert final.error.kind != "internal" and final.error.backend
