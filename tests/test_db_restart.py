"""The app survives a database restart: every server-side connection is cut, and the next requests work.

The real app (``streamlit run``) on a fresh PostgreSQL database, its Hugging Face backend pointed at the
simulator; the REST endpoint drives replies through the runner, so its writes are covered too. A restart
of the shared PostgreSQL server would disturb other tests, so its effect on the app is produced the way
the server itself does it on shutdown: ``pg_terminate_backend`` on every connection to the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from api import tokens
from simulators.openai_compat import SIM_TOKEN
from storage import repository as repo
from storage.db import make_engine, session
from tests.browser_fixtures import AppServer, start_app, stop_app
from tests.sim_fixtures import SimHandle, wait_for
from tests.team_fixtures import chatdeck_connections, fresh_database, terminate_connections

pytestmark = pytest.mark.postgres

SECRET = "db-restart-test-secret-0123456789"
MODEL = "meta-llama/Llama-3.3-70B-Instruct"
CHAT = f"/api/ai/huggingface/{MODEL}/chat"


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_database("chatdeck_restart") as url:
        yield url


@pytest.fixture
def app(tmp_path: Path, database: str, huggingface_sim: SimHandle,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[AppServer]:
    monkeypatch.setenv("CHATDECK_SECRET_KEY", SECRET)  # tokens issued here must verify in the app
    server = start_app(tmp_path, {"CHATDECK_DATABASE_URL": database, "CHATDECK_HF_URL": huggingface_sim.url,
                                  "HF_TOKEN": SIM_TOKEN, "CHATDECK_SECRET_KEY": SECRET, "CHATDECK_REPLICA": "solo"})
    yield server
    stop_app(server)


def issue_token(database: str) -> tuple[int, str]:
    engine = make_engine(database)
    try:
        with session(engine) as s:  # the single local user issues a token, as in Settings
            owner = repo.local_user(s).id
            return owner, tokens.issue(s, owner, name="restart", lifetime=timedelta(hours=1)).token
    finally:
        engine.dispose()  # only the app's connections stay open


def chat(app: AppServer, token: str, prompt: str) -> tuple[int, list[str], str]:
    """Post one message to the conversation "restart"; the status, the chunks as received, the conversation."""
    with httpx.stream("POST", app.url + CHAT, params={"chat_id": "restart"}, timeout=30,
                      headers={"Authorization": f"Bearer {token}"},
                      json={"messages": [{"role": "user", "content": prompt}]}) as response:
        chunks = [chunk for chunk in response.iter_text() if chunk]
        return response.status_code, chunks, response.headers.get("x-conversation-id", "")


def health(app: AppServer) -> httpx.Response:
    return httpx.get(app.url + "/api/health", timeout=10)


def test_the_app_recovers_when_the_databases_connections_are_cut(
    app: AppServer, database: str, huggingface_sim: SimHandle
) -> None:
    owner, token = issue_token(database)
    script = huggingface_sim.sim.script
    assert health(app).json() == {"status": "ok", "database": "ok", "replica": "solo"}
    script.chunks = ["Before ", "the ", "cut."]
    status, chunks, conversation = chat(app, token, "First question")
    assert (status, "".join(chunks)) == (200, "Before the cut.")

    # The database "restarts": every connection the app's pool holds is cut under it.
    assert chatdeck_connections(database) >= 1
    assert terminate_connections(database) >= 1
    assert wait_for(lambda: chatdeck_connections(database) == 0, 5)

    response = health(app)  # the very next request: no restart of the app, no error
    assert response.status_code == 200 and response.json()["database"] == "ok"
    script.chunks, script.chunk_delay = ["After ", "the ", "cut."], 0.1
    status, chunks, _ = chat(app, token, "Second question")
    assert (status, "".join(chunks)) == (200, "After the cut.")
    assert len(chunks) >= 2  # streamed as it was written, not in one piece at the end

    # Cut again while a reply is being written: the runner's partial saves and its final save recover too.
    script.chunks, script.chunk_delay = [f"w{i} " for i in range(30)], 0.05
    with httpx.stream("POST", app.url + CHAT, params={"chat_id": "restart"}, timeout=30,
                      headers={"Authorization": f"Bearer {token}"},
                      json={"messages": [{"role": "user", "content": "Third question"}]}) as response:
        received: list[str] = []
        for chunk in response.iter_text():
            received.append(chunk)
            if len(received) == 10:
                assert terminate_connections(database) >= 1
        assert response.status_code == 200
    assert "".join(received) == "".join(f"w{i} " for i in range(30))

    engine = make_engine(database)
    try:
        with session(engine) as s:
            stored = [(m.role, m.content, m.status) for m in repo.recent_messages(s, owner, conversation, limit=10)]
    finally:
        engine.dispose()
    assert stored == [
        ("user", "First question", "complete"), ("assistant", "Before the cut.", "complete"),
        ("user", "Second question", "complete"), ("assistant", "After the cut.", "complete"),
        ("user", "Third question", "complete"), ("assistant", "".join(f"w{i} " for i in range(30)), "complete"),
    ]
    assert health(app).status_code == 200
    assert chatdeck_connections(database) >= 1  # the app's pool is back
