"""``GET /metrics`` over real HTTP against the running app (a team server: ann is an admin, bob is not):
who may scrape it, the metric names in Prometheus' text format, figures that move after a chat, and no
user data in it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
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

SECRET = "metrics-test-secret-0123456789"
METRICS_TOKEN = "scrape-me-0123456789"
CHAT = "/api/ai/huggingface/meta-llama/Llama-3.3-70B-Instruct/chat"
PROMPT = "Tell me about the secret garden of Zanzibar"


@dataclass
class Env:
    app: AppServer
    tokens: dict[str, str]

    def scrape(self, token: str | None = METRICS_TOKEN) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(self.app.url + "/metrics", headers=headers, timeout=10)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("metrics")
    mp = pytest.MonkeyPatch()
    mp.setenv("CHATDECK_SECRET_KEY", SECRET)
    sim = OpenAICompatSimulator()
    with serve(sim.app) as sim_url:
        app = start_app(tmp, {"CHATDECK_HF_URL": sim_url + "/v1", "CHATDECK_SECRET_KEY": SECRET,
                              "CHATDECK_TRUSTED_HEADER": "X-Forwarded-Email",
                              "CHATDECK_ALLOWED_USERS": "example.com", "CHATDECK_ADMINS": "ann@example.com",
                              "CHATDECK_METRICS_TOKEN": METRICS_TOKEN})
        engine = make_engine(f"sqlite:///{tmp / 'app.db'}")
        issued = {}
        with session(engine) as s:
            for external_id in ("ann@example.com", "bob@example.com"):
                owner = repo.get_or_create_user(s, external_id).id
                credentials.save(s, owner, "huggingface", {"token": SIM_TOKEN})
                issued[external_id] = tokens.issue(s, owner, name="t", lifetime=timedelta(hours=1)).token
        engine.dispose()
        try:
            yield Env(app, issued)
        finally:
            stop_app(app)
            mp.undo()


def value(body: str, name: str, **labels: str) -> float:
    """One sample's value (0 when the series does not exist yet)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(name + ("{" + wanted + "}" if wanted else "")) + r" (\S+)$"
    match = re.search(pattern, body, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_metrics_are_refused_without_the_token_or_an_admins_token(env: Env) -> None:
    for token in (None, "wrong-token", env.tokens["bob@example.com"]):
        response = env.scrape(token)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "chatdeck_" not in response.text
    assert env.scrape(env.tokens["ann@example.com"]).status_code == 200  # an admin's REST token
    assert env.scrape(METRICS_TOKEN).status_code == 200


def test_the_figures_move_after_a_chat_and_name_no_user(env: Env) -> None:
    before = env.scrape()
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain; version=0.0.4")
    for name in ("chatdeck_replies_running", "chatdeck_websocket_sessions", "process_cpu_seconds_total",
                 "process_resident_memory_bytes", "chatdeck_database_statement_seconds_count",
                 "chatdeck_event_loop_lag_seconds_count", "chatdeck_event_loop_lag_max_seconds"):
        assert re.search(rf"^{name}[{{ ]", before.text, re.MULTILINE), name
    for loop in ("runner", "server"):  # a lag monitor on each loop
        assert value(before.text, "chatdeck_event_loop_lag_seconds_count", loop=loop) >= 1
    assert value(before.text, "chatdeck_websocket_sessions") == 0

    response = httpx.post(env.app.url + CHAT, params={"chat_id": "metrics"}, timeout=30,
                          headers={"Authorization": f"Bearer {env.tokens['bob@example.com']}"},
                          json={"messages": [{"role": "user", "content": PROMPT}]})
    assert response.status_code == 200 and response.text

    after = env.scrape().text
    backend = {"backend": "huggingface"}
    assert value(after, "chatdeck_replies_total", **backend, outcome="complete") == \
        value(before.text, "chatdeck_replies_total", **backend, outcome="complete") + 1
    assert value(after, "chatdeck_replies_started_total", **backend) == \
        value(before.text, "chatdeck_replies_started_total", **backend) + 1
    assert value(after, "chatdeck_time_to_first_token_seconds_count", **backend) == \
        value(before.text, "chatdeck_time_to_first_token_seconds_count", **backend) + 1
    assert value(after, "chatdeck_streamed_chars_total", **backend) >= \
        value(before.text, "chatdeck_streamed_chars_total", **backend) + len(response.text)
    assert value(after, "chatdeck_reply_save_seconds_count", kind="final") >= 1
    assert value(after, "chatdeck_database_statement_seconds_count") > \
        value(before.text, "chatdeck_database_statement_seconds_count")
    assert value(after, "chatdeck_replies_running") == 0
    for private in (PROMPT, "Zanzibar", "bob@example.com", "ann@example.com", response.text.strip()[:20]):
        assert private not in after


def test_websocket_sessions_are_counted_while_open(env: Env) -> None:
    import asyncio

    from bench.st_client import StreamlitSession

    async def scrape_with_a_session_open() -> float:
        session = StreamlitSession(env.app.url, {"X-Forwarded-Email": "carol@example.com"})  # over the websocket
        await session.open(60)
        try:
            return value(env.scrape().text, "chatdeck_websocket_sessions")
        finally:
            await session.close()

    before = value(env.scrape().text, "chatdeck_websocket_sessions")
    assert asyncio.run(scrape_with_a_session_open()) == before + 1
