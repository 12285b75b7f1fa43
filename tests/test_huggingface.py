"""Hugging Face (OpenAI-compatible) specifics over loopback: wire format, reasoning, usage, finish
reasons, every error status, timeouts, model lists, the runner storing usage, custom endpoints."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from providers import registry
from providers.base import Guarded
from providers.errors import (
    CredentialsError,
    HTTPStatusError,
    ProviderError,
    RequestError,
    UnavailableError,
)
from providers.events import ChatMessage, ChatRequest, Event, Finished, Options, ReasoningDelta, StateUpdate
from providers.openai_compatible import OpenAICompatible, is_model_id
from providers.openai_wire import ChunkParser, SSEReader
from runner.runner import Runner
from simulators.common import ForcedError
from simulators.openai_compat import SIM_TOKEN, OpenAICompatSimulator
from simulators.serve import serve
from storage import backend_states, endpoints
from storage import repository as repo
from storage.db import session
from tests.sim_fixtures import SimHandle, collect, free_port, run, text_of

MODEL = "meta-llama/Llama-3.3-70B-Instruct"
HISTORY = (ChatMessage("user", "Hi"), ChatMessage("assistant", "Hello!"), ChatMessage("user", "And Paris?"))


def stream(handle: SimHandle, request: ChatRequest, token: str | None = SIM_TOKEN, **kwargs: object) -> list[Event]:
    return run(collect(Guarded(OpenAICompatible(base_url=handle.url, token=token, **kwargs)).stream(request)))  # type: ignore[arg-type]


def final(events: list[Event]) -> Finished:
    assert isinstance(events[-1], Finished)
    return events[-1]


def test_whole_history_options_and_token_are_sent(huggingface_sim: SimHandle) -> None:
    request = ChatRequest(model=MODEL + ":fastest", messages=HISTORY,
                          options=Options(temperature=0.3, top_p=0.9, max_tokens=50))
    events = stream(huggingface_sim, request)
    sent = huggingface_sim.sim.chat_requests()[-1]
    assert sent.headers["authorization"] == f"Bearer {SIM_TOKEN}"
    body = sent.json_body
    assert body["messages"] == [{"role": m.role, "content": m.content} for m in HISTORY]
    assert (body["model"], body["stream"], body["temperature"], body["top_p"], body["max_tokens"]) == (
        MODEL + ":fastest", True, 0.3, 0.9, 50)
    assert [e for e in events if isinstance(e, StateUpdate)] == [StateUpdate({"model": MODEL + ":fastest"})]
    assert final(events).reason == "stop"


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_in_either_field_and_usage(huggingface_sim: SimHandle, field: str) -> None:
    huggingface_sim.sim.script.reasoning_field = field
    huggingface_sim.sim.script.thinking = "Think first then answer"
    huggingface_sim.sim.script.chunks = ["Forty", "-two"]
    events = stream(huggingface_sim, ChatRequest(model="openai/gpt-oss-120b", messages=HISTORY))
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "Think first then answer"
    assert text_of(events) == "Forty-two"
    assert final(events).usage == {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}


def test_length_finish_reason(huggingface_sim: SimHandle) -> None:
    huggingface_sim.sim.script.finish_reason = "length"
    assert final(stream(huggingface_sim, ChatRequest(model=MODEL, messages=HISTORY))).reason == "length"


def test_finish_without_done_is_accepted_but_a_cut_body_is_not(huggingface_sim: SimHandle) -> None:
    huggingface_sim.sim.script.send_done = False
    assert final(stream(huggingface_sim, ChatRequest(model=MODEL, messages=HISTORY))).reason == "stop"
    parser = ChunkParser("X")
    parser.feed('{"choices": [{"delta": {"content": "half"}}]}')
    with pytest.raises(UnavailableError, match="mid-answer"):
        parser.close()


@pytest.mark.parametrize(("forced", "cls", "words"), [
    (ForcedError(402, "You have exceeded your monthly included credits"), HTTPStatusError, "out of credits"),
    (ForcedError(422, "Input validation error"), RequestError, "refused the request as invalid"),
    (ForcedError(429, "Rate limit", headers={"Retry-After": "9"}), HTTPStatusError, "retry after 9 s"),
    (ForcedError(500, "Internal error"), HTTPStatusError, "HTTP 500"),
    (ForcedError(502, "Bad gateway"), UnavailableError, "unavailable"),
    (ForcedError(504, "Timeout"), UnavailableError, "unavailable"),
])
def test_error_statuses_say_what_to_do(huggingface_sim: SimHandle, forced: ForcedError, cls: type, words: str) -> None:
    huggingface_sim.sim.script.http_error = forced
    error = final(stream(huggingface_sim, ChatRequest(model=MODEL, messages=HISTORY))).error
    assert error.exception == cls.__name__ and words in str(error) and forced.message in str(error)


def test_bad_token_unknown_model_and_invalid_body_from_the_strict_server(huggingface_sim: SimHandle) -> None:
    bad = final(stream(huggingface_sim, ChatRequest(model=MODEL, messages=HISTORY), token="hf_wrong")).error
    assert bad.kind == "credentials" and "check the token" in str(bad)
    unknown = final(stream(huggingface_sim, ChatRequest(model="nobody/nothing", messages=HISTORY))).error
    assert unknown.kind == "unknown_model" and unknown.status == 404
    assert "has no model 'nobody/nothing'" in str(unknown)
    invalid = final(stream(huggingface_sim, ChatRequest(model=MODEL, messages=HISTORY,
                                                        options=Options(temperature=7.0)))).error
    assert invalid.status == 422 and "temperature" in str(invalid)


def test_error_mid_answer_keeps_the_partial_text(huggingface_sim: SimHandle) -> None:
    huggingface_sim.sim.script.chunks, huggingface_sim.sim.script.error_after = ["Par", "tial", "!"], 2
    events = stream(huggingface_sim, ChatRequest(model=MODEL, messages=HISTORY))
    assert text_of(events) == "Partial"
    assert final(events).error.kind == "unavailable" and "Simulated model failure" in str(final(events).error)


def test_slow_first_byte_is_waited_for_within_the_timeout(huggingface_sim: SimHandle) -> None:
    huggingface_sim.sim.script.first_byte_delay = 0.4
    huggingface_sim.sim.script.chunks = ["late"]
    assert text_of(stream(huggingface_sim, ChatRequest(model=MODEL, messages=HISTORY))) == "late"
    short = httpx.Timeout(connect=2.0, read=0.1, write=2.0, pool=2.0)
    error = final(stream(huggingface_sim, ChatRequest(model=MODEL, messages=HISTORY), timeout=short)).error
    assert error.kind == "unavailable" and "timed out" in str(error)


def test_connection_refused_names_the_backend() -> None:
    provider = OpenAICompatible(base_url=f"http://127.0.0.1:{free_port()}/v1", token="x")
    error = final(run(collect(Guarded(provider).stream(ChatRequest(model=MODEL, messages=HISTORY))))).error
    assert error.kind == "unavailable" and "Hugging Face is unreachable" in str(error)


def test_model_list(huggingface_sim: SimHandle) -> None:
    models = run(OpenAICompatible(base_url=huggingface_sim.url, token=SIM_TOKEN).list_models())
    assert MODEL in [m.id for m in models]
    assert [m.id for m in models if m.vision] == ["google/gemma-3-27b-it"]
    with pytest.raises(CredentialsError):
        run(OpenAICompatible(base_url=huggingface_sim.url, token=None).list_models())


@pytest.mark.parametrize(("model", "ok"), [
    (MODEL, True), (MODEL + ":cheapest", True), ("Qwen/Qwen2.5-7B:together", True), ("noslash", False),
    ("a/b/c", False), ("/name", False), ("pub/na me", False), ("pub/name:a:b", False), ("-pub/name", False),
])
def test_model_id_shape(model: str, ok: bool) -> None:
    assert is_model_id(model) is ok


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=60), max_size=8))
def test_sse_parsing_never_fails_with_anything_but_a_provider_error(pieces: list[bytes]) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for piece in pieces:
            yield piece

    async def go() -> None:
        parser = ChunkParser("Fuzz")
        async for data in SSEReader().events(chunks()):
            parser.feed(data)
        parser.close()

    with contextlib.suppress(ProviderError):  # anything else escaping is a bug
        asyncio.run(go())


def test_runner_stores_usage_and_reasoning(engine: Engine, huggingface_sim: SimHandle) -> None:
    huggingface_sim.sim.script.chunks, huggingface_sim.sim.script.thinking = ["Done."], "Hmm"
    runner = Runner(engine, flush_interval=0.05, provider_factory=lambda _name, client, creds: Guarded(OpenAICompatible(
        base_url=huggingface_sim.url, token=(creds or {}).get("token", SIM_TOKEN), client=client)))
    try:
        with session(engine) as s:
            owner = repo.local_user(s).id
            conversation = repo.create_conversation(s, owner, provider="huggingface", model="deepseek-ai/DeepSeek-R1")
        reply = runner.start(owner_id=owner, conversation_id=conversation.id, provider="huggingface",
                             model="deepseek-ai/DeepSeek-R1", prompt="Why?")
        assert reply.saved.wait(10)
        with session(engine) as s:
            message = repo.recent_messages(s, owner, conversation.id)[-1]
            assert (message.content, message.reasoning, message.status) == ("Done.", "Hmm", "complete")
            assert message.extra["usage"] == {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
            assert backend_states.get_backend_state(s, conversation.id, "huggingface", "deepseek-ai/DeepSeek-R1") == {
                "model": "deepseek-ai/DeepSeek-R1"}
    finally:
        runner.shutdown()


def test_a_custom_endpoint_is_a_backend_of_its_own(engine: Engine) -> None:
    ollama = OpenAICompatSimulator(require_auth=False)
    ollama.script.chunks = ["from ", "ollama"]
    vllm = OpenAICompatSimulator(tokens={"sk-vllm"})
    with serve(ollama.app) as ollama_url, serve(vllm.app) as vllm_url:
        with session(engine) as s:
            endpoints.add(s, display_name="Local Ollama", base_url=ollama_url + "/v1", models=[MODEL])
            endpoints.add(s, display_name="Team vLLM", base_url=vllm_url + "/v1/", api_key="sk-vllm")
        import application

        application.install(application.Application(engine=engine))  # its registry lists the endpoints
        registry.refresh()
        try:
            assert {"custom-local-ollama", "custom-team-vllm"} <= set(registry.all_backends())
            assert registry.backend("custom-local-ollama").display_name == "Local Ollama"
            request = ChatRequest(model=MODEL, messages=HISTORY)
            events = run(collect(registry.create("custom-local-ollama").stream(request)))
            assert text_of(events) == "from ollama" and "authorization" not in ollama.requests[-1].headers
            events = run(collect(registry.create("custom-team-vllm").stream(request)))
            assert final(events).reason == "stop"
            assert vllm.requests[-1].headers["authorization"] == "Bearer sk-vllm"
            assert "huggingface" in registry.BACKENDS and "custom-team-vllm" not in registry.BACKENDS
        finally:
            application.reset()
    with pytest.raises(KeyError):
        registry.backend("custom-local-ollama")
