"""The REST endpoint on a team server (trusted-header mode, example.com allowed), over real HTTP: a token
works while its user is admitted; the token of an address outside the allowed users, or of the local user
of a former single-user install, is refused with the seed's 401 even though it is otherwise valid."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from api import tokens
from simulators.openai_compat import SIM_TOKEN, OpenAICompatSimulator
from simulators.serve import serve
from storage import credentials
from storage import repository as repo
from storage.db import make_engine, session
from tests.browser_fixtures import AppServer, start_app, stop_app

SECRET = "rest-team-test-secret-0123456789"
CHAT = "/api/ai/huggingface/meta-llama/Llama-3.3-70B-Instruct/chat"


@pytest.fixture
def team_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[AppServer, dict[str, str]]]:
    monkeypatch.setenv("CHATDECK_SECRET_KEY", SECRET)
    sim = OpenAICompatSimulator()
    with serve(sim.app) as sim_url:
        app = start_app(tmp_path, {"CHATDECK_HF_URL": sim_url + "/v1", "CHATDECK_SECRET_KEY": SECRET,
                                   "CHATDECK_TRUSTED_HEADER": "X-Forwarded-Email",
                                   "CHATDECK_ALLOWED_USERS": "example.com"})
        engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
        issued = {}
        with session(engine) as s:
            for external_id in ("ann@example.com", "eve@evil.org", "local"):
                owner = repo.get_or_create_user(s, external_id).id
                credentials.save(s, owner, "huggingface", {"token": SIM_TOKEN})
                issued[external_id] = tokens.issue(s, owner, name="t", lifetime=timedelta(hours=1)).token
        engine.dispose()
        try:
            yield app, issued
        finally:
            stop_app(app)


def test_only_admitted_users_tokens_work(team_app: tuple[AppServer, dict[str, str]]) -> None:
    app, issued = team_app

    def post(token: str) -> httpx.Response:
        return httpx.post(app.url + CHAT, params={"chat_id": "c1"}, headers={"Authorization": f"Bearer {token}"},
                          json={"messages": [{"role": "user", "content": "Hello"}]}, timeout=30)

    assert post(issued["ann@example.com"]).status_code == 200
    for refused in ("eve@evil.org", "local"):
        response = post(issued[refused])
        assert response.status_code == 401
        assert response.json() == {"statusCode": 401, "statusMessage": "Unauthorized"}
