"""The OpenAI-compatible ``/v1`` API over real HTTP, driven by the official ``openai`` package.

The app runs as ``streamlit run`` in a subprocess with every built-in backend pointed at its simulator
(tests/v1_fixtures.py); each simulator records what Chatdeck sent it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import openai
import pytest

from providers import registry
from runner import health
from storage import health as health_store
from storage import repository as repo
from storage.db import session
from tests.sim_fixtures import wait_for
from tests.v1_fixtures import MODELS, V1Env, start_v1_env

HF = f"huggingface/{MODELS['huggingface']}"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[V1Env]:
    yield from start_v1_env(tmp_path_factory.mktemp("v1"))


@pytest.fixture(autouse=True)
def fresh_scripts(env: V1Env) -> None:
    env.fresh_scripts()


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


# --- answers ----------------------------------------------------------------------------------------


def test_a_whole_answer_is_one_chat_completion_saved_as_a_conversation(env: V1Env) -> None:
    env.sims["huggingface"].script.chunks = ["Paris ", "is the ", "capital."]
    raw = env.client().chat.completions.with_raw_response.create(
        model=HF, messages=ask("Capital of France?"), temperature=0.3, top_p=0.9, max_tokens=50)
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.model == HF
    choice = completion.choices[0]
    assert (choice.message.role, choice.message.content, choice.finish_reason) == (
        "assistant", "Paris is the capital.", "stop")
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    sent = env.sims["huggingface"].chat_requests()[-1].json_body
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"]) == (0.3, 0.9, 50)
    conversation = raw.headers["x-chatdeck-conversation"]
    assert completion.model_extra["chatdeck"]["conversation_id"] == conversation
    assert env.messages("alice", conversation) == [("user", "Capital of France?", "complete"),
                                                   ("assistant", "Paris is the capital.", "complete")]


def test_a_streamed_answer_is_framed_as_openai_frames_it(env: V1Env) -> None:
    env.sims["huggingface"].script.chunks = ["One ", "two ", "three."]
    stream = env.client().chat.completions.create(
        model=HF, messages=ask("Count"), stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" and c.model == HF for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "One two three."
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_the_stream_ends_with_done_and_carries_the_conversation_header(env: V1Env) -> None:
    env.sims["huggingface"].script.chunks = ["Short."]
    with httpx.stream("POST", env.app.url + "/v1/chat/completions", timeout=30,
                      headers={"Authorization": f"Bearer {env.token()}"},
                      json={"model": HF, "messages": ask("Hi"), "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        conversation = response.headers["x-chatdeck-conversation"]
        events = [line for line in response.iter_lines() if line]
    assert events[-1] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events)
    assert env.messages("alice", conversation)[-1] == ("assistant", "Short.", "complete")


def test_reasoning_streams_as_reasoning_content(env: V1Env) -> None:
    sim = env.sims["huggingface"]
    sim.script.chunks, sim.script.thinking = ["Answer."], "Think first."
    chunks = list(env.client().chat.completions.create(
        model="huggingface/deepseek-ai/DeepSeek-R1", messages=ask("Why?"), stream=True))
    reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks)
    assert reasoning.split() == ["Think", "first."]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Answer."
    whole = env.client().chat.completions.create(model="huggingface/deepseek-ai/DeepSeek-R1", messages=ask("Why?"))
    assert whole.choices[0].message.model_extra["reasoning_content"].split() == ["Think", "first."]


def test_a_length_cut_answer_finishes_with_length(env: V1Env) -> None:
    env.sims["huggingface"].script.chunks, env.sims["huggingface"].script.finish_reason = ["Cut"], "length"
    completion = env.client().chat.completions.create(model=HF, messages=ask("Long"), max_completion_tokens=1)
    assert completion.choices[0].finish_reason == "length"
    assert env.sims["huggingface"].chat_requests()[-1].json_body["max_tokens"] == 1


@pytest.mark.parametrize("backend", sorted(registry.BACKENDS))
def test_every_backend_answers_through_v1(env: V1Env, backend: str) -> None:
    assert backend in env.sims and backend in MODELS, f"tests/v1_fixtures.py needs a simulator for {backend}"
    env.sims[backend].script.chunks = ["Hello ", f"from {backend}."]
    stream = env.client().chat.completions.create(model=f"{backend}/{MODELS[backend]}",
                                                  messages=ask(f"Greet me, {backend}"), stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream) == f"Hello from {backend}."


# --- history ----------------------------------------------------------------------------------------


def _sent_text(env: V1Env, backend: str) -> str:
    """The text of the message the web backend's simulator received last."""
    sim = env.sims[backend]
    if backend == "huggingchat":
        return sim.sent()[-1]["inputs"]
    record = sim.chat_requests()[-1]
    form = dict(record.form) or {k: str(v) for k, v in (record.json_body or {}).items()}
    return form["msgContent" if backend == "hailuo" else "content"]


@pytest.mark.parametrize("backend", ["allenai", "huggingchat", "hailuo"])
def test_a_stateless_second_turn_continues_and_the_web_backend_gets_only_the_new_message(
    env: V1Env, backend: str
) -> None:
    client, model = env.client(), f"{backend}/{MODELS[backend]}"
    env.sims[backend].script.chunks = ["First ", "answer."]
    first = client.chat.completions.with_raw_response.create(model=model, messages=ask(f"First question {backend}"))
    answer = first.parse().choices[0].message.content
    assert answer == "First answer."
    env.sims[backend].script.chunks = ["Second ", "answer."]
    second = client.chat.completions.with_raw_response.create(model=model, messages=[
        *ask(f"First question {backend}"), {"role": "assistant", "content": answer},
        *ask("Second question")])
    assert second.parse().choices[0].message.content == "Second answer."
    assert _sent_text(env, backend) == "Second question"  # the backend's own conversation went on
    conversation = first.headers["x-chatdeck-conversation"]
    assert second.headers["x-chatdeck-conversation"] == conversation
    assert [m[:2] for m in env.messages("alice", conversation)] == [
        ("user", f"First question {backend}"), ("assistant", "First answer."),
        ("user", "Second question"), ("assistant", "Second answer.")]


def test_a_history_chatdeck_does_not_hold_starts_a_new_conversation_with_it(env: V1Env) -> None:
    env.sims["huggingface"].script.chunks = ["New."]
    raw = env.client().chat.completions.with_raw_response.create(model=HF, messages=[
        *ask("Never asked here"), {"role": "assistant", "content": "Never answered here"}, *ask("And now?")])
    sent = env.sims["huggingface"].chat_requests()[-1].json_body["messages"]
    assert [(m["role"], m["content"]) for m in sent] == [
        ("user", "Never asked here"), ("assistant", "Never answered here"), ("user", "And now?")]
    assert [m[:2] for m in env.messages("alice", raw.headers["x-chatdeck-conversation"])] == [
        ("user", "Never asked here"), ("assistant", "Never answered here"), ("user", "And now?"),
        ("assistant", "New.")]


def test_the_conversation_header_picks_a_conversation(env: V1Env) -> None:
    client = env.client()
    first = client.chat.completions.with_raw_response.create(model=HF, messages=ask("Remember blue"))
    conversation = first.headers["x-chatdeck-conversation"]
    second = client.chat.completions.with_raw_response.create(
        model=HF, messages=ask("Which colour?"), extra_headers={"X-Chatdeck-Conversation": conversation})
    assert second.headers["x-chatdeck-conversation"] == conversation
    assert [m[:2] for m in env.messages("alice", conversation)][2] == ("user", "Which colour?")
    sent = env.sims["huggingface"].chat_requests()[-1].json_body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]  # the stored history went along
    bob_sees = env.client("bob").chat.completions.with_raw_response  # another user's id is simply not found
    with pytest.raises(openai.NotFoundError) as caught:
        bob_sees.create(model=HF, messages=ask("Hi"), extra_headers={"X-Chatdeck-Conversation": conversation})
    assert caught.value.code == "conversation_not_found"


def test_a_system_message_is_folded_into_the_first_user_message_and_still_recognised(env: V1Env) -> None:
    client, model = env.client(), f"allenai/{MODELS['allenai']}"
    system = {"role": "system", "content": "Answer in one word."}
    env.sims["allenai"].script.chunks = ["Yes."]
    first = client.chat.completions.with_raw_response.create(model=model, messages=[system, *ask("Ready?")])
    assert _sent_text(env, "allenai") == "[System instructions]\nAnswer in one word.\n" \
                                         "[End of system instructions]\n\nReady?"
    second = client.chat.completions.with_raw_response.create(model=model, messages=[
        system, *ask("Ready?"), {"role": "assistant", "content": "Yes."}, *ask("Sure?")])
    assert second.headers["x-chatdeck-conversation"] == first.headers["x-chatdeck-conversation"]
    assert _sent_text(env, "allenai") == "Sure?"
    with session(env.engine) as s:  # the title is the user's question, not the instructions
        conversation = repo.get_conversation(s, env.users["alice"], first.headers["x-chatdeck-conversation"])
        assert conversation is not None and conversation.title == "Ready?"


# --- images -----------------------------------------------------------------------------------------

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
                       "AAAABJRU5ErkJggg==")
DATA_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


def _with_image(text: str) -> list[dict[str, object]]:
    return [{"role": "user", "content": [{"type": "text", "text": text},
                                         {"type": "image_url", "image_url": {"url": DATA_URL}}]}]


def test_an_image_reaches_a_vision_model(env: V1Env) -> None:
    env.sims["huggingface"].script.chunks = ["A pixel."]
    completion = env.client().chat.completions.create(model="huggingface/google/gemma-3-27b-it",
                                                      messages=_with_image("What is this?"))
    assert completion.choices[0].message.content == "A pixel."
    parts = env.sims["huggingface"].chat_requests()[-1].json_body["messages"][-1]["content"]
    assert {"type": "text", "text": "What is this?"} in parts
    assert [p["image_url"]["url"] for p in parts if p["type"] == "image_url"] == [DATA_URL]

    env.sims["allenai"].script.chunks = ["Molmo sees it."]
    env.client().chat.completions.create(model="allenai/molmo2-8b", messages=_with_image("And you?"))
    assert [f.data for f in env.sims["allenai"].chat_requests()[-1].files] == [PNG]


def test_an_image_for_a_text_only_model_or_from_a_url_is_refused(env: V1Env) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        env.client().chat.completions.create(model=HF, messages=_with_image("What is this?"))
    assert caught.value.code == "model_not_vision"
    remote = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://169.254.169.254/x"}}]}]
    with pytest.raises(openai.BadRequestError) as caught:
        env.client().chat.completions.create(model="huggingface/google/gemma-3-27b-it", messages=remote)
    assert caught.value.code == "invalid_image_url"


# --- the model list ---------------------------------------------------------------------------------


def test_models_lists_every_usable_backend_with_its_state(env: V1Env) -> None:
    with session(env.engine) as s:
        health_store.record(s, env.users["bob"], "allenai",
                            health.Outcome(False, health.RATE_LIMITED, "slow down", retry_after=600))
    models = {m.id: m for m in env.client("bob").models.list()}
    for backend, model in MODELS.items():
        entry = models[f"{backend}/{model}"]
        assert entry.owned_by == backend and entry.object == "model"
    assert not any(model_id.startswith("custom-off/") for model_id in models)  # switched off by an admin
    states = {m.owned_by: m.model_extra["chatdeck"]["state"] for m in models.values()}
    assert states["allenai"] == health.RATE_LIMITED
    assert states["hailuo"] == health.NEEDS_CREDENTIALS  # Bob has no HailuoAI login
    assert models["huggingface/google/gemma-3-27b-it"].model_extra["chatdeck"]["vision"] is True
    one = env.client("bob").models.retrieve(f"huggingchat/{MODELS['huggingchat']}")
    assert (one.id, one.owned_by) == (f"huggingchat/{MODELS['huggingchat']}", "huggingchat")
    with pytest.raises(openai.NotFoundError):
        env.client("bob").models.retrieve("nosuch/model")


# --- disconnects ------------------------------------------------------------------------------------


def _read_first_text_then_close(env: V1Env, headers: dict[str, str]) -> str:
    with httpx.stream("POST", env.app.url + "/v1/chat/completions", timeout=30,
                      headers={"Authorization": f"Bearer {env.token()}", **headers},
                      json={"model": HF, "messages": ask("A long story"), "stream": True}) as response:
        for line in response.iter_lines():
            if '"content": "w' in line:
                return response.headers["x-chatdeck-conversation"]
    raise AssertionError("no text arrived")


def _last_reply(env: V1Env, conversation: str) -> tuple[str, str, str]:
    return env.messages("alice", conversation)[-1]


def test_a_client_that_goes_away_does_not_lose_the_answer(env: V1Env) -> None:
    sim = env.sims["huggingface"]
    sim.script.chunks, sim.script.chunk_delay = [f"w{i} " for i in range(12)], 0.1
    conversation = _read_first_text_then_close(env, {})
    assert wait_for(lambda: _last_reply(env, conversation)[2] != "streaming", timeout=20)
    assert _last_reply(env, conversation) == ("assistant", "".join(f"w{i} " for i in range(12)), "complete")
    assert sim.disconnects == 0


def test_the_cancel_header_makes_a_disconnect_stop_the_backend_request(env: V1Env) -> None:
    sim = env.sims["huggingface"]
    sim.disconnects = 0
    sim.script.chunks, sim.script.chunk_delay = [f"w{i} " for i in range(40)], 0.1
    conversation = _read_first_text_then_close(env, {"X-Chatdeck-On-Disconnect": "cancel"})
    assert wait_for(lambda: sim.disconnects == 1, timeout=20)  # the simulator saw Chatdeck hang up
    assert wait_for(lambda: _last_reply(env, conversation)[2] != "streaming", timeout=20)
    _role, text, status = _last_reply(env, conversation)
    assert status == "cancelled" and text.startswith("w0 ") and len(text.split()) < 40



def test_the_cancel_header_also_stops_a_whole_answer_the_client_gave_up_on(env: V1Env) -> None:
    sim = env.sims["huggingface"]
    sim.disconnects = 0
    sim.script.chunks, sim.script.chunk_delay = [f"w{i} " for i in range(40)], 0.1  # four seconds at least
    with pytest.raises(httpx.ReadTimeout):  # the client hangs up long before the answer could be whole
        httpx.post(env.app.url + "/v1/chat/completions", timeout=httpx.Timeout(30, read=0.5),
                   headers={"Authorization": f"Bearer {env.token()}", "X-Chatdeck-On-Disconnect": "cancel"},
                   json={"model": HF, "messages": ask("A whole long story")})
    assert wait_for(lambda: sim.disconnects == 1, timeout=20)
    with session(env.engine) as s:
        conversation = repo.list_conversations(s, env.users["alice"], limit=1)[0].id
    assert wait_for(lambda: _last_reply(env, conversation)[2] != "streaming", timeout=20)
    assert _last_reply(env, conversation)[2] == "cancelled"
