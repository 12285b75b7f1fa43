"""Every error class of the ``/v1`` API as the matching exception of the official ``openai`` package, and the
OpenAPI description (the app and simulators as in tests/test_openai_v1.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from simulators.common import ForcedError
from storage import repository as repo
from storage import usage as usage_store
from storage.db import session
from tests.v1_fixtures import MODELS, V1Env, start_v1_env

HF = f"huggingface/{MODELS['huggingface']}"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[V1Env]:
    yield from start_v1_env(tmp_path_factory.mktemp("v1-errors"))


@pytest.fixture(autouse=True)
def fresh_scripts(env: V1Env) -> None:
    env.fresh_scripts()


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


# --- errors, each as the matching openai exception ---------------------------------------------------


def test_a_bad_token_is_an_authentication_error(env: V1Env) -> None:
    client = env.client(token="not-a-token")
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model=HF, messages=ask("Hi"))
    assert caught.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_a_disabled_backend_or_a_missing_login_is_permission_denied(env: V1Env) -> None:
    with pytest.raises(openai.PermissionDeniedError) as caught:
        env.client().chat.completions.create(model=f"custom-off/{MODELS['huggingface']}", messages=ask("Hi"))
    assert caught.value.code == "backend_disabled"
    with pytest.raises(openai.PermissionDeniedError) as caught:  # Bob saved no HailuoAI login
        env.client("bob").chat.completions.create(model="hailuo/minimax", messages=ask("Hi"))
    assert caught.value.code == "backend_login_required" and "Settings" in caught.value.message
    with session(env.engine) as s:
        assert repo.list_conversations(s, env.users["bob"]) == []  # refused before anything was saved


def test_an_unknown_model_is_not_found(env: V1Env) -> None:
    for model in ("nosuch/model", "huggingface/", "allenai"):
        with pytest.raises(openai.NotFoundError) as caught:
            env.client().chat.completions.create(model=model, messages=ask("Hi"))
        assert caught.value.code == "model_not_found" and caught.value.param == "model"


@pytest.mark.parametrize(("extra", "param"), [
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools"),
    ({"n": 2}, "n"), ({"logprobs": True}, "logprobs"), ({"stop": ["END"]}, "stop"),
    ({"response_format": {"type": "json_object"}}, "response_format"),
])
def test_an_unsupported_parameter_is_a_bad_request_naming_it(env: V1Env, extra: dict[str, object], param: str) -> None:
    before = len(env.sims["huggingface"].chat_requests())
    with pytest.raises(openai.BadRequestError) as caught:
        env.client().chat.completions.create(model=HF, messages=ask("Hi"), **extra)
    assert caught.value.code == "unsupported_parameter" and caught.value.param == param
    assert param in caught.value.message
    assert len(env.sims["huggingface"].chat_requests()) == before  # nothing was sent


def test_a_body_over_the_size_limit_is_refused_while_it_is_read(env: V1Env) -> None:
    response = httpx.post(env.app.url + "/v1/chat/completions", timeout=30,
                          headers={"Authorization": f"Bearer {env.token()}", "Content-Type": "application/json"},
                          content=b'{"model": "x", "pad": "' + b"a" * (17 * 1024 * 1024) + b'"}')
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"


def test_a_tool_message_is_a_bad_request(env: V1Env) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        env.client().chat.completions.create(model=HF, messages=[
            *ask("Hi"), {"role": "tool", "content": "42", "tool_call_id": "x"}])
    assert caught.value.param == "messages[1].role"


def test_over_the_users_limit_is_a_rate_limit_error_with_retry_after(env: V1Env) -> None:
    with session(env.engine) as s:
        usage_store.set_rate_limit(s, env.users["carol"], 1)
    client = env.client("carol")
    client.chat.completions.create(model=HF, messages=ask("One"))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=HF, messages=ask("Two"))
    assert caught.value.code == "rate_limit_exceeded"
    assert 1 <= int(caught.value.response.headers["retry-after"]) <= 60


@pytest.mark.parametrize(("error", "status", "exception", "code"), [
    (ForcedError.rate_limited(7), 429, openai.RateLimitError, "backend_rate_limited"),
    (ForcedError(500, "Model crashed"), 502, openai.InternalServerError, "backend_error"),
    (ForcedError(503, "Overloaded"), 503, openai.InternalServerError, "backend_unavailable"),
])
def test_a_backend_failure_is_the_matching_status(
    env: V1Env, error: ForcedError, status: int, exception: type[openai.APIStatusError], code: str
) -> None:
    for stream in (False, True):
        env.sims["huggingface"].script.http_error = error
        with pytest.raises(exception) as caught:
            response = env.client().chat.completions.create(model=HF, messages=ask("Hi"), stream=stream)
            list(response)  # type: ignore[call-overload]
        assert isinstance(caught.value, openai.APIStatusError)
        assert caught.value.status_code == status and caught.value.code == code
        assert caught.value.response.headers["x-chatdeck-conversation"]  # the failed reply is saved there
    if status == 429:
        assert caught.value.response.headers["retry-after"] == "7"


def test_a_failure_after_the_stream_started_raises_during_iteration(env: V1Env) -> None:
    sim = env.sims["huggingface"]
    sim.script.chunks, sim.script.error_after = ["Partial ", "text ", "never"], 1
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in env.client().chat.completions.create(model=HF, messages=ask("Fail midway"), stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "Partial "
    assert "Simulated model failure" in caught.value.message


def test_the_openapi_description_has_the_v1_paths(env: V1Env) -> None:
    spec = httpx.get(env.app.url + "/api/openapi.json", timeout=10).json()
    chat = spec["paths"]["/v1/chat/completions"]["post"]
    assert set(chat["responses"]) >= {"200", "400", "401", "403", "404", "429", "502", "503"}
    assert {p["name"] for p in chat["parameters"]} == {"X-Chatdeck-Conversation", "X-Chatdeck-On-Disconnect"}
    assert spec["paths"]["/v1/models"]["get"]["responses"]["200"]
    assert spec["components"]["schemas"]["OpenAIError"]["properties"]["error"]["required"] == [
        "message", "type", "code"]
