"""The rate limit and an admin's switch on the REST endpoint, over real HTTP: the app runs as
``streamlit run`` in a subprocess, its Hugging Face backend pointed at the OpenAI-compatible simulator.

Over the limit the answer is 429 in the seed's envelope with ``Retry-After``, and nothing is saved or
sent; once the window has passed (the test moves the stored replies a minute into the past, instead of
waiting one) the same request goes through. A backend disabled from another process (as another replica
would) is refused within the policy's cache time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from access import policy
from api import tokens
from simulators.openai_compat import SIM_TOKEN, OpenAICompatSimulator
from simulators.serve import serve
from storage import app_settings, usage
from storage import repository as repo
from storage.db import make_engine, session
from storage.models import Conversation, Message
from tests.browser_fixtures import AppServer, start_app, stop_app

SECRET = "rest-limits-test-secret-0123456789"
CHAT = "/api/ai/huggingface/meta-llama/Llama-3.3-70B-Instruct/chat"


@dataclass
class Env:
    app: AppServer
    sim: OpenAICompatSimulator
    engine: Engine

    def user(self, name: str, limit: int | None) -> tuple[int, str]:
        with session(self.engine) as s:
            owner = repo.get_or_create_user(s, name).id
            usage.set_rate_limit(s, owner, limit)
            return owner, tokens.issue(s, owner, name="test", lifetime=timedelta(days=1)).token

    def post(self, token: str, chat_id: str, text: str = "Hello") -> httpx.Response:
        return httpx.post(self.app.url + CHAT, params={"chat_id": chat_id}, timeout=30,
                          headers={"Authorization": f"Bearer {token}"},
                          json={"messages": [{"role": "user", "content": text}]})

    def stored(self, owner: int) -> int:
        with session(self.engine) as s:
            return sum(len(repo.recent_messages(s, owner, c.id, limit=repo.MAX_LIMIT))
                       for c in repo.list_conversations(s, owner))


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    mp = pytest.MonkeyPatch()
    mp.setenv("CHATDECK_SECRET_KEY", SECRET)
    tmp: Path = tmp_path_factory.mktemp("rest-limits")
    sim = OpenAICompatSimulator()
    with serve(sim.app) as sim_url:
        app = start_app(tmp, {"CHATDECK_HF_URL": sim_url + "/v1", "HF_TOKEN": SIM_TOKEN,
                              "CHATDECK_SECRET_KEY": SECRET})
        engine = make_engine(f"sqlite:///{tmp / 'app.db'}")
        try:
            yield Env(app, sim, engine)
        finally:
            stop_app(app)
            engine.dispose()
            mp.undo()


def test_over_the_limit_is_429_with_retry_after_and_fine_after_the_window(env: Env) -> None:
    carol, token = env.user("carol", 2)
    for text in ("one", "two"):
        assert env.post(token, "limited", text).status_code == 200
    stored, sent = env.stored(carol), len(env.sim.chat_requests())

    refused = env.post(token, "limited", "three")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    body = refused.json()
    assert (body["statusCode"], body["statusMessage"]) == (429, "Too Many Requests")
    assert body["data"]["message"] == (f"You have sent 2 messages in the last minute (your limit). "
                                       f"Try again in {refused.headers['retry-after']} s.")
    assert env.post(token, "another chat", "four").status_code == 429  # per user, not per conversation
    assert env.stored(carol) == stored and len(env.sim.chat_requests()) == sent  # nothing saved, nothing sent

    _, other = env.user("dave", None)  # someone else is not held back (the default is 20)
    assert env.post(other, "mine").status_code == 200

    with session(env.engine) as s:  # a minute passes for carol's replies
        mine = select(Conversation.id).where(Conversation.owner_id == carol)
        for message in s.scalars(select(Message).where(Message.conversation_id.in_(mine))):
            message.created_at -= timedelta(seconds=61)
    again = env.post(token, "limited", "three")
    assert again.status_code == 200 and env.stored(carol) == stored + 2


def test_a_backend_disabled_by_another_process_is_refused_within_the_cache_time(env: Env) -> None:
    _, token = env.user("erin", 0)  # no limit: only the switch may refuse
    assert env.post(token, "before").status_code == 200
    with session(env.engine) as s:  # as an admin on another replica would
        app_settings.put(s, policy.DISABLED_PREFIX + "huggingface", True)
    try:
        deadline = time.monotonic() + policy.TTL + 5
        answer = env.post(token, "after")
        while answer.status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.5)
            answer = env.post(token, "after")
        assert answer.json() == {"statusCode": 400, "statusMessage": "Service not available anymore."}
    finally:
        with session(env.engine) as s:
            app_settings.remove(s, policy.DISABLED_PREFIX + "huggingface")


def test_the_openapi_description_lists_the_429(env: Env) -> None:
    spec = httpx.get(env.app.url + "/api/openapi.json", timeout=10).json()
    answer = spec["paths"][CHAT.replace("meta-llama/Llama-3.3-70B-Instruct", "{model_publisher}/{model_name}")]
    too_many = answer["post"]["responses"]["429"]
    assert "Retry-After" in too_many["headers"]
    assert too_many["content"]["application/json"]["example"]["statusMessage"] == "Too Many Requests"
