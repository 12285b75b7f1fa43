"""api/v1_answer.py's framing of a run, over ASGI with runs whose events are already known.

The runs here are real ``runner.run.Run`` objects fed the events a provider would give; only the
runner's background task is absent, so a run can be over before the answer starts (a fast backend).
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from starlette.testclient import TestClient

from api.v1_answer import Answer
from api.v1_request import CompletionRequest
from providers.errors import HTTPStatusError, error_info
from providers.events import Event, Finished, ReasoningDelta, TextDelta
from runner.run import Run

MODEL = "huggingface/m"


def _answer(events: list[Event], *, stream: bool, include_usage: bool = False) -> tuple[int, str, dict[str, str]]:
    run = Run(7, "c" * 32, 1, "huggingface", "m")
    for event in events:
        run.publish(event)
    run.saved.set()
    request = CompletionRequest(MODEL, [], "Hi", stream=stream, include_usage=include_usage)

    async def endpoint(_request: Request) -> Answer:
        return Answer(run, request, MODEL, cancel_on_disconnect=False)

    with TestClient(Starlette(routes=[Route("/", endpoint, methods=["POST"])])) as client:
        response = client.post("/")
    return response.status_code, response.text, dict(response.headers)


def _data(body: str) -> list[object]:
    return [line[6:] if line == "data: [DONE]" else json.loads(line[6:])
            for line in body.split("\n\n") if line.startswith("data: ")]


def test_a_run_over_before_the_answer_starts_is_streamed_whole() -> None:
    status, body, headers = _answer([ReasoningDelta("Hmm."), TextDelta("Already "), TextDelta("done."),
                                     Finished("stop", usage={"prompt_tokens": 3, "completion_tokens": 2})],
                                    stream=True, include_usage=True)
    assert status == 200 and headers["x-chatdeck-conversation"] == "c" * 32
    events = _data(body)
    assert events[-1] == "[DONE]"
    chunks = [e for e in events if isinstance(e, dict)]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("content", "") for d in deltas) == "Already done."
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "Hmm."
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 5
    assert chunks[-1]["usage"]["chatdeck_estimated"] is False


def test_a_failure_after_text_streams_the_text_then_an_error_event_without_done() -> None:
    failed = Finished("error", error_info(HTTPStatusError(500, "boom")))
    status, body, _headers = _answer([TextDelta("Partial"), failed], stream=True)
    events = _data(body)
    assert status == 200 and "[DONE]" not in events
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-1]) == "Partial"  # type: ignore[index]
    assert events[-1]["error"]["code"] == "backend_error"  # type: ignore[index]
    assert "boom" in events[-1]["error"]["message"]  # type: ignore[index]


def test_a_failure_before_any_text_is_an_error_status_whole_or_streamed() -> None:
    for stream in (True, False):
        unknown = Finished("error", error_info(HTTPStatusError(404, "no such model")))
        status, body, headers = _answer([unknown], stream=stream)
        assert status == 404 and json.loads(body)["error"]["code"] == "model_not_found"
        assert headers["x-chatdeck-conversation"] == "c" * 32


def test_a_whole_answer_estimates_usage_when_the_backend_gives_none() -> None:
    status, body, _headers = _answer([TextDelta("12345678"), Finished("length")], stream=False)
    completion = json.loads(body)
    assert status == 200 and completion["object"] == "chat.completion"
    assert completion["choices"][0] == {"index": 0, "logprobs": None, "finish_reason": "length",
                                        "message": {"role": "assistant", "content": "12345678", "refusal": None}}
    assert completion["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3,
                                   "chatdeck_estimated": True}
