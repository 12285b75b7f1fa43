"""HuggingChat over loopback HTTP: login, models, per-model conversations, message ids, images, the stream.

The provider runs unmodified (curl_cffi) against simulators/huggingchat.py; wire-format details are
checked with the protocol document's fixtures in tests/test_huggingchat_wire.py.
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from providers.base import Guarded
from providers.errors import CredentialsError, HTTPStatusError, UnavailableError
from providers.events import (
    AnsweredBy,
    Attachment,
    ChatMessage,
    ChatRequest,
    Event,
    Finished,
    Image,
    Options,
    ReasoningDelta,
    Sources,
    StateUpdate,
    Title,
)
from providers.huggingchat import INFO, create
from simulators.common import ForcedError
from simulators.huggingchat import DEMO_SESSION
from simulators.huggingchat_wire import MESSAGE_FIELDS
from tests.sim_fixtures import SimHandle, collect, free_port, run, text_of
from tests.sim_huggingchat import DEMO_COOKIES, provider

MODEL = "Qwen/Qwen2.5-72B-Instruct"
VISION = "meta-llama/Llama-3.2-11B-Vision-Instruct"
PNG = base64.b64decode(  # a 1x1 PNG (fixture §5.1.4)
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def ask(handle: SimHandle, *texts: str, state: dict | None = None, model: str = MODEL, **kwargs: object) -> list[Event]:
    """One turn whose history alternates user/assistant texts (the last is the new user message)."""
    messages = tuple(ChatMessage("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(texts))
    options = kwargs.pop("options", Options())
    request = ChatRequest(model=model, messages=messages, options=options, state=state or {})  # type: ignore[arg-type]
    return run(collect(Guarded(provider(handle, **kwargs)).stream(request)))  # type: ignore[arg-type]


def final(events: list[Event]) -> Finished:
    assert isinstance(events[-1], Finished)
    return events[-1]


def state_of(events: list[Event]) -> dict:
    updates = [e for e in events if isinstance(e, StateUpdate)]
    assert len(updates) == 1, events
    return dict(updates[0].state)


# --- conversations and continuation ---------------------------------------------------------------------


def test_first_turn_creates_a_conversation_and_sends_the_formatted_history(huggingchat_sim: SimHandle) -> None:
    sim = huggingchat_sim.sim
    sim.script.chunks = ["Hi", " there"]
    events = ask(huggingchat_sim, "Hello", "Earlier answer", "What now?")
    assert text_of(events) == "Hi there" and final(events).reason == "stop"
    state = state_of(events)
    conversation = sim.conversations[state["conversationId"]]
    assert state["messageId"] == conversation.messages[-1].id and conversation.messages[-1].role == "assistant"
    sent = sim.sent()[0]
    assert sent["inputs"] == "User: Hello\nAssistant: Earlier answer\nUser: What now?\nAssistant:"
    assert sent["id"] == conversation.messages[0].id  # the root system message
    assert set(sent) <= MESSAGE_FIELDS and sim.dropped == []  # no field the server would drop (web_search, tools)
    create_call = next(r for r in sim.requests if r.path == "/chat/conversation")
    assert create_call.json_body == {"model": MODEL}
    post = sim.message_posts()[0]
    assert post.headers["origin"] == huggingchat_sim.url and "hf-chat=" in post.headers["cookie"]


def test_follow_up_sends_only_the_new_message_with_the_saved_parent(huggingchat_sim: SimHandle) -> None:
    sim = huggingchat_sim.sim
    first = state_of(ask(huggingchat_sim, "One"))
    events = ask(huggingchat_sim, "One", "Answer one", "Two", state=first)
    second = state_of(events)
    assert second["conversationId"] == first["conversationId"]
    assert sim.sent()[1]["inputs"] == "Two" and sim.sent()[1]["id"] == first["messageId"]
    assert len([r for r in sim.requests if r.path == "/chat/conversation"]) == 1  # no new conversation
    conversation = sim.conversations[first["conversationId"]]
    assert [m.role for m in conversation.messages] == ["system", "user", "assistant", "user", "assistant"]
    assert second["messageId"] == conversation.messages[-1].id


def test_a_model_switch_starts_that_models_own_conversation(huggingchat_sim: SimHandle) -> None:
    sim = huggingchat_sim.sim
    qwen = state_of(ask(huggingchat_sim, "One"))
    llama = state_of(ask(huggingchat_sim, "One", "Answer one", "Two", model="llama-3.3-70b"))  # the seed's alias
    assert llama["conversationId"] != qwen["conversationId"]
    assert sim.conversations[llama["conversationId"]].model == "meta-llama/Llama-3.3-70B-Instruct"
    assert sim.sent()[1]["inputs"] == "User: One\nAssistant: Answer one\nUser: Two\nAssistant:"


@pytest.mark.parametrize("v2_status", [None, 404], ids=["v2-api", "data-json-fallback"])
def test_the_parent_id_is_read_from_v2_or_from_data_json(huggingchat_sim: SimHandle, v2_status: int | None) -> None:
    sim = huggingchat_sim.sim
    sim.script.v2_status = v2_status
    first = state_of(ask(huggingchat_sim, "One"))
    # without a saved messageId the provider looks the parent up (as after a failed lookup)
    ask(huggingchat_sim, "One", "A", "Two", state={"conversationId": first["conversationId"]})
    conversation = sim.conversations[first["conversationId"]]
    assert sim.sent()[1]["id"] == conversation.messages[2].id == first["messageId"]
    paths = [r.path for r in sim.requests if r.method == "GET"]
    data_reads = [p for p in paths if p.endswith("/__data.json")]
    assert bool(data_reads) == (v2_status == 404)
    if data_reads:
        assert all(r.query == {"x-sveltekit-invalidated": "11"} for r in sim.requests if r.path.endswith(".json"))


def test_a_new_server_includes_the_conversation_so_no_lookup_is_needed(huggingchat_sim: SimHandle) -> None:
    sim = huggingchat_sim.sim
    sim.script.include_conversation = True
    ask(huggingchat_sim, "Hi")
    before_post = sim.requests[: sim.requests.index(sim.message_posts()[0])]
    assert [r.path for r in before_post] == ["/chat/conversation"]


# --- the stream ------------------------------------------------------------------------------------------


def test_reasoning_title_sources_router_and_padding(huggingchat_sim: SimHandle) -> None:
    sim = huggingchat_sim.sim
    sim.script.chunks = ["Lyon has", " about 520,000 inhabitants."]
    sim.script.thinking = "The user asks about Lyon"
    sim.script.title = "Lyon population"
    sim.script.sources = [("https://en.wikipedia.org/wiki/Lyon", "Lyon"), ("https://insee.fr/s?utm_source=chat", "")]
    sim.script.router_model = "Qwen/Qwen3-235B"
    sim.script.reasoning_style = "typed"  # models with the older reasoning configuration
    events = ask(huggingchat_sim, "How many people live in Lyon?")
    assert text_of(events) == "Lyon has about 520,000 inhabitants."  # NUL padding gone
    reasoning = [e for e in events if isinstance(e, ReasoningDelta)]
    assert "".join(e.text for e in reasoning) == "The user asks about Lyon"
    assert [e.status for e in reasoning if e.status] == ["Started reasoning...", "Done in 1s."]
    assert [e.title for e in events if isinstance(e, Title)] == ["Lyon population"]
    sources = [s for e in events if isinstance(e, Sources) for s in e.items]
    assert [s.url for s in sources] == ["https://en.wikipedia.org/wiki/Lyon", "https://insee.fr/s"]
    assert [e.model for e in events if isinstance(e, AnsweredBy)] == ["Qwen/Qwen3-235B"]
    assert final(events).reason == "stop"


def test_final_answer_web_sources_are_read_too(huggingchat_sim: SimHandle) -> None:
    sim = huggingchat_sim.sim
    sim.script.sources, sim.script.web_sources_final = [("https://a.example/x", "A")], True
    events = ask(huggingchat_sim, "Search")
    assert [s.url for e in events if isinstance(e, Sources) for s in e.items] == ["https://a.example/x"]


def test_an_image_goes_out_as_a_base64_part(huggingchat_sim: SimHandle) -> None:
    sim = huggingchat_sim.sim
    request = ChatRequest(
        model="meta-llama/Llama-3.2-11B-Vision-Instruct",
        messages=(ChatMessage("user", "What is in this picture?", (Attachment("cat.png", "image/png", PNG),)),),
    )
    events = run(collect(Guarded(provider(huggingchat_sim)).stream(request)))
    assert final(events).reason == "stop"
    part = sim.message_posts()[0].files[0]
    assert part.field == "files" and part.filename == "base64;cat.png" and part.content_type == "image/png"
    assert base64.b64decode(part.data) == PNG
    stored = next(iter(sim.conversations.values())).messages[1].files
    assert stored[0]["name"] == "cat.png"


def test_a_generated_image_is_downloaded_with_the_same_login(huggingchat_sim: SimHandle) -> None:
    sim = huggingchat_sim.sim
    sim.script.image, sim.script.image_mime = PNG, "image/png"
    events = ask(huggingchat_sim, "Draw a fox")  # the server's image tool (an MCP server) made one
    images = [e for e in events if isinstance(e, Image)]
    assert len(images) == 1 and images[0].data == PNG and images[0].mime == "image/png"
    download = next(r for r in sim.requests if "/output/" in r.path)
    assert f"hf-chat={DEMO_SESSION}" in download.headers["cookie"]
    assert images[0].url.startswith(huggingchat_sim.url + "/chat/conversation/")


# --- errors ----------------------------------------------------------------------------------------------


def test_a_status_error_in_the_stream_ends_the_reply_and_keeps_the_text(huggingchat_sim: SimHandle) -> None:
    sim = huggingchat_sim.sim
    sim.script.chunks, sim.script.error_after = ["Partial ", "answer ", "lost"], 2
    sim.script.error_text = "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 32768"
    events = ask(huggingchat_sim, "Long one")
    assert text_of(events) == "Partial answer "
    error = final(events).error
    assert error.kind == "unavailable" and "max_new_tokens" in str(error)
    assert not [e for e in events if isinstance(e, StateUpdate)]  # the next turn retries from the same parent


def test_a_stream_without_final_answer_is_an_error(huggingchat_sim: SimHandle) -> None:
    huggingchat_sim.sim.script.chunks, huggingchat_sim.sim.script.no_final = ["Some"], True
    events = ask(huggingchat_sim, "Hi")
    assert text_of(events) == "Some" and final(events).error.kind == "unexpected_response"


@pytest.mark.parametrize(
    ("setup", "kind", "words"),
    [
        (lambda s: (setattr(s, "token_coupled", True), s.logins.clear()), CredentialsError,
         "login expired: paste fresh"),
        (lambda s: setattr(s.script, "html_200", True), CredentialsError, "login page"),
        (lambda s: setattr(s.script, "model_gone", True), HTTPStatusError, "pick another model"),
        (lambda s: setattr(s.script, "http_error", ForcedError(429, "You are sending too many messages.")),
         HTTPStatusError, "rate limited"),
        (lambda s: setattr(s.script, "max_file_bytes", 10), HTTPStatusError, "attach a smaller image"),
    ],
    ids=["401", "html-login-page", "410", "429", "413"],
)
def test_errors_name_the_cause_and_what_to_do(huggingchat_sim: SimHandle, setup, kind, words) -> None:
    setup(huggingchat_sim.sim)
    request = ChatRequest(model=VISION, messages=(ChatMessage("user", "Hi", (Attachment("a.png", "image/png", PNG),)),))
    events = run(collect(Guarded(provider(huggingchat_sim)).stream(request)))
    error = final(events).error
    assert error.exception == kind.__name__ and words in str(error), repr(error)
    assert "HuggingChat" in str(error) or getattr(error, "backend", "") == "HuggingChat"


def test_missing_or_unreadable_cookies_are_a_login_error_without_a_request(huggingchat_sim: SimHandle) -> None:
    for cookies in ("", "token=hf_without_its_session", "[not json"):
        events = ask(huggingchat_sim, "Hi", cookies=cookies)
        assert final(events).error.kind == "credentials", cookies
    assert not huggingchat_sim.sim.requests


def test_cookies_never_follow_a_redirect_to_another_host(huggingchat_sim: SimHandle) -> None:
    from starlette.applications import Starlette
    from starlette.responses import RedirectResponse
    from starlette.routing import Route

    from simulators.serve import serve

    elsewhere: list[str] = []

    async def record(request):
        elsewhere.append(request.headers.get("cookie", ""))
        return RedirectResponse("/")

    with serve(Starlette(routes=[Route("/{p:path}", record, methods=["GET", "POST"])])) as other:
        redirect = Starlette(routes=[Route("/{p:path}", lambda r: RedirectResponse(other + "/login"),
                                           methods=["GET", "POST"])])
        with serve(redirect) as url:
            events = run(collect(Guarded(provider(url)).stream(ChatRequest(MODEL, (ChatMessage("user", "Hi"),)))))
    assert final(events).error.kind == "credentials" and "redirected" in str(final(events).error)
    assert elsewhere == []


# --- models and the login check -----------------------------------------------------------------------------


def test_models_mark_vision_and_skip_unlisted(huggingchat_sim: SimHandle) -> None:
    models = {m.id: m for m in run(provider(huggingchat_sim, cookies=None).list_models())}
    assert models["meta-llama/Llama-3.2-11B-Vision-Instruct"].vision
    assert not models[MODEL].vision and models["Qwen/QwQ-32B"].reasoning
    assert "old/unlisted-model" not in models
    huggingchat_sim.sim.script.models_error = ForcedError(500, "boom")
    with pytest.raises(HTTPStatusError):
        run(provider(huggingchat_sim).list_models())
    assert any(m.vision for m in INFO.fallback_models)
    assert INFO.resolve_model("deepseek-r1") == "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B"


def test_check_says_logged_in_anonymous_expired_or_unreachable(huggingchat_sim: SimHandle) -> None:
    assert run(provider(huggingchat_sim).check()) == "logged in as demo-user"
    # chat-ui without a login: {"json": null} is a working session, not an expired login
    assert run(provider(huggingchat_sim, cookies="hf-chat=any-value").check()) == "connected (anonymous session)"
    with pytest.raises(CredentialsError, match="login expired: paste fresh"):
        run(provider(huggingchat_sim, cookies=f"hf-chat={DEMO_SESSION}; token=hf_old").check())
    with pytest.raises(UnavailableError, match="unreachable"):
        run(provider(f"http://127.0.0.1:{free_port()}").check())


def test_the_factory_reads_the_url_and_the_pasted_cookies(
    huggingchat_sim: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATDECK_HUGGINGCHAT_URL", huggingchat_sim.url + "/chat")
    export = json.dumps([{"name": "hf-chat", "value": DEMO_SESSION, "domain": ".huggingface.co"},
                         {"name": "token", "value": DEMO_COOKIES.split("token=")[1], "domain": "huggingface.co"},
                         {"name": "token", "value": "wrong", "domain": "evil.example"}])
    assert run(create(None, {"cookies": export}).check()) == "logged in as demo-user"
    monkeypatch.setenv("CHATDECK_HUGGINGCHAT_COOKIES", DEMO_COOKIES)
    assert INFO.server_credentials() == {"cookies": DEMO_COOKIES}


# --- the simulator's own strictness -----------------------------------------------------------------------------


def test_the_simulator_requires_origin_an_existing_parent_and_its_own_session(huggingchat_sim: SimHandle) -> None:
    sim, base = huggingchat_sim.sim, huggingchat_sim.url + "/chat"
    state = state_of(ask(huggingchat_sim, "One"))
    url = f"{base}/conversation/{state['conversationId']}"
    headers = {"cookie": DEMO_COOKIES}

    def post(data: dict, **extra: str) -> httpx.Response:
        return httpx.post(url, files={"data": (None, json.dumps(data))}, headers=headers | extra)

    good = {"inputs": "Hi", "id": state["messageId"]}
    assert post(good).status_code == 403 and "origin" in post(good).text
    assert post({**good, "id": "00000000-0000-4000-8000-000000000000"}, origin=huggingchat_sim.url).status_code == 400
    assert post({**good, "id": None}, origin=huggingchat_sim.url).status_code == 500
    sim.add_login("other-session", "hf_other", "someone-else")
    other = httpx.post(url, files={"data": (None, json.dumps(good))},
                       headers={"cookie": "hf-chat=other-session; token=hf_other", "origin": huggingchat_sim.url})
    assert other.status_code == 404
    created = httpx.post(base + "/conversation", json={"model": MODEL})  # no cookie: a new session is handed out
    assert created.status_code == 200 and created.headers["set-cookie"].startswith(f"hf-chat={sim.issued[0]};")
    assert httpx.get(base + "/api/v2/user").json() == {"json": None} and "set-cookie" not in httpx.get(base).headers
    sim.token_coupled = True  # huggingface.co: the session needs its token
    created = httpx.post(base + "/conversation", json={"model": MODEL}, headers={"cookie": "hf-chat=x"})
    assert created.status_code == 401 and created.json() == {"error": "You have to be logged in."}
    with httpx.stream("POST", url, files={"data": (None, json.dumps(good))},
                      headers=headers | {"origin": huggingchat_sim.url}) as response:
        body = response.read()
    assert response.headers["content-type"].startswith("application/jsonl")
    assert b"\\u0000" in body and body.endswith(b" " * 4096) and b'"keepAlive"' in body
