"""Events as data: every event becomes a plain JSON record with a ``kind`` and back, exactly (providers/events.py),
and a Finished carries its error as a record made once from the provider's exception (providers/errors.py)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from providers.errors import (
    CredentialsError,
    HTTPStatusError,
    ProviderError,
    RequestError,
    UnavailableError,
    UnexpectedResponseError,
    UnknownModelError,
    error_info,
    status_error,
)
from providers.events import (
    KINDS,
    AnsweredBy,
    Drift,
    ErrorInfo,
    Event,
    Finished,
    Image,
    Notice,
    ReasoningDelta,
    Source,
    Sources,
    StateUpdate,
    TextDelta,
    Title,
    from_record,
    to_record,
)
from providers.huggingchat_wire import ImagesRefused
from runner.accumulator import Accumulator

text = st.text(max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=8)
error_kinds = st.sampled_from(["credentials", "http_status", "request", "unknown_model", "unavailable",
                               "unexpected_response", "provider", "internal", "reply_cut"])
error_infos = st.builds(
    ErrorInfo, kind=error_kinds, message=text, exception=text, backend=text,
    status=st.none() | st.integers(400, 599), retry_after=st.none() | st.floats(0, 1e6),
    snippet=text, about_backend=st.booleans())

EVENTS: dict[str, st.SearchStrategy[Any]] = {
    "text": st.builds(TextDelta, text, st.booleans()),
    "reasoning": st.builds(ReasoningDelta, text, st.none() | text),
    "sources": st.builds(Sources, st.lists(st.builds(Source, text, text), max_size=3).map(tuple)),
    "title": st.builds(Title, text),
    "image": st.builds(Image, text, text, text, st.none() | st.binary(max_size=64), text),
    "answered_by": st.builds(AnsweredBy, text, text, text),
    "notice": st.builds(Notice, text),
    "state": st.builds(StateUpdate, st.dictionaries(text, json_values, max_size=4)),
    "drift": st.builds(Drift, text, text),
    "finished": st.builds(Finished, st.sampled_from(["stop", "length", "error", "cancelled"]),
                          st.none() | error_infos, st.none() | st.dictionaries(text, st.integers(), max_size=3)),
}


def test_the_strategies_cover_every_event_kind() -> None:
    assert set(EVENTS) == set(KINDS)


@given(st.one_of(*EVENTS.values()))
def test_every_event_round_trips_through_a_json_record(event: Event) -> None:
    record = to_record(event)
    assert KINDS[record["kind"]] is type(event)
    assert from_record(json.loads(json.dumps(record))) == event


def test_an_images_bytes_travel_as_base64_and_are_absent_without_data() -> None:
    assert to_record(Image("https://x.example/a.png", "image/png", data=b"\x89PNG"))["data_b64"] == "iVBORw=="
    assert "data_b64" not in to_record(Image("https://x.example/a.png"))


def test_error_records_keep_what_their_readers_read() -> None:
    limited = status_error(429, "slow down", "Ai2", retry_after="7")
    assert error_info(limited) == ErrorInfo("http_status", "HTTP 429: rate limited (retry after 7 s): slow down",
                                            exception="HTTPStatusError", backend="Ai2", status=429, retry_after=7.0)
    unknown = error_info(UnknownModelError(404, "m", ["a"], backend="X"))
    assert (unknown.kind, unknown.status, unknown.about_backend) == ("unknown_model", 404, False)
    assert str(unknown) == "this server has no model 'm'; it offers a"
    assert error_info(RequestError(413, "too long")).kind == "request"
    assert error_info(CredentialsError("no token")).kind == "credentials"
    assert error_info(UnavailableError("down")).status is None
    drift = error_info(UnexpectedResponseError("changed", snippet="<html>"))
    assert (drift.kind, drift.snippet) == ("unexpected_response", "<html>")
    refused = error_info(ImagesRefused("text only"))  # a provider's own class: the nearest kind, its about_backend
    assert (refused.kind, refused.exception, refused.about_backend) == ("provider", "ImagesRefused", False)
    assert error_info(ProviderError("odd", backend="Y")).backend == "Y"
    bug = error_info(RuntimeError("Chatdeck failed"))
    assert (bug.kind, bug.backend, bug.message) == ("internal", "", "Chatdeck failed")


def test_a_record_without_words_names_its_exception_in_the_stored_error() -> None:
    turn = Accumulator()
    turn.apply(Finished("error", error=error_info(ProviderError(""))))
    assert turn.fields()["error"] == "ProviderError"


def test_a_status_error_record_is_not_http_for_other_kinds() -> None:
    assert error_info(HTTPStatusError(404, "gone")).status == 404
    assert error_info(UnavailableError("unreachable")).status is None
