"""Seed 002's REST endpoint in front of other OpenAI-compatible servers: the real app (``streamlit run``) with
``CHATDECK_HF_URL`` at the llama-server or the LiteLLM simulator. Free-form ids are reachable: ``_`` is the
publisher of an id without one, and a name may hold percent-encoded slashes; an unlisted id is the seed's 400."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from api import tokens
from simulators.openai_compat import OpenAICompatSimulator, SimModel
from simulators.serve import serve
from storage import repository as repo
from storage.db import make_engine, session
from tests.browser_fixtures import AppServer, start_app, stop_app

SECRET = "rest-openai-ids-secret-0123456789"
GGUF = "/models/qwen2.5-0.5b-instruct-q4_k_m.gguf"
OLLAMA_ID = "llama3.2:1b"
ROUTED = "groq/llama-3.1-8b-instant:groq"
INVALID = {"statusCode": 400, "statusMessage": "Invalid model name or publisher"}
MODELS = {"llama-server": [SimModel(GGUF)], "litellm": [SimModel(OLLAMA_ID), SimModel(ROUTED)]}


@dataclass
class Server:
    app: AppServer
    sim: OpenAICompatSimulator
    token: str
    engine: object

    def post(self, path: str, chat_id: str = "ids") -> httpx.Response:
        return httpx.post(self.app.url + path, params={"chat_id": chat_id}, timeout=30,
                          headers={"Authorization": f"Bearer {self.token}"},
                          json={"messages": [{"role": "user", "content": "Hello there"}]})

    def stored_model(self, conversation_id: str) -> str:
        with session(self.engine) as s:  # type: ignore[arg-type]
            owner = repo.get_or_create_user(s, "alice").id
            conversation = repo.get_conversation(s, owner, conversation_id)
            assert conversation is not None
            return conversation.model


@contextmanager
def app_before(flavor: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app with its OpenAI-compatible backend at a simulator of ``flavor`` (no key), Alice's token issued."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CHATDECK_SECRET_KEY", SECRET)  # tokens are issued here as the app's Settings page would
    sim = OpenAICompatSimulator(flavor=flavor, models=MODELS[flavor], require_auth=False)
    tmp: Path = tmp_path_factory.mktemp(flavor)
    with serve(sim.app) as sim_url:
        app = start_app(tmp, {"CHATDECK_HF_URL": sim_url + "/v1", "CHATDECK_HF_KIND": "auto", "HF_TOKEN": "",
                              "CHATDECK_SECRET_KEY": SECRET})
        engine = make_engine(f"sqlite:///{tmp / 'app.db'}")
        try:
            with session(engine) as s:
                owner = repo.get_or_create_user(s, "alice", "Alice").id
                token = tokens.issue(s, owner, name="t", lifetime=timedelta(days=1)).token
            yield Server(app, sim, token, engine)
        finally:
            stop_app(app)
            engine.dispose()
            mp.undo()


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with app_before("llama-server", tmp_path_factory) as server:
        yield server


@pytest.fixture(scope="module")
def litellm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with app_before("litellm", tmp_path_factory) as server:
        yield server


def test_a_llama_server_path_id_chats_percent_encoded(llama: Server) -> None:
    response = llama.post("/api/ai/huggingface/_/%2Fmodels%2Fqwen2.5-0.5b-instruct-q4_k_m.gguf/chat")
    assert response.status_code == 200, response.text
    assert response.text.startswith(" ")  # llama-server's leading space, as it came
    assert llama.sim.chat_requests()[-1].json_body["model"] == GGUF
    assert llama.stored_model(response.headers["x-conversation-id"]) == GGUF


@pytest.mark.parametrize(("path", "model"), [
    (f"/api/ai/huggingface/_/{OLLAMA_ID}/chat", OLLAMA_ID),  # an Ollama-style name:tag, no publisher
    (f"/api/ai/huggingface/{ROUTED}/chat", ROUTED),  # publisher/name:provider, as the pair it is
])
def test_litellm_free_form_ids_chat(litellm: Server, path: str, model: str) -> None:
    response = litellm.post(path, chat_id=model)
    assert response.status_code == 200, response.text
    assert litellm.sim.chat_requests()[-1].json_body["model"] == model
    assert litellm.stored_model(response.headers["x-conversation-id"]) == model


def test_an_id_the_server_does_not_have_is_the_seeds_400(litellm: Server) -> None:
    # refused before sending once the list is known, else by LiteLLM's own 400: the same answer either way
    for path in ("/api/ai/huggingface/meta/llama/chat", f"/api/ai/huggingface/_/{OLLAMA_ID}x/chat",
                 "/api/ai/huggingface/_/llama3.2/chat"):
        response = litellm.post(path)
        assert (response.status_code, response.json()) == (400, INVALID), path
