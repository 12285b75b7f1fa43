"""Every backend, driven by its simulator into each state, lands in the right health state.

The runner, the providers and storage are the real ones; the provider factory only points each
backend at its simulator (as the base-URL settings do in the app).
"""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from providers import registry
from runner import health
from runner.runner import Runner
from storage import credentials
from storage import health as health_store
from storage import repository as repo
from storage.db import session
from tests.sim_fixtures import ADAPTERS, ContractAdapter, free_port

WORDS = ["one ", "two ", "three"]
SCENARIOS = ["ok", "unknown fields", "garbled line", "renamed field", "429", "401", "503", "refused"]


def _reply(engine: Engine, owner: int, conversation_id: str) -> repo.Message:
    with session(engine) as s:
        return repo.recent_messages(s, owner, conversation_id)[-1]


def expected(backend: str, scenario: str) -> str:
    return {
        "ok": health.READY, "unknown fields": health.READY, "garbled line": health.READY,
        "renamed field": health.PROTOCOL_CHANGED,
        "429": health.RATE_LIMITED, "503": health.UNREACHABLE, "refused": health.UNREACHABLE,
        "401": health.CREDENTIALS_REJECTED if registry.backend(backend).credential_fields else health.FAILING,
    }[scenario]


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("backend", sorted(registry.BACKENDS))
def test_each_backend_reaches_each_state(
    backend: str, scenario: str, sqlite_url: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage.db import make_engine

    monkeypatch.setenv("CHATDECK_SECRET_KEY", "health-backends")
    adapter: ContractAdapter = ADAPTERS[backend]
    handle = request.getfixturevalue(adapter.sim_fixture)
    url = f"http://127.0.0.1:{free_port()}" if scenario == "refused" else handle.url
    {
        "ok": lambda: adapter.script_answer(handle.sim, WORDS, 0.0),
        "unknown fields": lambda: adapter.script_unknown_fields(handle.sim, WORDS),
        "renamed field": lambda: adapter.script_renamed_field(handle.sim, WORDS),
        "garbled line": lambda: adapter.script_garbled(handle.sim, WORDS, 1),
        "429": lambda: adapter.script_http_error(handle.sim, 429, "Slow down"),
        "401": lambda: adapter.script_http_error(handle.sim, 401, "Unauthorized"),
        "503": lambda: adapter.script_http_error(handle.sim, 503, "Overloaded"),
        "refused": lambda: None,
    }[scenario]()
    engine: Engine = make_engine(sqlite_url)
    runner = Runner(engine, flush_interval=0.05,
                    provider_factory=lambda name, client, _login: adapter.make_provider(url, client))
    try:
        model = adapter.request().model
        with session(engine) as s:
            owner = repo.local_user(s).id
            if registry.backend(backend).credential_fields:  # a saved login: a 401 means it was rejected
                credentials.save(s, owner, backend, {f.name: "saved-value" for f in
                                                     registry.backend(backend).credential_fields})
            cid = repo.create_conversation(s, owner, provider=backend, model=model).id
        run = runner.start(owner_id=owner, conversation_id=cid, provider=backend, model=model, prompt="Hi")
        assert run.saved.wait(15)
        with session(engine) as s:
            row = health_store.for_owner(s, owner)[backend]
        assert row.state == expected(backend, scenario), row.message
        if row.state != health.READY:
            assert row.message and row.fix and row.last_failure_at is not None
        if scenario == "garbled line":  # issue 13: the answer is kept and marked; the drift is recorded
            assert "not JSON" in row.message and "cut off by a broken proxy" in row.snippet
            reply = _reply(engine, owner, cid)
            assert reply.content == "".join(WORDS) and reply.status == "complete"
            assert reply.extra["unreadable"] == {"lines": 1, "note": "Part of this answer could not be read."}
        else:
            assert not row.snippet or row.state == health.PROTOCOL_CHANGED
    finally:
        runner.shutdown()
        engine.dispose()
