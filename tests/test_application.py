"""application.py: one object holds what a process shares. It is built once however many threads ask at once;
its registry sees its own database's custom endpoints and disabled backends (nothing is installed
process-wide); ``reset()`` stops its worker and runner, and the next caller gets a new application."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

import application
from access import policy
from providers import registry
from providers.events import ChatMessage, ChatRequest
from storage import endpoints
from storage.db import get_engine, make_engine, session
from tests.sim_fixtures import SimHandle, collect, run


def test_current_is_built_once_when_many_threads_ask_at_once(sqlite_url: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATDECK_DATABASE_URL", sqlite_url)
    application.reset()
    start = threading.Barrier(8)
    seen: list[tuple[application.Application, Engine]] = []

    def ask() -> None:
        start.wait()
        app = application.current()
        seen.append((app, app.engine))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(seen) == 8
    assert len({id(app) for app, _ in seen}) == 1 and len({id(engine) for _, engine in seen}) == 1
    assert get_engine() is seen[0][1] and str(get_engine().url) == sqlite_url


def test_each_application_sees_its_own_databases_backends(tmp_path: Path) -> None:
    one, two = make_engine(f"sqlite:///{tmp_path / 'one.db'}"), make_engine(f"sqlite:///{tmp_path / 'two.db'}")
    try:
        policy.set_backend_enabled(one, "hailuo", False)
        with session(one) as s:
            endpoints.add(s, display_name="Local Ollama", base_url="http://127.0.0.1:9/v1", models=["llama3"])
        first, second = application.Application(engine=one), application.Application(engine=two)
        assert first.registry.backend("hailuo").status == "disabled"
        assert "custom-local-ollama" in first.registry.all_backends()
        assert second.registry.backend("hailuo").status != "disabled"
        assert "custom-local-ollama" not in second.registry.all_backends()
        # Neither is this process's application: the module's view is the built-in backends alone.
        assert registry.backend("hailuo").status != "disabled" and "custom-local-ollama" not in registry.all_backends()

        application.install(first)
        assert registry.backend("hailuo").status == "disabled" and "custom-local-ollama" in registry.all_backends()
        assert registry.current() is first.registry
        application.install(second)  # replaces (and closes) the first
        assert registry.backend("hailuo").status != "disabled" and "custom-local-ollama" not in registry.all_backends()
    finally:
        application.reset()
        one.dispose()
        two.dispose()


def test_reset_stops_the_worker_and_the_runner_and_the_next_caller_gets_a_new_application(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATDECK_DATABASE_URL", sqlite_url)
    application.reset()
    app = application.current()
    app.start()
    runner, worker = app.runner, app.worker
    assert app.catalog is runner.catalog and worker.runner is runner
    threads = [runner._thread, worker._thread]
    assert all(thread.is_alive() for thread in threads)

    application.reset()
    assert not any(thread.is_alive() for thread in threads)
    with pytest.raises(RuntimeError, match="closed"):
        _ = app.runner
    assert application.running() is None
    assert application.current() is not app


def test_the_ai2_providers_of_one_application_share_what_they_learnt(
    allenai_sim: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATDECK_ALLENAI_URL", allenai_sim.url)
    allenai_sim.sim.generation = "v4-message"
    app = application.Application()  # (its engine is never needed here)
    request = ChatRequest("olmo-3.1-32b-instruct", (ChatMessage("user", "Hi"),))
    run(collect(app.registry.create("allenai").stream(request)))
    before = len(allenai_sim.sim.chat_requests())
    run(collect(app.registry.create("allenai").stream(request)))  # another provider: straight to the route
    assert [r.path for r in allenai_sim.sim.chat_requests()[before:]] == ["/v4/message/stream"]
    other = application.Application()  # another application remembers nothing
    run(collect(other.registry.create("allenai").stream(request)))
    assert [r.path for r in allenai_sim.sim.chat_requests()][-3:] == [
        "/v5/threads/chat", "/v4/threads/", "/v4/message/stream"]
