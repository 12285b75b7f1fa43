"""Any bytes, split anywhere, fed to either Ai2 Playground parser: only events come out, and the
only exceptions are ProviderErrors (never a KeyError, TypeError, AttributeError, …)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.allenai_wire import V4MessageParser, V5Parser, parse_stream
from providers.errors import ProviderError
from providers.events import Drift, Finished, ReasoningDelta, StateUpdate, TextDelta

EVENT_TYPES = (TextDelta, ReasoningDelta, StateUpdate, Drift, Finished)
PARSERS = [V5Parser, V4MessageParser]
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
    max_leaves=8,
)
texts = st.text(max_size=8)
ids = st.sampled_from(["msg_A1B2C3D4E5", "msg_Z9Y8X7W6V5"])


def often(good: st.SearchStrategy, odds: int = 5) -> st.SearchStrategy:
    """Usually (``odds`` to 1) a value of the right type, sometimes any JSON value."""
    return st.sampled_from([good] * odds + [json_values]).flatmap(lambda strategy: strategy)


messages = st.deferred(
    lambda: st.fixed_dictionaries(
        {"id": often(ids), "role": often(st.sampled_from(["user", "assistant", "assistant", "system"]))},
        optional={
            "content": often(texts),
            "thinking": often(texts),
            "finish_reason": often(st.sampled_from(["stop", "length"])),
            "children": often(st.lists(often(messages), max_size=2)),
            "final": often(st.booleans()),
        },
    )
)
message_lists = often(st.lists(often(messages), max_size=3))
V5_FIELDS = {  # the fields each line type carries (allenai-current.md §2.4)
    "start": {"message": ids},
    "startThread": {"message": ids, "id": ids, "messages": message_lists},
    "addMessage": {"message": ids, "id": ids, "messages": message_lists},
    "modelResponse": {"message": ids, "content": texts},
    "thinking": {"message": ids, "content": texts, "id": st.none()},
    "toolCall": {"message": ids, "toolCallId": texts, "toolName": texts, "args": json_values},
    "error": {"message": ids, "errorCode": texts, "errorDescription": texts, "errorSeverity": texts},
    "finalThread": {"message": ids, "id": ids, "messages": message_lists},
    "end": {"message": ids},
}


@st.composite
def v5_lines(draw: st.DrawFn) -> object:
    """A line of a known (or unknown) type whose fields are each usually present and well typed."""
    kind = draw(often(st.sampled_from([*V5_FIELDS, "addMessage", "modelResponse", "finalThread", "someNewType"]), 19))
    line: dict = {"type": kind} if draw(st.integers(0, 19)) else {}
    fields = V5_FIELDS.get(kind, {}) if isinstance(kind, str) else {}
    for key, good in fields.items():
        if draw(st.integers(0, 9)):
            line[key] = draw(often(good))
    return line


@st.composite
def v4_lines(draw: st.DrawFn) -> object:
    """A head/final message, a chunk or an error line of the seed protocol, usually well formed."""
    shape = draw(st.sampled_from(["message", "chunk", "error", "other"]))
    if shape == "message":
        line = draw(messages)
        if draw(st.booleans()):
            line["final"] = draw(often(st.booleans()))
        return line
    fields = {
        "chunk": {"message": ids, "content": texts, "logprobs": st.just([])},
        "error": {"message": ids, "error": texts, "reason": st.sampled_from(["length", "model overloaded"])},
        "other": {"keepalive": json_values},
    }[shape]
    return {key: draw(often(good)) for key, good in fields.items() if draw(st.integers(0, 9))}


@st.composite
def bodies(draw: st.DrawFn, shaped: st.SearchStrategy) -> bytes:
    """JSON lines mostly shaped like one protocol's, some other JSON, now and then raw garbage."""
    parts = []
    for line in draw(st.lists(often(shaped, 19), max_size=12)):
        separators = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
        parts.append(json.dumps(line, separators=separators).encode())
        if draw(st.integers(0, 9)) == 0:
            parts.append(draw(st.binary(max_size=20)))  # garbage: partial JSON, invalid UTF-8, blank…
    return b"\n".join(parts) + draw(st.sampled_from([b"", b"\n", b"\r\n"]))


@st.composite
def split(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in pairwise(edges)]


async def _source(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def check(parser_type: type, chunks: list[bytes]) -> None:
    parser = parser_type({"anonymous_user_id": "u"})

    async def drain() -> list[object]:
        return [event async for event in parse_stream(parser, _source(chunks))]

    try:
        events = asyncio.run(drain())
    except ProviderError:
        update = parser.fail_state()
        assert update is None or isinstance(update, StateUpdate)
        return
    assert all(isinstance(event, EVENT_TYPES) for event in events), events
    assert isinstance(events[-1], Finished)
    assert sum(isinstance(event, Finished) for event in events) == 1
    for event in events:
        if isinstance(event, TextDelta | ReasoningDelta):
            assert isinstance(event.text, str)
        if isinstance(event, StateUpdate):
            assert all(event.state[key] is None or isinstance(event.state[key], str) for key in ("parent", "thread_id"))


@FUZZ
@given(data=st.data(), raw=st.binary(max_size=300))
def test_random_bytes(data: st.DataObject, raw: bytes) -> None:
    chunks = data.draw(split(raw))
    for parser_type in PARSERS:
        check(parser_type, chunks)


@FUZZ
@given(data=st.data())
def test_v5_shaped_lines(data: st.DataObject) -> None:
    check(V5Parser, data.draw(split(data.draw(bodies(v5_lines())))))


@FUZZ
@given(data=st.data())
def test_v4_shaped_lines(data: st.DataObject) -> None:
    check(V4MessageParser, data.draw(split(data.draw(bodies(v4_lines())))))


def test_deeply_nested_json_is_drift_not_a_crash() -> None:
    for parser_type in PARSERS:
        check(parser_type, [b"[" * 100_000 + b"\n", b'{"type": "end"}\n'])


ODD_ASSISTANT = {"id": 7, "role": "assistant", "content": ["x"], "thinking": {"t": 1}}
ODD_V5 = [
    {"type": "start", "message": "r"},
    {"type": "addMessage", "messages": [None, 3, ODD_ASSISTANT]},
    {"type": "finalThread", "messages": [ODD_ASSISTANT, {"id": "msg_A1B2C3D4E5", "role": "assistant", "content": 5}]},
    {"type": "end"},
]
ODD_V4 = [
    {"children": [None, {"role": "assistant", "id": 9, "children": "no"}], "root": 4},
    {"final": True, "children": [{"role": "assistant", "id": "a", "content": 1}]},
]


def test_wrong_types_in_nested_fields_are_ignored() -> None:
    v5_events = asyncio.run(_events(V5Parser(), ODD_V5))
    assert v5_events == [
        StateUpdate({"protocol": "v5", "parent": "msg_A1B2C3D4E5", "thread_id": "r"}),
        Finished("stop"),
    ]
    v4_events = asyncio.run(_events(V4MessageParser(), ODD_V4))
    assert v4_events == [StateUpdate({"protocol": "v4-message", "parent": "a", "thread_id": None}), Finished("stop")]


async def _events(parser: V5Parser | V4MessageParser, objects: list) -> list[object]:
    chunks = [json.dumps(obj).encode() + b"\n" for obj in objects]
    return [event async for event in parse_stream(parser, _source(chunks))]
