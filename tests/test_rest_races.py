"""Concurrent REST requests against the real app, on SQLite and on PostgreSQL: twenty requests at once on a
new ``chat_id`` all succeed into one conversation, and with a limit of 5 per minute exactly 5 of twenty
concurrent requests are admitted. Two app processes (``streamlit run``, as two replicas would) share the
database and take alternate requests, so the guarantees are shown across processes, not just threads.

The requests are released together by a barrier; whatever order the server takes them in, the
counts must come out exact (insert-or-get for the conversation, an atomic admission check).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from api import tokens
from api.chat import conversation_id_for
from simulators.openai_compat import SIM_TOKEN, OpenAICompatSimulator
from simulators.serve import serve
from storage import repository as repo
from storage import usage
from storage.db import make_engine, session
from tests.browser_fixtures import AppServer, start_app, stop_app
from tests.team_fixtures import fresh_database

SECRET = "rest-races-test-secret-0123456789"
CHAT = "/api/ai/huggingface/meta-llama/Llama-3.3-70B-Instruct/chat"
AT_ONCE = 20


@dataclass
class Env:
    apps: list[AppServer]
    engine: Engine

    def user(self, name: str, limit: int | None) -> tuple[int, str]:
        with session(self.engine) as s:
            owner = repo.get_or_create_user(s, name).id
            usage.set_rate_limit(s, owner, limit)
            return owner, tokens.issue(s, owner, name="test", lifetime=timedelta(days=1)).token

    def at_once(self, token: str, chat_id: str) -> list[httpx.Response]:
        """``AT_ONCE`` identical requests, released together from as many threads."""
        barrier = threading.Barrier(AT_ONCE)

        def post(i: int) -> httpx.Response:
            with httpx.Client(timeout=60) as client:
                barrier.wait()
                return client.post(self.apps[i % len(self.apps)].url + CHAT, params={"chat_id": chat_id},
                                   headers={"Authorization": f"Bearer {token}"},
                                   json={"messages": [{"role": "user", "content": f"Hello {i}"}]})

        with ThreadPoolExecutor(AT_ONCE) as pool:
            return list(pool.map(post, range(AT_ONCE)))


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    mp = pytest.MonkeyPatch()
    mp.setenv("CHATDECK_SECRET_KEY", SECRET)
    tmp: Path = tmp_path_factory.mktemp(f"rest-races-{request.param}")
    sim = OpenAICompatSimulator()
    with serve(sim.app) as sim_url, _database(request.param, tmp) as database:
        engine = make_engine(database)  # migrated here first: the apps then start on a current schema
        settings = {"CHATDECK_DATABASE_URL": database, "CHATDECK_HF_URL": sim_url + "/v1", "HF_TOKEN": SIM_TOKEN,
                    "CHATDECK_SECRET_KEY": SECRET}
        apps: list[AppServer] = []
        try:
            for name in ("a", "b"):
                apps.append(start_app(tmp, {**settings, "CHATDECK_REPLICA": name}))
            yield Env(apps, engine)
        finally:
            for app in apps:
                stop_app(app)
            engine.dispose()
            mp.undo()


@contextmanager
def _database(kind: str, tmp: Path) -> Iterator[str]:
    """The app's database: a SQLite file, or a new PostgreSQL database dropped afterwards."""
    if kind == "postgres":
        with fresh_database("chatdeck_races") as url:
            yield url
    else:
        yield f"sqlite:///{tmp / 'app.db'}"


def test_twenty_requests_at_once_on_a_new_chat_id_make_one_conversation(env: Env) -> None:
    owner, token = env.user("racer", 0)  # no limit: only the conversation's creation races
    answers = env.at_once(token, "brand-new")
    assert [a.status_code for a in answers] == [200] * AT_ONCE, [a.text for a in answers if a.status_code != 200]
    expected = conversation_id_for(owner, "brand-new")
    assert {a.headers["x-conversation-id"] for a in answers} == {expected}
    with session(env.engine) as s:
        assert [c.id for c in repo.list_conversations(s, owner)] == [expected]
        messages = repo.recent_messages(s, owner, expected, limit=100)
    assert sorted(m.content for m in messages if m.role == "user") == sorted(f"Hello {i}" for i in range(AT_ONCE))
    assert sum(m.role == "assistant" for m in messages) == AT_ONCE


def test_with_a_limit_of_five_exactly_five_of_twenty_at_once_are_admitted(env: Env) -> None:
    owner, token = env.user("limited", 5)
    answers = env.at_once(token, "limited")
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 5 + [429] * (AT_ONCE - 5), [a.text for a in answers if a.status_code not in (200, 429)]
    with session(env.engine) as s:
        replies = [m for c in repo.list_conversations(s, owner)
                   for m in repo.recent_messages(s, owner, c.id, limit=100) if m.role == "assistant"]
    assert len(replies) == 5
