"""The ``/v4/threads/`` parser under the same fuzzing as the other two Ai2 parsers
(tests/test_parsers_fuzz.py, whose strategies and checks it reuses): any bytes, split anywhere,
give only events, and the only exceptions are ProviderErrors."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from providers.allenai_threads import V4ThreadsParser
from tests.test_parsers_fuzz import FUZZ, bodies, check, ids, message_lists, often, split, texts, v5_lines


@st.composite
def v4_threads_lines(draw: st.DrawFn) -> object:
    """A typed line (v5's vocabulary), a type-less thread snapshot or a legacy error, usually well formed."""
    shape = draw(st.sampled_from(["typed", "typed", "snapshot", "legacy error"]))
    if shape == "typed":
        return draw(v5_lines())
    fields = {
        "snapshot": {"id": ids, "messages": message_lists},
        "legacy error": {"error": texts, "message": ids, "reason": st.sampled_from(["length", "Model http error"])},
    }[shape]
    return {key: draw(often(good)) for key, good in fields.items() if draw(st.integers(0, 9))}


@FUZZ
@given(data=st.data(), raw=st.binary(max_size=300))
def test_random_bytes(data: st.DataObject, raw: bytes) -> None:
    check(V4ThreadsParser, data.draw(split(raw)))


@FUZZ
@given(data=st.data())
def test_v4_threads_shaped_lines(data: st.DataObject) -> None:
    check(V4ThreadsParser, data.draw(split(data.draw(bodies(v4_threads_lines())))))


def test_deeply_nested_json_is_drift_not_a_crash() -> None:
    check(V4ThreadsParser, [b"[" * 100_000 + b"\n", b'{"type": "end"}\n'])
