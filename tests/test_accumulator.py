"""The accumulator: events in, one assistant turn out, partial or complete."""

import pytest

from providers.errors import HTTPStatusError, error_info
from providers.events import (
    Drift,
    Finished,
    Image,
    Notice,
    ReasoningDelta,
    Source,
    Sources,
    StateUpdate,
    TextDelta,
    Title,
)
from runner.accumulator import Accumulator


def test_text_reasoning_and_metadata_add_up() -> None:
    turn = Accumulator()
    for event in [
        ReasoningDelta("Think"), ReasoningDelta("ing.", status="done"),
        TextDelta("Hel"), TextDelta("lo"),
        Sources((Source("https://a.example", "A"),)),
        Sources((Source("https://a.example", "A again"), Source("https://b.example"))),
        Title("Greeting"), Image("https://img.example/1.png", "image/png", "a cat"),
        StateUpdate({"parent": "msg_1"}), StateUpdate({"parent": "msg_2"}),
    ]:
        turn.apply(event)
    assert turn.status == "streaming"
    turn.apply(Finished("stop", usage={"output_tokens": 3}))
    fields = turn.fields()
    assert fields["content"] == "Hello"
    assert fields["reasoning"] == "Thinking."
    assert fields["status"] == "complete"
    assert fields["error"] is None
    assert [s["url"] for s in fields["extra"]["sources"]] == ["https://a.example", "https://b.example"]
    assert fields["extra"]["title"] == "Greeting"
    assert fields["extra"]["images"][0]["alt"] == "a cat"
    assert fields["extra"]["usage"] == {"output_tokens": 3}
    assert turn.state == {"parent": "msg_2"}


def test_error_keeps_partial_text_and_names_the_cause() -> None:
    turn = Accumulator()
    turn.apply(TextDelta("Half an ans"))
    turn.apply(Finished("error", error=error_info(HTTPStatusError(503, "Service Unavailable"))))
    fields = turn.fields()
    assert fields["content"] == "Half an ans"
    assert fields["status"] == "error"
    assert fields["error"] == "HTTP 503: Service Unavailable"


@pytest.mark.parametrize(("reason", "status"), [("length", "complete"), ("cancelled", "cancelled")])
def test_finish_reasons_map_to_statuses(reason: str, status: str) -> None:
    turn = Accumulator()
    turn.apply(Finished(reason))  # type: ignore[arg-type]
    assert turn.status == status
    assert turn.fields()["finish_reason"] == reason


def test_nothing_may_follow_finished() -> None:
    turn = Accumulator()
    turn.apply(Finished("stop"))
    with pytest.raises(ValueError, match="after Finished"):
        turn.apply(TextDelta("late"))


def test_a_rewrite_replaces_the_text_so_far() -> None:
    turn = Accumulator()
    for event in [TextDelta("Helo wor"), TextDelta("Hello wor", replace=True), TextDelta("ld")]:
        turn.apply(event)
    assert turn.text == "Hello world"


def test_notices_are_kept_with_the_turn() -> None:
    turn = Accumulator()
    for event in [Notice("A new backend conversation was started."), TextDelta("Hi"), Finished("stop")]:
        turn.apply(event)
    assert turn.fields()["extra"]["notices"] == ["A new backend conversation was started."]
    assert "notices" not in Accumulator().fields()["extra"]


def test_unreadable_lines_mark_the_answer_without_their_snippet() -> None:
    turn = Accumulator()
    for event in [TextDelta("Kept"), Drift("a line that is not JSON", "{secret-ish"), TextDelta(" all"),
                  Drift("a line longer than 10 bytes", "xxxxxxxxxx"), Finished("stop")]:
        turn.apply(event)
    fields = turn.fields()
    assert (fields["content"], fields["status"]) == ("Kept all", "complete")
    assert fields["extra"]["unreadable"] == {"lines": 2, "note": "Part of this answer could not be read."}
    assert "secret-ish" not in str(fields)  # the snippet goes to the Backends page only, redacted
    assert turn.drift == Drift("a line that is not JSON", "{secret-ish")
    assert "unreadable" not in Accumulator().fields()["extra"]
