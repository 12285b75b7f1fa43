"""Backend health: outcomes in plain words, redacted snippets, recorded per user, shown on the Backends page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event, insert
from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

import application
from providers import registry
from providers.errors import CredentialsError, HTTPStatusError, UnavailableError, UnexpectedResponseError, error_info
from providers.events import Finished
from runner import health
from runner.runner import Runner, get_runner
from simulators.common import ForcedError
from storage import health as health_store
from storage import repository as repo
from storage.db import session
from storage.models import BackendHealth, utcnow
from tests.sim_fixtures import SimHandle, free_port

AI2 = registry.backend("allenai")
HAILUO = registry.backend("hailuo")


def rate_limited(seconds: float | None) -> HTTPStatusError:
    error = HTTPStatusError(429, "rate limited: slow down")
    error.retry_after = seconds
    return error


@pytest.mark.parametrize(
    ("info", "error", "had_login", "state", "fix_words"),
    [
        (HAILUO, CredentialsError("no token"), False, health.NEEDS_CREDENTIALS, "Add your HailuoAI"),
        (HAILUO, CredentialsError("token expired"), True, health.CREDENTIALS_REJECTED, "paste a fresh"),
        (HAILUO, HTTPStatusError(401, "Unauthorized"), True, health.CREDENTIALS_REJECTED, "paste a fresh"),
        (AI2, rate_limited(30), False, health.RATE_LIMITED, "wait 30 s"),
        (AI2, rate_limited(None), False, health.RATE_LIMITED, "wait a minute"),
        (AI2, UnavailableError("connection refused"), False, health.UNREACHABLE, "did not answer"),
        (AI2, UnexpectedResponseError("renamed field"), False, health.PROTOCOL_CHANGED, "report it"),
        (AI2, HTTPStatusError(500, "Internal Server Error"), False, health.FAILING, "status page"),
    ],
)
def test_errors_become_states_with_a_fix(info, error, had_login, state, fix_words) -> None:  # type: ignore[no-untyped-def]
    outcome = health.from_finished(info, Finished("error", error=error_info(error)), had_login=had_login)
    assert outcome is not None and not outcome.ok
    assert outcome.state == state and fix_words in outcome.fix and str(error) in outcome.message


def test_success_records_the_protocol_and_a_stop_by_the_user_records_nothing() -> None:
    ok = health.from_finished(AI2, Finished("stop"), had_login=False, state={"protocol": "v4-message"})
    assert ok == health.Outcome(True, health.READY, protocol="v4-message")
    assert health.from_finished(AI2, Finished("cancelled"), had_login=False) is None


@pytest.mark.parametrize(
    "secret",
    [
        "Cookie: hf-chat=abcd1234efgh5678; token=hf_abcdefghijklmnopqrstuv",
        '{"token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"}',
        "Authorization: Bearer sk-live-0123456789abcdef",
        "yy=0123456789abcdef0123456789abcdef",
        "api_key=AKIA1234567890EXAMPLE",
    ],
)
def test_snippets_are_redacted(secret: str) -> None:
    cleaned = health.redact(f"<html>oops {secret} end</html>")
    for piece in ("abcd1234efgh5678", "hf_abcdefghijklmnop", "eyJhbGci", "sk-live", "0123456789abcdef0123", "AKIA"):
        assert piece not in cleaned
    assert "oops" in cleaned and "end" in cleaned


def test_outcomes_fold_into_one_row_per_user_and_backend(engine: Engine) -> None:
    with session(engine) as s:
        alice, bob = repo.local_user(s).id, repo.get_or_create_user(s, "bob@example.com").id
        health_store.record(s, alice, "allenai", health.Outcome(False, health.RATE_LIMITED, "slow", "wait",
                                                                retry_after=60))
        health_store.record(s, alice, "allenai", health.Outcome(True, health.READY, protocol="v5"), probe=True)
        health_store.record(s, bob, "allenai", health.Outcome(False, health.UNREACHABLE, "down", "check"))
    with session(engine) as s:
        mine, theirs = health_store.for_owner(s, alice)["allenai"], health_store.for_owner(s, bob)["allenai"]
    assert (mine.state, mine.message, mine.retry_until, mine.protocol) == (health.READY, "", None, "v5")
    assert mine.last_success_at and mine.last_failure_at and mine.checked_at
    assert (theirs.state, theirs.message, theirs.checked_at) == (health.UNREACHABLE, "down", None)


def reply_state(runner: Runner, engine: Engine) -> object:
    with session(engine) as s:
        owner = repo.local_user(s).id
        cid = repo.create_conversation(s, owner, provider="allenai", model="olmo-3.1-32b-instruct").id
    run = runner.start(owner_id=owner, conversation_id=cid, provider="allenai", model="olmo-3.1-32b-instruct",
                       prompt="Hi")
    assert run.saved.wait(10)
    with session(engine) as s:
        return health_store.for_owner(s, owner)["allenai"]


def test_two_replies_finishing_at_once_share_one_row(engine: Engine) -> None:
    """The row is missing when both look, and the other reply inserts it first: no lost final save."""
    with session(engine) as s:
        owner = repo.local_user(s).id
    raced = []

    def other_reply_inserts_first(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if not raced and statement.lstrip().upper().startswith("SELECT") and "backend_health" in statement:
            raced.append(True)
            conn.execute(insert(BackendHealth).values(owner_id=owner, backend="allenai", state=health.FAILING,
                                                      message="the other reply", updated_at=utcnow()))

    with session(engine) as s:
        event.listen(s.connection(), "after_cursor_execute", other_reply_inserts_first)
        health_store.record(s, owner, "allenai", health.Outcome(True, health.READY))
    assert raced
    with session(engine) as s:
        rows = health_store.for_owner(s, owner)
    assert rows["allenai"].state == health.READY and rows["allenai"].message == ""


def test_replies_record_what_they_saw(runner: Runner, engine: Engine, allenai_sim: SimHandle) -> None:
    allenai_sim.sim.script.http_error = ForcedError(429, "Too many requests", headers={"Retry-After": "120"})
    row = reply_state(runner, engine)
    assert row.state == health.RATE_LIMITED and row.retry_until is not None and "120 s" in row.fix
    allenai_sim.sim.script.http_error = None
    allenai_sim.sim.script.rename = ("modelResponse", "content", "text")
    row = reply_state(runner, engine)
    assert row.state == health.PROTOCOL_CHANGED and "modelResponse" in row.message and row.snippet
    allenai_sim.sim.script.rename = None
    row = reply_state(runner, engine)
    assert (row.state, row.protocol, row.message) == (health.READY, "v5", "")


def test_a_dead_backend_is_unreachable(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATDECK_ALLENAI_URL", f"http://127.0.0.1:{free_port()}")
    r = Runner(engine, flush_interval=0.05)
    try:
        assert reply_state(r, engine).state == health.UNREACHABLE
        check = r.check("allenai", None, owner_id=1)
        assert not check.ok and "unreachable" in check.message
    finally:
        r.shutdown()


@pytest.fixture
def app(sqlite_url: str, allenai_sim: SimHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    monkeypatch.setenv("CHATDECK_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CHATDECK_ALLENAI_URL", allenai_sim.url)
    for name in ("CHATDECK_HAILUO_TOKEN", "CHATDECK_HUGGINGCHAT_COOKIES", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    yield AppTest.from_string("from views import backends\nbackends.render()", default_timeout=30)
    application.reset()


def test_the_backends_page_shows_state_cause_and_fix(app: AppTest, allenai_sim: SimHandle) -> None:
    app.run()
    assert not app.exception
    text = " ".join(m.value for m in app.markdown)
    assert "Ai2 Playground" in text and "not used yet" in text
    assert "HailuoAI" in text and "needs a login" in text and "add your HailuoAI login in Settings" in text

    allenai_sim.sim.script.models_error = ForcedError(429, "Too many requests", headers={"Retry-After": "90"})
    app.button(key="probe_allenai").click().run()
    text = " ".join(m.value for m in app.markdown)
    assert "rate-limited" in text and "wait 90 s" in text
    assert app.button(key="probe_allenai").disabled  # checked a moment ago: no new probe
    requests = len(allenai_sim.sim.requests)
    app.run()
    app.run()
    assert len(allenai_sim.sim.requests) == requests  # reruns ask nothing of the backend


def test_the_backends_page_shows_an_answer_read_only_in_part(app: AppTest, allenai_sim: SimHandle) -> None:
    """Issue 13: the drift (a line that was not JSON) is recorded with its redacted snippet; still ready."""
    allenai_sim.sim.script.garbled_after = 1
    from storage.db import get_engine

    with session(get_engine()) as s:
        owner = repo.local_user(s).id
        cid = repo.create_conversation(s, owner, provider="allenai", model="olmo-3.1-32b-instruct").id
    assert get_runner().start(owner_id=owner, conversation_id=cid, provider="allenai",
                              model="olmo-3.1-32b-instruct", prompt="Hi").saved.wait(10)
    app.run()
    assert not app.exception
    text = " ".join(m.value for m in app.markdown)
    assert "Part of the last answer could not be read:** a line that is not JSON" in text and "ready" in text
    assert [c.value for c in app.code if "cut off by a broken proxy" in c.value]
    assert all("[redacted]" in c.value for c in app.code)  # the snippet went through the redaction


PAGES = ["chat", "compare", "leaderboard", "backends", "settings"]


def test_no_rerun_of_any_page_calls_a_backend(
    sqlite_url: str, allenai_sim: SimHandle, hailuo_sim: SimHandle, huggingface_sim: SimHandle,
    huggingchat_sim: SimHandle, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    sims = [allenai_sim, hailuo_sim, huggingface_sim, huggingchat_sim]
    monkeypatch.setenv("CHATDECK_DATABASE_URL", sqlite_url)
    for name, url in zip(("ALLENAI", "HAILUO", "HF", "HUGGINGCHAT"),
                         (allenai_sim.url, hailuo_sim.url, huggingface_sim.url, huggingchat_sim.url + "/chat"),
                         strict=True):
        monkeypatch.setenv(f"CHATDECK_{name}_URL", url)
    try:
        apps = {page: AppTest.from_string(f"from views import {page}\n{page}.render()", default_timeout=30)
                for page in PAGES}
        apps["chat"].run()  # starts the runner, which warms the model lists once, in the background
        catalog = get_runner().catalog
        deadline = time.monotonic() + 10
        while not catalog.idle() and time.monotonic() < deadline:
            time.sleep(0.02)
        before = [len(h.sim.requests) for h in sims]
        for page in PAGES:
            for _ in range(3):
                apps[page].run()
                assert not apps[page].exception, page
        apps["compare"].slider(key="cmp_count").set_value(3).run()
        apps["chat"].selectbox(key="provider").select("hailuo").run()
        assert [len(h.sim.requests) for h in sims] == before
    finally:
        application.reset()


@pytest.mark.parametrize(("v2_status", "protocol"), [(None, "v2"), (404, "__data.json")])
def test_the_protocol_huggingchat_speaks_is_recorded(
    engine: Engine, huggingchat_sim: SimHandle, monkeypatch: pytest.MonkeyPatch, v2_status: int | None,
    protocol: str,
) -> None:
    from tests.sim_huggingchat import DEMO_COOKIES

    monkeypatch.setenv("CHATDECK_HUGGINGCHAT_URL", huggingchat_sim.url + "/chat")
    monkeypatch.setenv("CHATDECK_HUGGINGCHAT_COOKIES", DEMO_COOKIES)
    huggingchat_sim.sim.script.v2_status = v2_status
    r = Runner(engine, flush_interval=0.05)
    try:
        with session(engine) as s:
            owner = repo.local_user(s).id
            cid = repo.create_conversation(s, owner, provider="huggingchat", model="x").id
        model = "Qwen/Qwen2.5-72B-Instruct"
        assert r.start(owner_id=owner, conversation_id=cid, provider="huggingchat", model=model,
                       prompt="Hi").saved.wait(10)
        with session(engine) as s:
            row = health_store.for_owner(s, owner)["huggingchat"]
        assert (row.state, row.protocol, row.message) == (health.READY, protocol, "")
    finally:
        r.shutdown()


def test_a_disabled_backend_says_so() -> None:
    from dataclasses import replace

    from runner.backend_health import state_of
    from views.health_badges import picker_label

    disabled = replace(AI2, status="disabled")
    assert state_of(disabled, None, has_login=True) == health.DISABLED
    assert picker_label(disabled, health.DISABLED) == "Ai2 Playground · disabled by an admin"
    assert health.DISABLED in health.UNUSABLE
