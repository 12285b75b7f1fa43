"""HailuoAI's wire format without the simulator: the ``yy`` signature's worked vectors
(web-backends.md §3.3.1), the device query, the SSE reader and the reply parser, and the fixture
bodies X1–X4 (§5.3) served verbatim over loopback HTTP."""

# ruff: noqa: E501  (the fixture bodies below are copied verbatim and are long)

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from providers.base import Guarded
from providers.errors import CredentialsError, ProviderError, UnavailableError, UnexpectedResponseError
from providers.events import ChatMessage, ChatRequest, Drift, Event, Finished, StateUpdate, TextDelta, Title
from providers.hailuo import HailuoAI, Login
from providers.hailuo_sign import CHAT_PATH, body_to_yy, device_query, encode_path, form_encode, md5_hex, yy
from providers.hailuo_wire import ReplyParser, parse_stream, sse_events
from runner.accumulator import Accumulator
from simulators.serve import serve
from tests.sim_fixtures import collect, run

# --- §3.3.1 worked example ----------------------------------------------------------------------

USER_ID = "0c7f0a1e-3b6d-4d2a-9f1e-2b5c8d7e6f01"
DEVICE_ID = "312345678901234567"
TIMESTAMP = 1737800000000
PATH_AND_QUERY = (
    "/v4/api/chat/msg?device_platform=web&biz_id=2&app_id=3001&version_code=22201&lang=en"
    "&uuid=0c7f0a1e-3b6d-4d2a-9f1e-2b5c8d7e6f01&device_id=312345678901234567&os_name=Windows&browser_name=chrome"
    "&cpu_core_num=8&browser_language=en-US&browser_platform=Win32&screen_width=1920&screen_height=1080"
    "&unix=1737800000000"
)
ENCODED_PATH = "%2Fv4%2Fapi%2Fchat%2Fmsg%3Fdevice_platform%3Dweb%26biz_id%3D2%26app_id%3D3001%26version_code%3D22201%26lang%3Den%26uuid%3D0c7f0a1e-3b6d-4d2a-9f1e-2b5c8d7e6f01%26device_id%3D312345678901234567%26os_name%3DWindows%26browser_name%3Dchrome%26cpu_core_num%3D8%26browser_language%3Den-US%26browser_platform%3DWin32%26screen_width%3D1920%26screen_height%3D1080%26unix%3D1737800000000"
TURN_1 = "System: Be brief.\nUser: Hello\nAssistant:"

X1 = '''\
event:send_result
data:{"type":1,"statusInfo":{"code":0,"httpCode":0,"message":"Success","serviceTime":1737800001,"requestID":"a4f6c2e1-6b1e-4c39-9d55-0f6f2b8e7c10","debugInfo":"","isAnonymous":false},"data":{"sendResult":{"userMsgID":"283746512398745601","chatID":"283746512398745600","systemMsgID":"283746512398745602","chatTitle":"Friendly Greeting"}}}

event:message_result
data:{"type":2,"statusInfo":{"code":0,"httpCode":0,"message":"Success"},"data":{"messageResult":{"chatID":"283746512398745600","msgID":"283746512398745602","content":"Hi","isEnd":1}}}

event:message_result
data:{"type":2,"statusInfo":{"code":0,"httpCode":0,"message":"Success"},"data":{"messageResult":{"chatID":"283746512398745600","msgID":"283746512398745602","content":"Hi there!","isEnd":1}}}

event:message_result
data:{"type":2,"statusInfo":{"code":0,"httpCode":0,"message":"Success"},"data":{"messageResult":{"chatID":"283746512398745600","msgID":"283746512398745602","content":"Hi there! How can I help you today?","isEnd":0}}}

event:close_chunk
data:{"type":8,"statusInfo":{"code":0,"httpCode":0,"message":"Success"},"data":{}}

'''
X2 = '''\
: ping

event: send_result
data: {"type":1,"statusInfo":{"code":0,"httpCode":0,"message":"Success"},"data":{"sendResult":{"userMsgID":"283746512398745603","chatID":"283746512398745600","systemMsgID":"283746512398745604"}}}

event: message_result
data: {"type":2,"statusInfo":{"code":0,"httpCode":0,"message":"Success"},"data":{"messageResult":{"chatID":"283746512398745600","msgID":"283746512398745604","content":"Why did","isEnd":1}}}

data: {not json

event: message_result
data: {"type":2,"statusInfo":{"code":0,"httpCode":0,"message":"Success"},"data":{"messageResult":{"chatID":"283746512398745600","msgID":"283746512398745604","content":"Why did","isEnd":1}}}

event: message_result
data: {"type":2,"statusInfo":{"code":0,"httpCode":0,"message":"Success"},"data":{"messageResult":{"chatID":"283746512398745600","msgID":"283746512398745604","content":"Why did the scarecrow win an award? Because he was outstanding in his field.","isEnd":0}}}

event: follow_up_question_result
data: {"type":4,"statusInfo":{"code":0,"httpCode":0,"message":"Success"},"data":{"messageResult":{"content":"Why did the scarecrow win an award? Because he was outstanding in his field.","isEnd":0},"extra":{"netSearchStatus":{"linkDetail":[]}}}}

event: close_chunk
data: {"type":8,"statusInfo":{"code":0,"httpCode":0,"message":"Success"},"data":{}}

'''
X3 = '''\
event:send_result
data:{"type":3,"statusInfo":{"code":1200036,"httpCode":0,"message":"Token expired, please log in again"},"data":{}}

event:close_chunk
data:{"type":8,"statusInfo":{"code":0,"httpCode":0,"message":"Success"},"data":{}}

'''


C4CA, CFCD, EMPTY = "c4ca4238a0b923820dcc509a6f75849b", "cfcd208495d565ef66e7dff9f98764da", "d41d8cd98f00b204e9800998ecf8427e"


def test_the_worked_example_query_time_hash_and_encoded_path() -> None:
    assert f"{CHAT_PATH}?{device_query(USER_ID, DEVICE_ID, TIMESTAMP)}" == PATH_AND_QUERY
    assert md5_hex(str(TIMESTAMP)) == "2c12c12c58b11a2ab47f2b34fc202b68"
    assert encode_path(PATH_AND_QUERY) == ENCODED_PATH


@pytest.mark.parametrize(
    ("content", "chat_id", "parts", "expected"),
    [
        (TURN_1, "0", (C4CA, "022e9b1e2a4a26313a0da962209bf331", CFCD, EMPTY), "2149af80cc02de5b71209623a44c0550"),
        ("Tell me a joke", "283746512398745600",
         (C4CA, "1c039df35e0209df2a06ff38bd6e73fd", "5e82234a09dd5d41a360274170367765", EMPTY),
         "c2a3002af0f8e653ecbd62b84248cda2"),
        ("Ünïcødé ✓\r\nline2", "0", (C4CA, "b06ae498ee4c391d46631c7f111d5f5b", CFCD, EMPTY),
         "5df5126856c7d8f6b9f28e84d9eb812a"),
    ],
    ids=["turn-1", "turn-2", "non-ascii-crlf"],
)
def test_yy_worked_vectors(content: str, chat_id: str, parts: tuple[str, ...], expected: str) -> None:
    assert body_to_yy("1", content, chat_id) == "".join(parts)
    assert yy(PATH_AND_QUERY, "1", content, chat_id, TIMESTAMP) == expected


def test_yy_cross_check_vector_of_an_independent_js_port() -> None:
    path = "/v4/api/chat/msg?device_platform=web&biz_id=2&app_id=3001"
    assert yy(path, "1", "hello world", "0", 1700000000000) == "6893d64988ecf45b1de1808b91ae855b"


def test_line_breaks_are_not_signed_but_everything_else_is() -> None:
    signed = yy(PATH_AND_QUERY, "1", "a\r\nb\nc\rd", "0", TIMESTAMP)
    assert signed == yy(PATH_AND_QUERY, "1", "abcd", "0", TIMESTAMP)
    others = {
        yy(PATH_AND_QUERY, "1", "ab cd", "0", TIMESTAMP),
        yy(PATH_AND_QUERY, "2", "abcd", "0", TIMESTAMP),
        yy(PATH_AND_QUERY, "1", "abcd", "1", TIMESTAMP),
        yy(PATH_AND_QUERY, "1", "abcd", "0", TIMESTAMP + 1),
        yy(PATH_AND_QUERY.replace("lang=en", "lang=de"), "1", "abcd", "0", TIMESTAMP),
    }
    assert signed not in others and len(others) == 5


def test_query_values_are_encoded_as_urlsearchparams_does() -> None:
    assert form_encode("en US") == "en+US"
    assert form_encode("a~b*c-d_e.f") == "a%7Eb*c-d_e.f"
    assert form_encode("ü/&=+") == "%C3%BC%2F%26%3D%2B"
    query = device_query("a b&c", "null-ish", 5)
    assert "&uuid=a+b%26c&device_id=null-ish&" in query and query.endswith("&unix=5")
    keys = [pair.split("=")[0] for pair in query.split("&")]
    assert keys[:5] == ["device_platform", "biz_id", "app_id", "version_code", "lang"] and len(keys) == 15


# --- the SSE reader and the reply parser ---------------------------------------------------------


def sse(event: str, content: str | None = None, **data: object) -> bytes:
    """One event as HailuoAI writes it (raw UTF-8 JSON); ``content`` makes a message_result."""
    body = {"messageResult": {"content": content}} if content is not None else data
    return f"event:{event}\ndata:{json.dumps({'statusInfo': {'code': 0}, 'data': body}, ensure_ascii=False)}\n\n".encode()


CLOSE = b"event:close_chunk\ndata:{}\n\n"


async def pieces(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def read_sse(body: bytes, size: int) -> list[tuple[str, str]]:
    return run(collect(sse_events(pieces(body, size))))  # type: ignore[arg-type]


def parse(body: bytes, size: int = 7) -> list[Event]:
    return run(collect(parse_stream(ReplyParser({"characterID": "1"}), pieces(body, size))))


def test_sse_reader_spacing_comments_crlf_multiline_data_and_stop_at_close_chunk() -> None:
    body = (
        b": ping\r\nevent: a\r\ndata: 1\r\ndata:2\r\n\r\nid: 7\ndata:{\"x\": \"\xc3\xbc\xe2\x9c\x93\"}\n\n"
        b"event:close_chunk\ndata:never read\n\nevent:after\ndata:x\n\n"
    )
    expected = [("a", "1\n2"), ("message", '{"x": "ü✓"}'), ("close_chunk", "")]
    assert all(read_sse(body, size) == expected for size in (1, 2, 3, len(body)))


def test_sse_reader_keeps_a_last_event_without_blank_line_and_marks_one_that_is_not_utf8() -> None:
    assert read_sse(b"event:a\ndata:ok", 4) == [("a", "ok")]
    assert read_sse(b"event:a\ndata:\xff\xfe\ndata:ok\n\nevent:b\ndata:1", 4) == [
        Drift("a line that is not UTF-8", "data:\ufffd\ufffd"), ("b", "1"),
    ]


def test_fixture_x1_from_any_network_split() -> None:
    for size in (1, 2, 3, 5, 64, len(X1)):
        events = parse(X1.encode(), size)
        assert events == [
            Title("Friendly Greeting"),
            StateUpdate({"characterID": "1", "chatID": "283746512398745600"}),
            TextDelta("Hi"), TextDelta(" there!"), TextDelta(" How can I help you today?"),
            Finished("stop"),
        ], size


def test_cumulative_content_rewrites_and_repeats() -> None:
    snapshots = ["Hello wor", "Hello world", "Hello world", "", "Goodbye", "Goodbye!"]
    events = parse(b"".join(sse("message_result", s) for s in snapshots) + CLOSE)
    assert events[:-1] == [
        TextDelta("Hello wor"), TextDelta("ld"), TextDelta("Goodbye", replace=True), TextDelta("!"),
    ]
    turn = Accumulator()
    for event in events:
        turn.apply(event)
    assert turn.text == "Goodbye!"


@given(text=st.text(min_size=1, max_size=40), cuts=st.lists(st.integers(0, 40), max_size=6), size=st.integers(1, 30))
@settings(max_examples=150, deadline=None)
def test_growing_content_from_any_split_gives_the_text_once(text: str, cuts: list[int], size: int) -> None:
    steps = [*sorted({min(cut, len(text)) for cut in cuts}), len(text)]
    events = parse(b"".join(sse("message_result", text[:n]) for n in steps) + CLOSE, size)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert "".join(d.text for d in deltas) == text and not any(d.replace for d in deltas)


@given(snapshots=st.lists(st.text(max_size=12), min_size=1, max_size=8), size=st.integers(1, 30))
@settings(max_examples=150, deadline=None)
def test_the_answer_is_always_the_last_snapshot(snapshots: list[str], size: int) -> None:
    turn = Accumulator()
    for event in parse(b"".join(sse("message_result", s) for s in snapshots) + CLOSE, size):
        turn.apply(event)
    assert turn.text == next((s for s in reversed(snapshots) if s), "")


@pytest.mark.parametrize(
    ("message", "kind", "words"),
    [
        ("Token expired, please log in again", CredentialsError, "HailuoAI login expired: paste a fresh token"),
        ("请重新登录", CredentialsError, "HailuoAI login expired"),
        ("The model is busy, try again later", ProviderError, "The model is busy, try again later (code 7)"),
    ],
)
def test_a_status_error_ends_the_answer_after_the_text_so_far(message: str, kind: type, words: str) -> None:
    error = json.dumps({"statusInfo": {"code": 7, "message": message}, "data": {}}, ensure_ascii=False)
    body = sse("message_result", "Partial") + f"event:message_result\ndata:{error}\n\n".encode() + CLOSE
    seen: list[Event] = []

    async def go() -> None:
        async for event in parse_stream(ReplyParser({}), pieces(body, 5)):
            seen.append(event)

    with pytest.raises(kind) as raised:
        run(go())
    assert type(raised.value) is kind and words in str(raised.value)
    assert seen == [TextDelta("Partial")]


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (b"event:send_result\ndata:{\"statusInfo\":{\"code\":0},\"data\":{\"sendRes\":{}}}\n\n" + CLOSE, "sendResult"),
        (sse("message_result", None, messageResult={"text": "Hi"}) + CLOSE, "content"),
    ],
    ids=["send_result-renamed", "content-renamed"],
)
def test_renamed_keys_are_reported_as_drift(body: bytes, what: str) -> None:
    with pytest.raises(UnexpectedResponseError, match=f"HailuoAI protocol changed.*{what}"):
        parse(body)


def test_a_body_ending_before_close_chunk_is_unavailable_after_its_text() -> None:
    seen: list[Event] = []

    async def go() -> None:
        async for event in parse_stream(ReplyParser({}), pieces(sse("message_result", "Half"), 3)):
            seen.append(event)

    with pytest.raises(UnavailableError, match="before the end"):
        run(go())
    assert seen == [TextDelta("Half")]


def test_a_numeric_chat_id_and_unknown_events_are_taken_in_stride_and_bad_json_is_marked() -> None:
    body = (
        b"event:send_result\ndata:{\"statusInfo\":{\"code\":0},\"data\":{\"sendResult\":{\"chatID\":42}}}\n\n"
        b"event:message_result\ndata:{broken\n\n" + sse("sim_new_event", "ignored") + sse("message_result", "ok") + CLOSE
    )
    assert parse(body) == [
        StateUpdate({"characterID": "1", "chatID": "42"}), Drift("a line that is not JSON", "{broken"),
        TextDelta("ok"), Finished("stop"),
    ]


# --- the fixture bodies over loopback HTTP -------------------------------------------------------


@dataclass
class Canned:
    status: int = 200
    content_type: str = "text/event-stream"
    payload: bytes = b""
    headers: dict[str, str] | None = None
    forms: list[dict[str, str]] | None = None


@pytest.fixture(scope="module")
def canned_server() -> Iterator[tuple[str, Canned]]:
    canned = Canned(forms=[])

    async def reply(request: Request) -> Response:
        async with request.form() as form:
            canned.forms.append({k: str(v) for k, v in form.items()})  # type: ignore[union-attr]
        return Response(canned.payload, canned.status, headers=canned.headers, media_type=canned.content_type)

    with serve(Starlette(routes=[Route("/v4/api/chat/msg", reply, methods=["POST"])])) as url:
        yield url, canned


LOGIN = Login("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE3NDAwMDAwMDB9.c2lnbmF0dXJl", DEVICE_ID, USER_ID)
HELLO = (ChatMessage("system", "Be brief."), ChatMessage("user", "Hello"))


def canned_turn(
    server: tuple[str, Canned], payload: str | bytes, *, state: dict | None = None, messages=HELLO, **reply: object
) -> list[Event]:
    url, canned = server
    canned.payload = payload.encode() if isinstance(payload, str) else payload
    canned.status, canned.content_type, canned.headers = 200, "text/event-stream", None
    for key, value in reply.items():
        setattr(canned, key, value)
    provider = HailuoAI(LOGIN, base_url=url)
    return run(collect(Guarded(provider).stream(ChatRequest("minimax", messages, state=state or {}))))


def test_fixture_x1_first_turn(canned_server: tuple[str, Canned]) -> None:
    events = canned_turn(canned_server, X1)
    assert canned_server[1].forms[-1] == {"characterID": "1", "msgContent": TURN_1, "chatID": "0", "searchMode": "0"}
    assert events == [
        Title("Friendly Greeting"),
        StateUpdate({"characterID": "1", "account": LOGIN.account, "chatID": "283746512398745600"}),
        TextDelta("Hi"), TextDelta(" there!"), TextDelta(" How can I help you today?"),
        Finished("stop"),
    ]


def test_fixture_x2_follow_up_with_edge_cases(canned_server: tuple[str, Canned]) -> None:
    state = {"characterID": "1", "account": LOGIN.account, "chatID": "283746512398745600"}
    history = (*HELLO, ChatMessage("assistant", "Hi there!"), ChatMessage("user", "Tell me a joke"))
    events = canned_turn(canned_server, X2, state=state, messages=history)
    assert canned_server[1].forms[-1]["msgContent"] == "Tell me a joke"
    assert canned_server[1].forms[-1]["chatID"] == "283746512398745600"
    assert events == [
        StateUpdate(state),
        TextDelta("Why did"),
        TextDelta(" the scarecrow win an award? Because he was outstanding in his field."),
        Finished("stop"),
    ]


def test_fixture_x3_in_stream_expired_token(canned_server: tuple[str, Canned]) -> None:
    events = canned_turn(canned_server, X3)
    assert len(events) == 1 and events[0].reason == "error"  # type: ignore[union-attr]
    error = events[0].error  # type: ignore[union-attr]
    assert error.kind == "credentials"
    assert str(error).startswith("HailuoAI login expired: paste a fresh token in Settings")
    assert "Token expired, please log in again" in str(error) and LOGIN.token not in str(error)


@pytest.mark.parametrize(
    ("reply", "kind", "words"),
    [
        ({"status": 401, "content_type": "application/json", "payload": b'{"statusInfo":{"code":1004,"message":"unauthorized"}}'},
         "credentials", "HailuoAI login expired: paste a fresh token in Settings (HailuoAI said: HTTP 401, “unauthorized”, code 1004)"),
        ({"status": 401, "content_type": "text/plain", "payload": b"Unauthorized"}, "credentials", "HTTP 401, “Unauthorized”"),
        ({"content_type": "application/json", "payload": b'{"statusInfo":{"code":1000003,"message":"Invalid request signature"},"data":{}}'},
         "provider", "HailuoAI reported an error: Invalid request signature (code 1000003)"),
        ({"status": 502, "content_type": "application/json", "payload": b'{"statusInfo":{"code":5,"message":"upstream busy"}}'},
         "unavailable", "HailuoAI is unavailable (HTTP 502): upstream busy (code 5)"),
        ({"status": 429, "content_type": "application/json", "headers": {"Retry-After": "7"},
          "payload": b'{"statusInfo":{"code":9,"message":"slow down"}}'}, "http_status", "rate limited (retry after 7 s): slow down"),
        ({"content_type": "text/html", "payload": b"<!doctype html><html>login</html>"},
         "unexpected_response", "HTTP 200 with an HTML page"),
        ({"status": 403, "content_type": "text/html", "payload": b"<html>Forbidden</html>"},
         "http_status", "HTTP 403: the server answered with an HTML page"),
    ],
    ids=["x4-401", "401-plain", "200-json-signature", "502-envelope", "429", "200-html", "403-html"],
)
def test_error_answers(canned_server: tuple[str, Canned], reply: dict, kind: str, words: str) -> None:
    events = canned_turn(canned_server, **reply)
    assert [type(e) for e in events] == [Finished]
    error = events[0].error  # type: ignore[union-attr]
    assert error.kind == kind and words in str(error), repr(error)
    assert error.backend == "HailuoAI" and LOGIN.token not in str(error)
