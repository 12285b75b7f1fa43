"""The seed 002 REST endpoint over real HTTP: the app runs as ``streamlit run`` in a subprocess, its
Hugging Face backend pointed at the OpenAI-compatible simulator on loopback.

Tokens are issued in this process into the app's database with the same CHATDECK_SECRET_KEY, as
the Settings page would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from api import tokens
from api.chat import conversation_id_for
from simulators.common import ForcedError
from simulators.openai_compat import SIM_TOKEN, OpenAICompatSimulator
from simulators.serve import serve
from storage import api_tokens
from storage import repository as repo
from storage.db import make_engine, session
from tests.browser_fixtures import AppServer, start_app, stop_app

SECRET = "rest-api-test-secret-0123456789"
MODEL = "meta-llama/Llama-3.3-70B-Instruct"
CHAT = f"/api/ai/huggingface/{MODEL}/chat"


@dataclass
class Env:
    app: AppServer
    sim: OpenAICompatSimulator
    engine: Engine
    alice: int
    bob: int

    def token(self, owner: int, lifetime: timedelta = timedelta(days=1)) -> tokens.Issued:
        with session(self.engine) as s:
            return tokens.issue(s, owner, name="test", lifetime=lifetime)

    def post(self, token: str | None, chat_id: str | None = "chat-1", body: object = None, path: str = CHAT,
             **kwargs: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        params = {"chat_id": chat_id} if chat_id is not None else {}
        if body is None:
            body = {"messages": [{"role": "user", "content": "Hello there"}]}
        return httpx.post(self.app.url + path, params=params, headers=headers, json=body, timeout=30, **kwargs)

    def messages(self, owner: int, conversation_id: str) -> list[tuple[str, str, str]]:
        with session(self.engine) as s:
            return [(m.role, m.content, m.status) for m in repo.recent_messages(s, owner, conversation_id)]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    mp = pytest.MonkeyPatch()
    mp.setenv("CHATDECK_SECRET_KEY", SECRET)
    tmp: Path = tmp_path_factory.mktemp("rest")
    sim = OpenAICompatSimulator()
    with serve(sim.app) as sim_url:
        app = start_app(tmp, {"CHATDECK_HF_URL": sim_url + "/v1", "HF_TOKEN": SIM_TOKEN,
                              "CHATDECK_SECRET_KEY": SECRET})
        engine = make_engine(f"sqlite:///{tmp / 'app.db'}")
        with session(engine) as s:
            alice = repo.get_or_create_user(s, "alice", "Alice").id
            bob = repo.get_or_create_user(s, "bob", "Bob").id
        try:
            yield Env(app, sim, engine, alice, bob)
        finally:
            stop_app(app)
            engine.dispose()
            mp.undo()


@pytest.fixture(autouse=True)
def fresh_script(env: Env) -> None:
    env.sim.script = type(env.sim.script)()


def test_reply_streams_in_pieces_before_it_ends(env: Env) -> None:
    chunks = [f"word{i} " for i in range(8)]
    env.sim.script.chunks, env.sim.script.chunk_delay = chunks, 0.15
    token = env.token(env.alice).token
    arrivals: list[tuple[float, bytes]] = []
    with httpx.stream("POST", env.app.url + CHAT, params={"chat_id": "streaming"}, timeout=30,
                      headers={"Authorization": f"Bearer {token}"},
                      json={"messages": [{"role": "user", "content": "Count"}]}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["transfer-encoding"] == "chunked"
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        for piece in response.iter_raw():
            arrivals.append((time.monotonic(), piece))
    body = b"".join(p for _, p in arrivals).decode()
    assert body == "".join(chunks)
    assert len(arrivals) >= 4, arrivals  # not one buffered blob
    assert arrivals[-1][0] - arrivals[0][0] > 0.5  # the first text came long before the end
    conversation = response.headers["x-conversation-id"]
    assert conversation == conversation_id_for(env.alice, "streaming")
    assert env.messages(env.alice, conversation) == [("user", "Count", "complete"),
                                                     ("assistant", body, "complete")]


def test_the_backend_gets_the_whole_history_and_only_new_messages_are_stored(env: Env) -> None:
    token = env.token(env.alice).token
    first = env.post(token, "history", {"messages": [{"role": "user", "content": "One"}]})
    answer = first.text
    conversation = first.headers["x-conversation-id"]
    second = env.post(token, "history", {"messages": [
        {"role": "user", "content": "One"}, {"role": "assistant", "content": answer},
        {"role": "user", "content": "Two"}]})
    assert second.status_code == 200
    sent = env.sim.chat_requests()[-1].json_body["messages"]
    assert [(m["role"], m["content"]) for m in sent] == [("user", "One"), ("assistant", answer), ("user", "Two")]
    assert [m[:2] for m in env.messages(env.alice, conversation)] == [
        ("user", "One"), ("assistant", answer), ("user", "Two"), ("assistant", second.text)]


def test_a_new_chat_with_history_stores_it_first(env: Env) -> None:
    token = env.token(env.alice).token
    response = env.post(token, "imported", {"messages": [
        {"role": "user", "content": "Earlier question"}, {"role": "assistant", "content": "Earlier answer"},
        {"role": "user", "content": "New question"}]})
    assert response.status_code == 200
    stored = env.messages(env.alice, response.headers["x-conversation-id"])
    assert [m[:2] for m in stored[:3]] == [("user", "Earlier question"), ("assistant", "Earlier answer"),
                                          ("user", "New question")]


def test_chat_ids_are_scoped_to_the_token_owner(env: Env) -> None:
    alice, bob = env.token(env.alice).token, env.token(env.bob).token
    first = env.post(alice, "shared-name", {"messages": [{"role": "user", "content": "Alice's secret plan"}]})
    alice_conversation = first.headers["x-conversation-id"]
    # Bob uses the same chat_id, and then Alice's real conversation id: both are new chats of his own
    for chat_id in ("shared-name", alice_conversation):
        response = env.post(bob, chat_id, {"messages": [{"role": "user", "content": "Bob here"}]})
        assert response.status_code == 200
        bob_conversation = response.headers["x-conversation-id"]
        assert bob_conversation != alice_conversation
        assert "secret plan" not in response.text
        sent = env.sim.chat_requests()[-1].json_body["messages"]
        assert sent == [{"role": "user", "content": "Bob here"}]
        assert env.messages(env.bob, bob_conversation)[0][:2] == ("user", "Bob here")
        assert env.messages(env.bob, alice_conversation) == []
    assert env.messages(env.alice, alice_conversation)[0][1] == "Alice's secret plan"
    assert len(env.messages(env.alice, alice_conversation)) == 2  # nothing of Bob's was added
    # Alice continues her conversation by its id, as a UI link would name it
    again = env.post(alice, alice_conversation, {"messages": [{"role": "user", "content": "Continue"}]})
    assert again.headers["x-conversation-id"] == alice_conversation



def test_a_conversation_shared_with_bob_stays_alices_for_rest(env: Env) -> None:
    """Sharing widens nothing but the read-only view: Bob's REST chat_id naming it is a new chat of his."""
    from storage import sharing

    alice, bob = env.token(env.alice).token, env.token(env.bob).token
    first = env.post(alice, "shared-plan", {"messages": [{"role": "user", "content": "Alice's shared plan"}]})
    alice_conversation = first.headers["x-conversation-id"]
    with session(env.engine) as s:
        share_id = sharing.share(s, env.alice, "conversation", alice_conversation, viewer_id=env.bob).id
    for chat_id in (alice_conversation, share_id):
        response = env.post(bob, chat_id, {"messages": [{"role": "user", "content": "Bob continues"}]})
        assert response.status_code == 200 and response.headers["x-conversation-id"] != alice_conversation
        assert env.sim.chat_requests()[-1].json_body["messages"] == [{"role": "user", "content": "Bob continues"}]
    assert [m[1] for m in env.messages(env.alice, alice_conversation)][:1] == ["Alice's shared plan"]
    assert len(env.messages(env.alice, alice_conversation)) == 2


@pytest.mark.parametrize("header", [None, "Basic abc", "Bearer", "Bearer not-a-jwt", "Bearer a.b.c"])
def test_missing_or_malformed_token_is_401(env: Env, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = httpx.post(env.app.url + CHAT, params={"chat_id": "x"}, headers=headers, timeout=10,
                          json={"messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 401
    assert response.json() == {"statusCode": 401, "statusMessage": "Unauthorized"}


def test_forged_expired_and_revoked_tokens_are_401(env: Env) -> None:
    issued = env.token(env.alice)
    claims = jwt.decode(issued.token, options={"verify_signature": False})
    forged = jwt.encode(claims, b"another key entirely, 32+ bytes long", algorithm="HS256")
    as_bob = jwt.encode({**claims, "sub": str(env.bob)}, tokens.signing_key(), algorithm="HS256")  # wrong owner
    past = jwt.encode({**claims, "exp": int(time.time()) - 5}, tokens.signing_key(), algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")
    for bad in (forged, as_bob, past, unsigned):
        response = env.post(bad)
        assert response.status_code == 401, bad
        assert response.json() == {"statusCode": 401, "statusMessage": "Unauthorized"}
    assert env.post(issued.token).status_code == 200
    with session(env.engine) as s:
        assert api_tokens.revoke(s, env.alice, issued.id)
    assert env.post(issued.token).status_code == 401  # at once, on the next request


def test_a_token_stops_working_when_it_expires(env: Env) -> None:
    issued = env.token(env.alice, lifetime=timedelta(seconds=2))
    assert env.post(issued.token).status_code == 200
    time.sleep(2.2)
    assert env.post(issued.token).json() == {"statusCode": 401, "statusMessage": "Unauthorized"}


@pytest.mark.parametrize("path", [
    "/api/ai/huggingface/meta-llama/No such model!/chat",
    "/api/ai/huggingface/-bad/name/chat",
    "/api/ai/huggingface/meta-llama/Llama-3.3-70B-Instruct:x:y/chat",
])
def test_invalid_model_name_or_publisher(env: Env, path: str) -> None:
    response = env.post(env.token(env.alice).token, path=path)
    assert response.status_code == 400
    assert response.json() == {"statusCode": 400, "statusMessage": "Invalid model name or publisher"}


def test_a_model_the_backend_does_not_know_is_an_invalid_model(env: Env) -> None:
    response = env.post(env.token(env.alice).token, path="/api/ai/huggingface/nobody/no-such-model/chat")
    assert response.status_code == 400
    assert response.json() == {"statusCode": 400, "statusMessage": "Invalid model name or publisher"}


def test_a_routing_suffix_reaches_the_backend(env: Env) -> None:
    response = env.post(env.token(env.alice).token, path=f"/api/ai/huggingface/{MODEL}:fastest/chat")
    assert response.status_code == 200
    assert env.sim.chat_requests()[-1].json_body["model"] == f"{MODEL}:fastest"


def test_a_gone_model_is_service_not_available(env: Env) -> None:
    env.sim.script.http_error = ForcedError(410, "This model is no longer supported")
    response = env.post(env.token(env.alice).token)
    assert response.status_code == 400
    assert response.json() == {"statusCode": 400, "statusMessage": "Service not available anymore."}


@pytest.mark.parametrize("body", [
    {},
    {"messages": []},
    {"messages": [{"role": "system", "content": "x"}]},
    {"messages": [{"role": "user", "content": 5}]},
    {"messages": [{"role": "user", "content": "x", "extra": 1}]},
    {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]},
    [1, 2],
])
def test_malformed_body_is_400_with_the_problems(env: Env, body: object) -> None:
    response = env.post(env.token(env.alice).token, body=body)
    assert response.status_code == 400
    data = response.json()
    assert data["statusCode"] == 400 and data["statusMessage"] == "Invalid request"
    assert data["data"]["errors"] and all(e["loc"][0] == "body" for e in data["data"]["errors"])


def test_missing_chat_id_and_non_json_are_400(env: Env) -> None:
    token = env.token(env.alice).token
    missing = env.post(token, chat_id=None)
    assert missing.status_code == 400 and missing.json()["data"]["errors"][0]["loc"] == ["query", "chat_id"]
    not_json = httpx.post(env.app.url + CHAT, params={"chat_id": "x"}, content=b"messages=hi", timeout=10,
                          headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"})
    assert not_json.status_code == 400 and not_json.json()["statusMessage"] == "Invalid request"


@pytest.mark.parametrize(("error", "status", "words"), [
    (ForcedError(402, "You have exceeded your monthly included credits"), 502, "credits"),
    (ForcedError(429, "Rate limit reached", headers={"Retry-After": "3"}), 502, "rate limited"),
    (ForcedError(503, "Model is overloaded"), 503, "overloaded"),
])
def test_backend_errors_before_the_answer_say_what_failed(
    env: Env, error: ForcedError, status: int, words: str
) -> None:
    env.sim.script.http_error = error
    response = env.post(env.token(env.alice).token, chat_id=f"err-{status}-{words}")
    assert response.status_code == status
    data = response.json()
    assert data["statusCode"] == status and words in data["data"]["message"]
    assert SIM_TOKEN not in response.text


def test_an_error_mid_answer_cuts_the_stream_and_keeps_the_partial_reply(env: Env) -> None:
    env.sim.script.chunks, env.sim.script.error_after, env.sim.script.chunk_delay = ["Par", "tial", "!"], 2, 0.05
    token = env.token(env.alice).token
    received = b""
    with pytest.raises(httpx.RemoteProtocolError), httpx.stream(
        "POST", env.app.url + CHAT, params={"chat_id": "mid-error"}, timeout=30,
        headers={"Authorization": f"Bearer {token}"}, json={"messages": [{"role": "user", "content": "Go"}]},
    ) as response:
        for piece in response.iter_raw():
            received += piece
    assert received == b"Partial"
    stored = env.messages(env.alice, conversation_id_for(env.alice, "mid-error"))
    assert stored[-1][:3] == ("assistant", "Partial", "error")


def test_internal_failure_is_500_without_internals(tmp_path: Path, env: Env) -> None:
    """A database that lost a table: the endpoint answers the seed's 500 and nothing more."""
    app = start_app(tmp_path, {"CHATDECK_HF_URL": "http://127.0.0.1:9", "CHATDECK_SECRET_KEY": SECRET})
    try:
        engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
        with session(engine) as s:
            owner = repo.get_or_create_user(s, "carol").id
            token = tokens.issue(s, owner, name="t", lifetime=timedelta(days=1)).token
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE conversations"))
        engine.dispose()
        response = httpx.post(app.url + CHAT, params={"chat_id": "x"}, headers={"Authorization": f"Bearer {token}"},
                              json={"messages": [{"role": "user", "content": "hi"}]}, timeout=30)
        assert response.status_code == 500
        assert response.json() == {"statusCode": 500, "statusMessage": "Internal Server Error"}
    finally:
        stop_app(app)


def test_openapi_description_is_served(env: Env) -> None:
    spec = httpx.get(env.app.url + "/api/openapi.json", timeout=10).json()
    operation = spec["paths"]["/api/ai/huggingface/{model_publisher}/{model_name}/chat"]["post"]
    assert {p["name"] for p in operation["parameters"]} == {"model_publisher", "model_name", "chat_id"}
    assert set(operation["responses"]) >= {"200", "400", "401", "500"}
    assert spec["components"]["schemas"]["Message"]["properties"]["role"]["enum"] == ["user", "assistant"]
    json.dumps(spec)
