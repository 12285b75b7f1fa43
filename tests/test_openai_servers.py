"""Other OpenAI-compatible servers than Hugging Face's router, over loopback: llama.cpp's llama-server and the
LiteLLM proxy (simulators/openai_compat.py flavors): free-form model ids, their stream shapes, unknown models
and refused requests, which leave the backend's state alone, and the backend named after its URL."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy.engine import Engine

from providers import registry
from providers.base import Guarded
from providers.errors import HTTPStatusError, error_info
from providers.events import ChatMessage, ChatRequest, Finished, TextDelta
from providers.openai_compatible import OpenAICompatible, host_of, is_listed
from runner import backend_health, health
from runner.runner import Runner
from simulators.common import ForcedError
from simulators.openai_compat import OpenAICompatSimulator, SimModel
from storage import repository as repo
from storage.db import session
from tests.sim_fixtures import SimHandle, _Swappable, collect, run, text_of

GGUF = "/models/qwen2.5-0.5b-instruct-q4_k_m.gguf"
OLLAMA_ID = "llama3.2:1b"
ROUTED = "groq/llama-3.1-8b-instant:groq"  # publisher/name:provider, as LiteLLM may list it
LITELLM_MODELS = [SimModel(OLLAMA_ID), SimModel(ROUTED), SimModel("gpt-4o-mini")]
OVERFLOW = "exceeds the available context size (5 tokens), try increasing it"


def serve_flavor(server: tuple[_Swappable, str], flavor: str, models: list[SimModel]) -> SimHandle:
    dispatch, url = server
    sim = OpenAICompatSimulator(flavor=flavor, models=models, require_auth=False)
    dispatch.app = sim.app
    return SimHandle(url + "/v1", sim)


@pytest.fixture
def llama(huggingface_server: tuple[_Swappable, str]) -> SimHandle:
    return serve_flavor(huggingface_server, "llama-server", [SimModel(GGUF)])


@pytest.fixture
def litellm(huggingface_server: tuple[_Swappable, str]) -> SimHandle:
    return serve_flavor(huggingface_server, "litellm", LITELLM_MODELS)


def ask(handle: SimHandle, model: str, prompt: str = "Hello") -> list[object]:
    provider = OpenAICompatible(base_url=handle.url, display_name="OpenAI-compatible server at test")
    return run(collect(Guarded(provider).stream(ChatRequest(model=model, messages=(ChatMessage("user", prompt),)))))


def finished(events: list[object]) -> Finished:
    assert isinstance(events[-1], Finished)
    return events[-1]


def test_llama_server_a_path_id_and_its_stream_shape(llama: SimHandle) -> None:
    llama.sim.script.chunks = ["Hello", " there"]
    events = ask(llama, GGUF)
    assert text_of(events) == " Hello there"  # its leading space is the model's, kept
    assert finished(events).reason == "stop"
    assert finished(events).usage == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    assert llama.sim.chat_requests()[-1].json_body["model"] == GGUF
    body = {"model": "any value", "messages": [{"role": "user", "content": "Hi"}], "stream": True,
            "stream_options": {"include_usage": True}}
    wire = httpx.post(llama.url + "/chat/completions", json=body, timeout=10).text  # as the server writes it
    assert '"delta":{"role":"assistant","content":null}' in wire
    assert '"choices":[],"usage"' in wire and '"timings"' in wire


def test_llama_server_context_overflow_is_that_requests_error(llama: SimHandle) -> None:
    llama.sim.script.context_size = 5
    error = finished(ask(llama, GGUF, "one two three four five six seven")).error
    assert error is not None and error.kind == "request" and error.status == 400 and not error.about_backend
    assert "request (7 tokens) " + OVERFLOW in str(error)


@pytest.mark.parametrize("model", [OLLAMA_ID, ROUTED])
def test_litellm_free_form_ids_are_sent_as_listed(litellm: SimHandle, model: str) -> None:
    events = ask(litellm, model)
    assert finished(events).reason == "stop" and [e for e in events if isinstance(e, TextDelta)]
    assert litellm.sim.chat_requests()[-1].json_body["model"] == model
    assert finished(events).usage is not None  # LiteLLM's usage rides on a chunk with choices


def test_litellm_unknown_model_lists_what_the_server_offers(litellm: SimHandle) -> None:
    error = finished(ask(litellm, "llama3.2:70b")).error
    assert error is not None and error.kind == "unknown_model" and error.status == 400 and not error.about_backend
    assert str(error) == f"this server has no model 'llama3.2:70b'; it offers {OLLAMA_ID}, {ROUTED}, gpt-4o-mini"


def test_without_a_list_the_servers_words_decide(litellm: SimHandle) -> None:
    litellm.sim.script.models_error = ForcedError(500, "list unavailable")
    error = finished(ask(litellm, "nope")).error
    assert error is not None and error.kind == "unknown_model" and "it offers" not in str(error)  # no list
    assert "this server has no model 'nope'" in str(error) and "Invalid model name passed" in str(error)


def test_a_404_for_a_listed_model_is_not_an_unknown_model(litellm: SimHandle) -> None:
    litellm.sim.script.http_error = ForcedError(404, "Not Found")  # e.g. a URL missing its /v1: the backend's fault
    error = finished(ask(litellm, OLLAMA_ID)).error
    assert error is not None and error.kind == "http_status" and error.about_backend and "/v1" in str(error)
    litellm.sim.script.http_error = ForcedError(404, "Model is not served by any provider")  # that request's
    error = finished(ask(litellm, OLLAMA_ID)).error
    assert error is not None and error.kind == "request" and f"model '{OLLAMA_ID}' is not available" in str(error)


@pytest.mark.parametrize(("status", "words"), [(413, "too large"), (422, "refused the request as invalid")])
def test_413_and_422_are_request_errors(litellm: SimHandle, status: int, words: str) -> None:
    litellm.sim.script.http_error = ForcedError(status, "Simulated refusal")
    error = finished(ask(litellm, OLLAMA_ID)).error
    assert error is not None and error.kind == "request" and words in str(error) and not error.about_backend


def test_ids_are_listed_exactly_or_with_a_routing_suffix() -> None:
    assert is_listed(OLLAMA_ID, [OLLAMA_ID]) and not is_listed(OLLAMA_ID, ["llama3.2"])
    assert is_listed("openai/gpt-oss-120b:cheapest", ["openai/gpt-oss-120b"])
    assert not is_listed("a/b:x:y", ["a/b"])


# --- the backend's name ------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "kind", "name"), [
    ("https://router.huggingface.co/v1", "auto", "Hugging Face"),
    ("http://127.0.0.1:8080/v1", "auto", "OpenAI-compatible server at 127.0.0.1:8080"),
    ("https://user:secret@llm.example.org/v1", "auto", "OpenAI-compatible server at llm.example.org"),
    ("http://127.0.0.1:8080/v1", "huggingface", "Hugging Face"),  # a proxy or simulator of the router
    ("https://router.huggingface.co/v1", "openai", "OpenAI-compatible server at router.huggingface.co"),
])
def test_the_backend_is_named_after_its_url(monkeypatch: pytest.MonkeyPatch, url: str, kind: str, name: str) -> None:
    monkeypatch.setenv("CHATDECK_HF_URL", url)
    monkeypatch.setenv("CHATDECK_HF_KIND", kind)
    info = registry.backend("huggingface")
    assert info.display_name == name and registry.all_backends()["huggingface"].display_name == name
    if name == "Hugging Face":
        assert info.needs_credentials and "Hugging Face token" in [f.label for f in info.credential_fields]
    else:
        assert "secret" not in info.description and host_of(url) in info.description
        assert not info.needs_credentials and [f.label for f in info.credential_fields] == ["API key"]
        assert "Hugging Face" not in info.description + info.setup_help
        assert [m.id for m in info.fallback_models] == ["default"]


def test_its_errors_name_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATDECK_HF_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("CHATDECK_HF_KIND", "auto")
    events = run(collect(registry.create("huggingface").stream(
        ChatRequest(model=OLLAMA_ID, messages=(ChatMessage("user", "Hi"),)))))
    error = finished(events).error
    assert error is not None and error.kind == "unavailable"
    assert str(error).startswith("OpenAI-compatible server at 127.0.0.1:9 is unreachable")


# --- the runner: backend state and the model list --------------------------------------------------


def hf_runner(engine: Engine, handle: SimHandle, monkeypatch: pytest.MonkeyPatch) -> Runner:
    monkeypatch.setenv("CHATDECK_HF_URL", handle.url)
    monkeypatch.setenv("CHATDECK_HF_KIND", "auto")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return Runner(engine, flush_interval=0.05)


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time limit"
        time.sleep(0.02)


def chat(runner: Runner, engine: Engine, model: str, prompt: str) -> tuple[int, str]:
    """Send ``prompt`` in a new conversation and wait for the saved reply: (owner, its error text)."""
    with session(engine) as s:
        owner = repo.local_user(s).id
        conversation = repo.create_conversation(s, owner, provider="huggingface", model=model)
    reply = runner.start(owner_id=owner, conversation_id=conversation.id, provider="huggingface", model=model,
                         prompt=prompt)
    assert reply.saved.wait(10)
    with session(engine) as s:
        message = repo.recent_messages(s, owner, conversation.id)[-1]
    return owner, message.error or ""


def test_a_requests_own_problem_does_not_mark_the_backend_failing(
    engine: Engine, llama: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = hf_runner(engine, llama, monkeypatch)
    monkeypatch.setattr("storage.db.get_engine", lambda: engine)  # what reading() connects with
    try:
        owner, error = chat(runner, engine, GGUF, "Hello")
        assert error == "" and backend_health.states(owner)["huggingface"] == health.READY
        llama.sim.script.context_size = 5
        owner, error = chat(runner, engine, GGUF, "a prompt far too long for it")
        assert OVERFLOW in error  # that reply's error, in the server's words
        assert backend_health.states(owner)["huggingface"] == health.READY  # the backend is fine
        llama.sim.script.context_size, llama.sim.script.http_error = None, ForcedError(500, "crashed")
        owner, error = chat(runner, engine, GGUF, "Hello")
        assert backend_health.states(owner)["huggingface"] == health.FAILING  # its health does move it
    finally:
        runner.shutdown()


def test_an_unknown_model_and_check_now_refresh_the_model_list(
    engine: Engine, litellm: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = hf_runner(engine, litellm, monkeypatch)
    catalog = runner.catalog
    try:
        wait_until(catalog.idle)
        assert [m.id for m in catalog.models("huggingface")] == [m.id for m in LITELLM_MODELS]
        litellm.sim.models["qwen3:8b"] = SimModel("qwen3:8b")  # the admin added one since
        _owner, error = chat(runner, engine, "qwen3:4b", "Hello")
        assert error.startswith("this server has no model 'qwen3:4b'; it offers") and "qwen3:8b" in error
        wait_until(lambda: "qwen3:8b" in [m.id for m in catalog.models("huggingface")])

        del litellm.sim.models[OLLAMA_ID]  # and removed one
        assert runner.check("huggingface", None).ok
        wait_until(lambda: OLLAMA_ID not in [m.id for m in catalog.models("huggingface")])
    finally:
        runner.shutdown()


def test_custom_endpoints_follow_the_same_rules(engine: Engine, litellm: SimHandle) -> None:
    import application
    from storage import endpoints

    with session(engine) as s:
        endpoints.add(s, display_name="Team LiteLLM", base_url=litellm.url)
    application.install(application.Application(engine=engine))  # its registry lists the endpoints
    registry.refresh()
    try:
        request = ChatRequest(model="llama3.2:70b", messages=(ChatMessage("user", "Hi"),))
        error = finished(run(collect(registry.create("custom-team-litellm").stream(request)))).error
        assert error is not None and error.kind == "unknown_model" and not error.about_backend
        assert error.backend == "Team LiteLLM"
        assert str(error).startswith(f"this server has no model 'llama3.2:70b'; it offers {OLLAMA_ID}")
        outcome = health.from_finished(registry.backend("custom-team-litellm"), Finished("error", error=error),
                                       had_login=False)
        assert outcome is None  # nothing recorded: the backend's state stays what it was
    finally:
        application.reset()


@pytest.mark.parametrize(("url", "fix"), [
    ("https://router.huggingface.co/v1", "Add your Hugging Face token in Settings."),
    ("http://127.0.0.1:8080/v1", "Add your OpenAI-compatible server at 127.0.0.1:8080 API key in Settings."),
])
def test_the_fix_for_a_missing_key_names_the_backend_once(monkeypatch: pytest.MonkeyPatch, url: str, fix: str) -> None:
    monkeypatch.setenv("CHATDECK_HF_URL", url)
    monkeypatch.setenv("CHATDECK_HF_KIND", "auto")
    error = HTTPStatusError(401, "Unauthorized")
    assert health.from_error(registry.backend("huggingface"), error_info(error), had_login=False).fix == fix


def test_a_young_list_is_not_fetched_again_for_an_unlisted_rest_id(
    engine: Engine, litellm: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = hf_runner(engine, litellm, monkeypatch)
    try:
        wait_until(runner.catalog.idle)
        fetches = len([r for r in litellm.sim.requests if r.path.endswith("/models")])
        assert runner.catalog.refresh_soon("huggingface", older_than=3600) is None  # younger than an hour
        future = runner.catalog.refresh_soon("huggingface", older_than=0)
        assert future is not None
        future.result(10)
        assert len([r for r in litellm.sim.requests if r.path.endswith("/models")]) == fetches + 1
    finally:
        runner.shutdown()
