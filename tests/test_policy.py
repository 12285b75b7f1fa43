"""access/policy.py and its enforcement by the runner, on SQLite and PostgreSQL with the simulators on
loopback: a disabled backend is refused before anything is saved or sent; the server's login is used only
where allowed (single-user mode by default, team modes when an admin allowed it); the rate limit stops
chat messages and regenerations alike; the cache shows a change at once here and elsewhere within its TTL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

import application
from access import policy
from access.limits import RateLimitedError
from access.policy import BackendDisabledError
from providers import registry
from runner import turns
from runner.runner import Runner, credentials_for
from services import sending
from simulators.openai_compat import SIM_TOKEN
from storage import app_settings, credentials, usage
from storage import repository as repo
from storage.db import session
from tests.sim_fixtures import SimHandle

HF_MODEL = "meta-llama/Llama-3.3-70B-Instruct"


@pytest.fixture(autouse=True)
def clean_policy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("CHATDECK_TRUSTED_HEADER", raising=False)  # single-user mode unless a test says otherwise
    monkeypatch.delenv(policy.ENV_RATE_LIMIT, raising=False)
    application.reset()
    yield
    application.reset()


@pytest.fixture
def app(engine: Engine) -> application.Application:
    """An application on the test's database (reset by clean_policy): the policy cache is the application's."""
    return application.install(application.Application(engine=engine))


@pytest.fixture
def hf_runner(runner: Runner, huggingface_sim: SimHandle, monkeypatch: pytest.MonkeyPatch) -> Runner:
    """The runner, with Hugging Face pointed at its simulator and the server's token in the environment."""
    monkeypatch.setenv("CHATDECK_HF_URL", huggingface_sim.url)
    monkeypatch.setenv("HF_TOKEN", SIM_TOKEN)
    return runner


def new_chat(engine: Engine, provider: str = "allenai", model: str = "olmo-3.1-32b-instruct",
             who: str = "local") -> tuple[int, str]:
    with session(engine) as s:
        owner = repo.get_or_create_user(s, who).id
        return owner, repo.create_conversation(s, owner, provider=provider, model=model).id


def messages(engine: Engine, owner: int, conversation_id: str) -> list[tuple[str, str]]:
    with session(engine) as s:
        return [(m.role, m.status) for m in repo.recent_messages(s, owner, conversation_id)]


def test_a_disabled_backend_is_refused_before_anything_is_saved_or_sent(
    runner: Runner, engine: Engine, allenai_sim: SimHandle
) -> None:
    owner, cid = new_chat(engine)
    policy.set_backend_enabled(engine, "allenai", False)
    assert registry.backend("allenai").status == "disabled"  # the registry sees it at once, here
    assert registry.all_backends()["allenai"].status == "disabled"
    assert registry.BACKENDS["allenai"].status == "working"  # the built-in description is untouched
    with pytest.raises(BackendDisabledError, match="Ai2 Playground is switched off by an admin"):
        sending.send(runner, owner_id=owner, conversation=cid, provider="allenai", model="olmo-3.1-32b-instruct",
                     prompt="Hello?")
    assert messages(engine, owner, cid) == [] and allenai_sim.sim.chat_requests() == []

    policy.set_backend_enabled(engine, "allenai", True)
    assert registry.backend("allenai").status == "working"
    run = sending.send(runner, owner_id=owner, conversation=cid, provider="allenai",
                       model="olmo-3.1-32b-instruct", prompt="Hello?").run
    assert run.saved.wait(10)
    assert messages(engine, owner, cid) == [("user", "complete"), ("assistant", "complete")]


def test_a_regenerate_is_refused_too(runner: Runner, engine: Engine, allenai_sim: SimHandle) -> None:
    owner, cid = new_chat(engine)
    assert sending.send(runner, owner_id=owner, conversation=cid, provider="allenai",
                        model="olmo-3.1-32b-instruct", prompt="Hello?").run.saved.wait(10)
    policy.set_backend_enabled(engine, "allenai", False)
    with pytest.raises(BackendDisabledError):
        sending.regenerate(runner, owner_id=owner, conversation_id=cid, provider="allenai",
                         model="olmo-3.1-32b-instruct")
    policy.set_backend_enabled(engine, "allenai", True)
    with session(engine) as s:
        usage.set_rate_limit(s, owner, 1)  # the one reply of this minute is spent
    with pytest.raises(RateLimitedError, match="You have sent 1 message in the last minute"):
        sending.regenerate(runner, owner_id=owner, conversation_id=cid, provider="allenai",
                         model="olmo-3.1-32b-instruct")
    with session(engine) as s:
        turn = turns.load_last_turn(s, owner, cid)
    assert turn is not None and len(turn.replies) == 1  # no new version, nothing marked superseded
    assert len(allenai_sim.sim.chat_requests()) == 1


def test_the_rate_limit_stops_the_runner_before_anything_is_saved(
    runner: Runner, engine: Engine, allenai_sim: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(policy.ENV_RATE_LIMIT, "2")
    policy.invalidate()  # the runner read the policy when it started
    owner, cid = new_chat(engine)
    for prompt in ("one", "two"):
        assert sending.send(runner, owner_id=owner, conversation=cid, provider="allenai",
                            model="olmo-3.1-32b-instruct", prompt=prompt).run.saved.wait(10)
    with pytest.raises(RateLimitedError) as refused:
        sending.send(runner, owner_id=owner, conversation=cid, provider="allenai", model="olmo-3.1-32b-instruct",
                     prompt="three")
    assert refused.value.limit == 2 and 1 <= (refused.value.retry_after or 0) <= 60
    assert len(messages(engine, owner, cid)) == 4 and len(allenai_sim.sim.chat_requests()) == 2
    other, other_chat = new_chat(engine, who="bob@example.com")  # the limit is per user
    assert sending.send(runner, owner_id=other, conversation=other_chat, provider="allenai",
                        model="olmo-3.1-32b-instruct", prompt="mine").run.saved.wait(10)


def test_the_server_login_is_used_in_single_user_mode_unless_an_admin_switches_it_off(
    hf_runner: Runner, engine: Engine, huggingface_sim: SimHandle
) -> None:
    owner, cid = new_chat(engine, "huggingface", HF_MODEL)
    with session(engine) as s:
        assert credentials_for(s, owner, "huggingface") == {"token": SIM_TOKEN}
    huggingface_sim.sim.script.chunks = ["Hi ", "there."]
    run = hf_runner.start(owner_id=owner, conversation_id=cid, provider="huggingface", model=HF_MODEL, prompt="Hi")
    assert run.saved.wait(10) and run.turn.text == "Hi there."

    policy.set_server_login(engine, "huggingface", False)
    with session(engine) as s:
        assert credentials_for(s, owner, "huggingface") is None
    run = hf_runner.start(owner_id=owner, conversation_id=cid, provider="huggingface", model=HF_MODEL, prompt="Hi")
    assert run.saved.wait(10) and run.turn.status == "error"  # sent without a login: the backend refused


def test_in_team_modes_the_server_login_needs_an_admin(
    hf_runner: Runner, engine: Engine, huggingface_sim: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATDECK_TRUSTED_HEADER", "X-Forwarded-Email")
    monkeypatch.setenv("CHATDECK_SECRET_KEY", "policy-test-secret")
    ann, cid = new_chat(engine, "huggingface", HF_MODEL, who="ann@example.com")
    bob, _ = new_chat(engine, "huggingface", HF_MODEL, who="bob@example.com")
    with session(engine) as s:
        assert credentials_for(s, ann, "huggingface") is None
        credentials.save(s, bob, "huggingface", {"token": "bob-own-token"})
    huggingface_sim.sim.script.chunks = ["Answer."]
    run = hf_runner.start(owner_id=ann, conversation_id=cid, provider="huggingface", model=HF_MODEL, prompt="Hi")
    assert run.saved.wait(10) and run.turn.status == "error" and not run.had_login
    sent = huggingface_sim.sim.chat_requests()
    assert len(sent) == 1 and "authorization" not in sent[0].headers  # sent without the server's token

    policy.set_server_login(engine, "huggingface", True)
    with session(engine) as s:
        assert credentials_for(s, ann, "huggingface") == {"token": SIM_TOKEN}
        assert credentials_for(s, bob, "huggingface") == {"token": "bob-own-token"}  # their own comes first
    run = hf_runner.start(owner_id=ann, conversation_id=cid, provider="huggingface", model=HF_MODEL, prompt="Hi")
    assert run.saved.wait(10) and run.turn.text == "Answer."


def test_backends_without_a_login_never_get_the_servers(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHATDECK_HAILUO_TOKEN", raising=False)
    owner, _ = new_chat(engine)
    with session(engine) as s:
        assert credentials_for(s, owner, "allenai") is None  # needs no login
        assert credentials_for(s, owner, "hailuo") is None  # the server has none configured


@pytest.mark.usefixtures("app")
def test_a_change_shows_at_once_here_and_within_the_ttl_elsewhere(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert policy.current(engine).disabled == frozenset()
    policy.set_backend_enabled(engine, "hailuo", False)  # this process: at once
    assert policy.current(engine).disabled == {"hailuo"}

    from storage.db import make_engine

    elsewhere = make_engine(db_url)  # another replica writing to the same database
    try:
        with session(elsewhere) as s:
            app_settings.put(s, policy.DISABLED_PREFIX + "huggingchat", True)
            app_settings.put(s, policy.RATE_LIMIT_KEY, 7)
    finally:
        elsewhere.dispose()
    assert policy.current(engine).disabled == {"hailuo"}  # cached: not read again within the TTL
    monkeypatch.setattr(policy, "TTL", 0.0)  # the TTL has passed
    current = policy.current(engine)
    assert current.disabled == {"hailuo", "huggingchat"} and current.rate_limit == 7


@pytest.mark.usefixtures("app")
def test_unreadable_settings_keep_the_last_known_policy(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    policy.set_backend_enabled(engine, "hailuo", False)
    assert policy.current(engine).disabled == {"hailuo"}
    with engine.begin() as connection:  # the settings can no longer be read
        connection.execute(text("DROP TABLE app_settings"))
    monkeypatch.setattr(policy, "TTL", 0.0)
    assert policy.current(engine).disabled == {"hailuo"}


@pytest.mark.usefixtures("app")
def test_while_one_thread_reloads_an_expired_policy_the_others_do_not_wait(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from sqlalchemy import event

    policy.set_backend_enabled(engine, "hailuo", False)
    assert policy.current(engine).disabled == {"hailuo"}
    with session(engine) as s:
        app_settings.put(s, policy.DISABLED_PREFIX + "huggingchat", True)  # (another replica's change)
    monkeypatch.setattr(policy, "TTL", 0.0)  # expired from now on
    reading, release = threading.Event(), threading.Event()

    def hold_the_reload(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "app_settings" in statement and threading.current_thread().name == "reloader":
            reading.set()
            release.wait(30)

    event.listen(engine, "before_cursor_execute", hold_the_reload)
    reloaded: list[policy.Policy] = []
    reloader = threading.Thread(target=lambda: reloaded.append(policy.current(engine)), name="reloader")
    reloader.start()
    try:
        assert reading.wait(10)
        assert policy.current(engine).disabled == {"hailuo"}  # at once, the expired one, while the reload waits
        assert reloader.is_alive()
    finally:
        release.set()
        reloader.join(10)
    assert reloaded[0].disabled == {"hailuo", "huggingchat"}
