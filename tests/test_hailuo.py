"""HailuoAI specifics over real HTTP on loopback against the strict simulator: signed requests,
chat continuation, titles, multi-byte characters split across network reads, rewrites, login
errors, the connection check, the login values, and the simulator's own strictness."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from providers import registry
from providers.base import Guarded
from providers.errors import CredentialsError, UnavailableError
from providers.events import ChatMessage, ChatRequest, Event, Finished, StateUpdate, TextDelta, Title
from providers.hailuo import CHECK_MESSAGE, INFO, HailuoAI, Login, create
from providers.hailuo_sign import CHAT_PATH, device_query, yy
from runner.accumulator import Accumulator
from simulators.hailuo import DEMO_DEVICE_ID, DEMO_TOKEN, DEMO_USER_ID, HailuoSimulator
from simulators.hailuo_rules import BAD_SIGNATURE, CHAT_NOT_FOUND, INVALID_PARAMS, STALE_REQUEST
from tests.sim_fixtures import SimHandle, _Swappable, collect, free_port, run, text_of, wait_for
from tests.sim_hailuo import DEMO_LOGIN, hailuo_provider

ROOT = Path(__file__).resolve().parent.parent
HISTORY = (ChatMessage("system", "Be brief."), ChatMessage("user", "Hello"))


def turn(provider: HailuoAI, messages: tuple[ChatMessage, ...] = HISTORY, state: dict | None = None) -> list[Event]:
    return run(collect(Guarded(provider).stream(ChatRequest("minimax", messages, state=state or {}))))


def final_of(events: list[Event]) -> Finished:
    assert isinstance(events[-1], Finished) and sum(isinstance(e, Finished) for e in events) == 1, events
    return events[-1]


def state_of(events: list[Event]) -> dict[str, Any]:
    updates = [e for e in events if isinstance(e, StateUpdate)]
    assert len(updates) == 1, events
    return dict(updates[0].state)


def follow_up(messages: tuple[ChatMessage, ...], answer: str, question: str) -> tuple[ChatMessage, ...]:
    return (*messages, ChatMessage("assistant", answer), ChatMessage("user", question))


# --- a conversation ------------------------------------------------------------------------------


def test_first_turn_is_signed_and_opens_a_chat_with_the_whole_history(hailuo_sim: SimHandle) -> None:
    sim: HailuoSimulator = hailuo_sim.sim
    sim.script.chunks, sim.script.title = ["Hi", " there!"], "Friendly Greeting"
    before = time.time_ns() // 1_000_000
    events = turn(hailuo_provider(hailuo_sim.url))
    sent = sim.requests[-1]
    assert sent.status == 200 and sent.path == CHAT_PATH
    assert sent.form_items == [
        ("characterID", "1"), ("msgContent", "System: Be brief.\nUser: Hello\nAssistant:"), ("chatID", "0"),
        ("searchMode", "0"),
    ]
    assert "multipart/form-data" in sent.content_type and sent.headers["token"] == DEMO_TOKEN
    assert list(sent.query)[:7] == ["device_platform", "biz_id", "app_id", "version_code", "lang", "uuid", "device_id"]
    assert (sent.query["uuid"], sent.query["device_id"]) == (DEMO_USER_ID, DEMO_DEVICE_ID)
    assert before <= int(sent.query["unix"]) <= time.time_ns() // 1_000_000  # a fresh timestamp
    assert events[:2] == [Title("Friendly Greeting"), StateUpdate(state_of(events))]
    assert text_of(events) == "Hi there!" and final_of(events).reason == "stop"
    state = state_of(events)
    assert state == {"characterID": "1", "account": DEMO_LOGIN.account, "chatID": state["chatID"]}
    assert sim.chats[state["chatID"]].messages == [("user", sent.form["msgContent"]), ("assistant", "Hi there!")]
    assert DEMO_USER_ID not in str(state)  # the account is a hash, not the user id


def test_follow_up_sends_only_the_new_message_on_the_same_chat(hailuo_sim: SimHandle) -> None:
    sim: HailuoSimulator = hailuo_sim.sim
    provider = hailuo_provider(hailuo_sim.url)
    first = turn(provider)
    sim.script.chunks = ["Why did", " the scarecrow win?"]
    messages = follow_up(HISTORY, text_of(first), "Tell me a joke")
    second = turn(provider, messages, state_of(first))
    sent = sim.requests[-1]
    assert (sent.form["chatID"], sent.form["msgContent"]) == (state_of(first)["chatID"], "Tell me a joke")
    assert not [e for e in second if isinstance(e, Title)]  # only a new chat gets a title
    assert state_of(second) == state_of(first) and text_of(second) == "Why did the scarecrow win?"
    assert [role for role, _ in sim.chats[state_of(first)["chatID"]].messages] == ["user", "assistant"] * 2


def test_a_chat_of_another_account_is_not_continued(hailuo_sim: SimHandle) -> None:
    sim: HailuoSimulator = hailuo_sim.sim
    first = turn(hailuo_provider(hailuo_sim.url))
    other = Login("eyJvdGhlci10b2tlbg", "998877665544332211", "5b0e8f0c-7a43-4c55-9d0b-2f2c1a9e6d11")
    sim.add_account(other.token, other.device_id, other.user_id)
    messages = follow_up(HISTORY, text_of(first), "Still there?")
    second = turn(hailuo_provider(hailuo_sim.url, login=other), messages, state_of(first))
    sent = sim.requests[-1]
    assert sent.form["chatID"] == "0" and sent.form["msgContent"].endswith("User: Still there?\nAssistant:")
    assert state_of(second)["chatID"] != state_of(first)["chatID"]
    assert state_of(second)["account"] == other.account != DEMO_LOGIN.account


def test_the_simulator_refuses_a_foreign_chat(hailuo_sim: SimHandle) -> None:
    """What would happen without the account check above: the other account cannot see the chat."""
    sim: HailuoSimulator = hailuo_sim.sim
    first = turn(hailuo_provider(hailuo_sim.url))
    sim.add_account("eyJvdGhlcg", "1", "another-user")
    forged = {**state_of(first), "account": Login("eyJvdGhlcg", "1", "another-user").account}
    events = turn(hailuo_provider(hailuo_sim.url, login=Login("eyJvdGhlcg", "1", "another-user")), HISTORY, forged)
    assert f"chat not found (code {CHAT_NOT_FOUND})" in str(final_of(events).error)


# --- what arrives, however it arrives -------------------------------------------------------------


@pytest.mark.parametrize(("piece_size", "piece_delay"), [(None, 0.02), (1, 0.0), (3, 0.0)])
def test_multibyte_characters_split_across_reads(
    hailuo_sim: SimHandle, piece_size: int | None, piece_delay: float
) -> None:
    chunks = ["Ünïcødé ", "✓ 日本", "語 ", "😀!"]
    sim: HailuoSimulator = hailuo_sim.sim
    sim.script.chunks, sim.script.piece_size, sim.script.piece_delay = chunks, piece_size, piece_delay
    events = turn(hailuo_provider(hailuo_sim.url))
    assert [e.text for e in events if isinstance(e, TextDelta)] == chunks
    assert final_of(events).reason == "stop"


def test_a_rewrite_of_earlier_text_replaces_the_answer(hailuo_sim: SimHandle) -> None:
    sim: HailuoSimulator = hailuo_sim.sim
    sim.script.chunks, sim.script.rewrite = ["The answer ", "is 41", ".", " Sure."], (2, "The answer is 42")
    events = turn(hailuo_provider(hailuo_sim.url))
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert deltas == [
        TextDelta("The answer "), TextDelta("is 41"), TextDelta("The answer is 42", replace=True), TextDelta("."),
        TextDelta(" Sure."),
    ]
    answer = Accumulator()
    for event in events:
        answer.apply(event)
    chat_id = state_of(events)["chatID"]
    assert answer.text == sim.chats[chat_id].messages[-1][1] == "The answer is 42. Sure."


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["status", "401"])
def test_an_expired_login_says_paste_a_fresh_token(hailuo_sim: SimHandle, how: str) -> None:
    hailuo_sim.sim.expire(DEMO_TOKEN, how)
    events = turn(hailuo_provider(hailuo_sim.url))
    error = final_of(events).error
    assert error.kind == "credentials"
    assert str(error).startswith("HailuoAI login expired: paste a fresh token in Settings")
    assert DEMO_TOKEN not in str(error) and not [e for e in events if isinstance(e, TextDelta | StateUpdate)]


def test_an_unknown_token_is_a_login_error(hailuo_sim: SimHandle) -> None:
    events = turn(hailuo_provider(hailuo_sim.url, login=Login("eyJ-not-a-login", DEMO_DEVICE_ID, DEMO_USER_ID)))
    assert final_of(events).error.kind == "credentials"
    assert "HTTP 401" in str(final_of(events).error)


def test_no_login_at_all_says_where_to_put_one() -> None:
    events = turn(hailuo_provider(f"http://127.0.0.1:{free_port()}", login=None))
    error = final_of(events).error
    assert error.kind == "credentials" and "Settings" in str(error)


def test_an_error_in_the_middle_keeps_the_text_and_the_chat(hailuo_sim: SimHandle) -> None:
    sim: HailuoSimulator = hailuo_sim.sim
    sim.script.chunks, sim.script.error_after = ["Half ", "an ", "answer"], 2
    sim.script.error_text, sim.script.error_code = "The model is overloaded", 1500002
    events = turn(hailuo_provider(hailuo_sim.url))
    assert text_of(events) == "Half an "
    assert str(final_of(events).error) == "HailuoAI reported an error: The model is overloaded (code 1500002)"
    assert state_of(events)["chatID"] in sim.chats  # the chat exists: the next turn continues it


def tamper(app: Callable[..., Any]) -> Callable[..., Any]:
    """An ASGI middleware that changes one query value on the way, as a meddling proxy would."""

    async def changed(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope = {**scope, "query_string": scope["query_string"].replace(b"lang=en", b"lang=de")}
        await app(scope, receive, send)

    return changed


def test_a_bad_signature_is_refused_in_the_backends_words(
    hailuo_server: tuple[_Swappable, str], hailuo_sim: SimHandle
) -> None:
    dispatch, _url = hailuo_server
    dispatch.app = tamper(hailuo_sim.sim.app)
    events = turn(hailuo_provider(hailuo_sim.url))
    assert hailuo_sim.sim.requests[-1].query["lang"] == "de"
    error = final_of(events).error
    assert error.exception == "ProviderError"
    assert str(error) == f"HailuoAI reported an error: Invalid request signature (code {BAD_SIGNATURE})"


def test_the_timestamp_is_fresh_for_every_request(hailuo_sim: SimHandle) -> None:
    """Why it is not kept from login: a server that checks freshness refuses an old one (§7.1)."""
    times = iter([time.time_ns() // 1_000_000 + offset for offset in (0, 1500)])
    provider = HailuoAI(DEMO_LOGIN, base_url=hailuo_sim.url, clock=lambda: next(times))
    first = turn(provider)
    turn(provider, follow_up(HISTORY, text_of(first), "More"), state_of(first))
    stamps = [int(r.query["unix"]) for r in hailuo_sim.sim.requests]
    assert stamps[1] - stamps[0] == 1500

    logged_in_long_ago = HailuoAI(DEMO_LOGIN, base_url=hailuo_sim.url, clock=lambda: 1737800000000)
    stale = turn(logged_in_long_ago)
    assert f"(code {STALE_REQUEST})" in str(final_of(stale).error)
    hailuo_sim.sim.script.max_skew = None  # the same request is fine when freshness is not enforced
    assert final_of(turn(logged_in_long_ago)).reason == "stop"


def test_hanging_up_mid_answer_is_seen_by_the_server(hailuo_sim: SimHandle) -> None:
    hailuo_sim.sim.script.chunks, hailuo_sim.sim.script.disconnect_after = ["a ", "b ", "c "], 2
    events = turn(hailuo_provider(hailuo_sim.url))
    assert text_of(events) == "a b " and final_of(events).error.kind == "unavailable"
    assert "HailuoAI" in str(final_of(events).error)


# --- Settings: the connection check and the login values ------------------------------------------


def test_check_accepts_a_valid_login_and_hangs_up_after_the_verdict(hailuo_sim: SimHandle) -> None:
    sim: HailuoSimulator = hailuo_sim.sim
    sim.script.chunks, sim.script.chunk_delay = [f"word{i} " for i in range(50)], 0.02
    message = run(hailuo_provider(hailuo_sim.url).check())
    assert message.startswith("HailuoAI accepted the login")
    [sent] = sim.chat_requests()
    assert (sent.form["msgContent"], sent.form["chatID"]) == (CHECK_MESSAGE, "0")
    assert wait_for(lambda: sim.disconnects == 1), "the check should not wait for the whole answer"


@pytest.mark.parametrize("how", ["status", "401"])
def test_check_tells_an_expired_login(hailuo_sim: SimHandle, how: str) -> None:
    hailuo_sim.sim.expire(DEMO_TOKEN, how)
    with pytest.raises(CredentialsError, match="HailuoAI login expired: paste a fresh token"):
        run(hailuo_provider(hailuo_sim.url).check())


def test_check_of_an_unreachable_server_is_unavailable() -> None:
    with pytest.raises(UnavailableError):
        run(hailuo_provider(f"http://127.0.0.1:{free_port()}").check())


def test_login_values_are_cleaned_and_all_three_are_needed() -> None:
    login = Login.from_values({"token": '  "eyJabc"\n', "device_id": " 123 ", "user_id": "'u-1'"})
    assert login == Login("eyJabc", "123", "u-1")
    assert "eyJabc" not in repr(login)
    assert Login.from_values({"token": "eyJabc", "device_id": "123", "user_id": " "}) is None
    assert Login.from_values(None) is None


def test_info_describes_where_each_value_lives() -> None:
    fields = {f.name: f for f in INFO.credential_fields}
    assert list(fields) == ["token", "device_id", "user_id"]
    assert [f.env for f in fields.values()] == [
        "CHATDECK_HAILUO_TOKEN", "CHATDECK_HAILUO_DEVICE_ID", "CHATDECK_HAILUO_USER_ID",
    ]
    assert "`_token`" in fields["token"].help and "`USER_HARD_WARE_INFO`" in fields["device_id"].help
    assert "`UNIQUE_USER_ID`" in fields["user_id"].help
    for key in ("_token", "USER_HARD_WARE_INFO", "UNIQUE_USER_ID", "Local Storage", "Check connection"):
        assert key in INFO.setup_help
    assert INFO.needs_credentials and registry.BACKENDS["hailuo"] is INFO


def test_the_factory_reads_the_url_and_the_servers_login_from_the_environment(
    hailuo_sim: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATDECK_HAILUO_URL", hailuo_sim.url)
    assert INFO.server_credentials() is None
    for name, value in (("TOKEN", DEMO_TOKEN), ("DEVICE_ID", DEMO_DEVICE_ID), ("USER_ID", DEMO_USER_ID)):
        monkeypatch.setenv(f"CHATDECK_HAILUO_{name}", value)
    provider = registry.create("hailuo", None, INFO.server_credentials())
    assert isinstance(provider, Guarded) and isinstance(provider.backend, HailuoAI)  # guarded by the registry
    assert provider.backend.login == DEMO_LOGIN
    assert final_of(turn(provider.backend)).reason == "stop"
    assert create(None, None).login is None


def test_the_model_list_needs_no_network() -> None:
    models = run(hailuo_provider(f"http://127.0.0.1:{free_port()}").list_models())
    assert [m.id for m in models] == ["minimax"] and INFO.resolve_model("MiniMax") == "minimax"


# --- the simulator's own strictness ---------------------------------------------------------------


def signed_post(url: str, *, token: str = DEMO_TOKEN, fields: dict[str, str] | None = None,
                query_change: Callable[[str], str] = lambda q: q, sign: bool = True) -> httpx.Response:
    form = fields or {"characterID": "1", "msgContent": "Hi", "chatID": "0", "searchMode": "0"}
    unix = time.time_ns() // 1_000_000
    path = f"{CHAT_PATH}?{query_change(device_query(DEMO_USER_ID, DEMO_DEVICE_ID, unix))}"
    signature = yy(path, form.get("characterID", ""), form.get("msgContent", ""), form.get("chatID", ""), unix)
    headers = {"token": token, "yy": signature if sign else "0" * 32}
    return httpx.post(url + path, files={k: (None, v) for k, v in form.items()}, headers=headers)


def status_code_of(response: httpx.Response) -> int:
    return response.json()["statusInfo"]["code"]


def test_simulator_refuses_what_the_real_server_would(hailuo_sim: SimHandle) -> None:
    url = hailuo_sim.url
    assert signed_post(url).headers["content-type"].startswith("text/event-stream")
    assert signed_post(url, token="").status_code == 401
    assert status_code_of(signed_post(url, sign=False)) == BAD_SIGNATURE
    assert status_code_of(signed_post(url, query_change=lambda q: q.replace("&biz_id=2", ""))) == INVALID_PARAMS
    fields = {"characterID": "1", "msgContent": "Hi", "chatID": "0"}  # no searchMode
    assert status_code_of(signed_post(url, fields=fields)) == INVALID_PARAMS
    fields = {"characterID": "1", "msgContent": "Hi", "chatID": "77", "searchMode": "0"}
    assert status_code_of(signed_post(url, fields=fields)) == CHAT_NOT_FOUND
    urlencoded = httpx.post(url + CHAT_PATH, data={"characterID": "1"}, headers={"token": DEMO_TOKEN})
    assert status_code_of(urlencoded) == INVALID_PARAMS
    assert [r.status for r in hailuo_sim.sim.requests] == [200, 401, 200, 200, 200, 200, 200]
    assert len(hailuo_sim.sim.chats) == 1  # only the accepted request opened a chat


def test_simulator_accepts_the_documented_request_with_its_signature(hailuo_sim: SimHandle) -> None:
    """§5.3's turn-1 request, with its worked-example yy, verified by the simulator's own code."""
    token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE3NDAwMDAwMDB9.c2lnbmF0dXJl"
    hailuo_sim.sim.add_account(token, DEMO_DEVICE_ID, DEMO_USER_ID)
    hailuo_sim.sim.script.max_skew = None  # the example was signed in January 2025
    path = f"{CHAT_PATH}?{device_query(DEMO_USER_ID, DEMO_DEVICE_ID, 1737800000000)}"
    form = {"characterID": "1", "msgContent": "System: Be brief.\nUser: Hello\nAssistant:", "chatID": "0",
            "searchMode": "0"}
    headers = {"token": token, "yy": "2149af80cc02de5b71209623a44c0550"}
    response = httpx.post(hailuo_sim.url + path, files={k: (None, v) for k, v in form.items()}, headers=headers)
    assert response.status_code == 200 and response.text.startswith("event:send_result\ndata:")
    assert response.text.endswith('event:close_chunk\ndata:{"type":8,"statusInfo":{"code":0,"httpCode":0,'
                                  '"message":"Success"},"data":{}}\n\n')


def test_simulator_runs_standalone() -> None:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "simulators.hailuo", "--port", str(port), "--chunk-delay", "0"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: _answers(url), timeout=15), "the standalone simulator did not come up"
        events = turn(hailuo_provider(url), (ChatMessage("user", "Hello there"),))
        assert "Hello there" in text_of(events) and final_of(events).reason == "stop"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        return httpx.post(url + CHAT_PATH, timeout=1).status_code == 401
    except httpx.HTTPError:
        return False
