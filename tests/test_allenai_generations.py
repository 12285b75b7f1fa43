"""The Ai2 Playground's three chat-route generations over real HTTP on loopback (issue 13).

Each test serves a simulator of one generation (``v5``; ``v4-threads``, olmo-api as of 2026-01;
``v4-message``, the seed's), which answers 404 on the routes that generation lacks, and
checks what the provider sent (the simulator records every request) and what it made of
the answer: first turns, follow-ups, ``auto``'s detection order and its memory per base URL,
the explicit ``CHATDECK_ALLENAI_PROTOCOL=v4-threads``, the v4-threads error envelopes, model
lists, and the protocol the Backends page then shows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

import application
from providers import registry
from providers.allenai import AllenAI, RouteMemory
from providers.allenai_threads import V4ThreadsParser
from providers.base import Guarded, format_prompt
from providers.errors import UnavailableError, UnexpectedResponseError
from providers.events import Attachment, ChatMessage, ChatRequest, Event, Finished, Options, ReasoningDelta, StateUpdate
from runner.runner import Runner
from simulators.allenai import AllenAISimulator
from simulators.common import ForcedError
from simulators.serve import serve
from storage import health as health_store
from storage import repository as repo
from storage.db import make_engine, session
from tests.sim_fixtures import SimHandle, collect, run, text_of

ROUTES = {"v5": "/v5/threads/chat", "v4-threads": "/v4/threads/", "v4-message": "/v4/message/stream"}
TRIED = {  # what auto asks a fresh server of each generation, in order
    "v5": ["/v5/threads/chat"],
    "v4-threads": ["/v5/threads/chat", "/v4/threads/"],
    "v4-message": ["/v5/threads/chat", "/v4/threads/", "/v4/message/stream"],
}
MODEL = "olmo-3.1-32b-instruct"
FIRST = (ChatMessage("user", "Capital of France?"),)


def turn(provider: AllenAI, request: ChatRequest) -> list[Event]:
    return run(collect(Guarded(provider).stream(request)))


def final_of(events: list[Event]) -> Finished:
    assert isinstance(events[-1], Finished), events
    return events[-1]


def state_of(events: list[Event]) -> dict:
    [update] = [e for e in events if isinstance(e, StateUpdate)]
    return dict(update.state)


def paths(sim: AllenAISimulator) -> list[str]:
    return [r.path for r in sim.chat_requests()]


def follow_up(state: dict, answer: str, question: str) -> ChatRequest:
    messages = (*FIRST, ChatMessage("assistant", answer), ChatMessage("user", question))
    return ChatRequest(MODEL, messages, state=state)


# --- each generation: first turn, follow-up, detection order ------------------------------------


@pytest.mark.parametrize("generation", ["v5", "v4-threads", "v4-message"])
def test_each_generation_first_turn_and_follow_up_in_auto_mode(allenai_sim: SimHandle, generation: str) -> None:
    sim = allenai_sim.sim
    sim.generation = generation
    sim.script.chunks = ["Paris", "."]
    events = turn(AllenAI(base_url=allenai_sim.url), ChatRequest(MODEL, FIRST))

    assert text_of(events) == "Paris." and final_of(events).reason == "stop"
    assert paths(sim) == TRIED[generation]  # newest first, each 404 moving on to the next
    state = state_of(events)
    assert state["protocol"] == generation
    reply = sim.messages[state["parent"]]
    assert reply.role == "assistant" and reply.content == "Paris." and state["thread_id"] == reply.root

    sim.script.chunks = ["Berlin."]
    events = turn(AllenAI(base_url=allenai_sim.url), follow_up(state, "Paris.", "And Germany?"))
    assert text_of(events) == "Berlin."
    sent = sim.chat_requests()[-1]
    assert paths(sim)[len(TRIED[generation]) :] == [ROUTES[generation]]  # straight to the conversation's route
    assert sent.form["parent"] == state["parent"] and sent.form["content"] == "And Germany?"  # only the new message
    assert sent.headers["x-anonymous-user-id"] == state["anonymous_user_id"]
    new_state = state_of(events)
    assert sim.messages[sim.messages[new_state["parent"]].parent].parent == state["parent"]  # below the old reply
    assert new_state["protocol"] == generation and new_state["thread_id"] == state["thread_id"]


def test_v4_threads_request_is_the_flask_apis_multipart(allenai_sim: SimHandle) -> None:
    sim = allenai_sim.sim
    sim.generation = "v4-threads"
    history = (ChatMessage("system", "Be brief."), ChatMessage("user", "Hi"))
    options = Options(temperature=0.5, top_p=0.9, max_tokens=256)
    turn(AllenAI(base_url=allenai_sim.url, protocol="v4-threads"), ChatRequest(MODEL, history, options=options))
    [sent] = sim.chat_requests()
    assert sent.headers["content-type"].startswith("multipart/form-data")
    assert sent.form == {  # camelCase options; no captcha token, no deprecated host, no role (user by default)
        "model": MODEL, "content": format_prompt(history), "temperature": "0.5", "topP": "0.9", "maxTokens": "256",
    }
    assert "Be brief." in sent.form["content"] and "Hi" in sent.form["content"]
    assert sent.headers["x-anonymous-user-id"]


def test_v4_threads_reasoning_streams_thinking_then_text(allenai_sim: SimHandle) -> None:
    sim = allenai_sim.sim
    sim.generation = "v4-threads"
    sim.script.thinking, sim.script.chunks = "Small primes are easy to list.", ["2, 3", " and 5."]
    events = turn(AllenAI(base_url=allenai_sim.url), ChatRequest("olmo-3.1-32b-think", FIRST))
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert reasoning == "Small primes are easy to list." and text_of(events) == "2, 3 and 5."
    first_text = next(i for i, e in enumerate(events) if not isinstance(e, ReasoningDelta))
    assert all(isinstance(e, ReasoningDelta) for e in events[:first_text])


# --- memory per base URL ------------------------------------------------------------------------


@pytest.fixture
def routes() -> RouteMemory:
    """The memory the Ai2 providers of one application share (its registry passes it to each)."""
    return RouteMemory()


@pytest.mark.parametrize("generation", ["v4-threads", "v4-message"])
def test_a_second_conversation_goes_straight_to_the_remembered_route(allenai_sim: SimHandle, generation: str,
                                                                    routes: RouteMemory) -> None:
    sim = allenai_sim.sim
    sim.generation = generation
    turn(AllenAI(base_url=allenai_sim.url, routes=routes), ChatRequest(MODEL, FIRST))
    assert routes.get(allenai_sim.url + "/") == generation
    before = len(sim.chat_requests())

    # a new provider, no state
    events = turn(AllenAI(base_url=allenai_sim.url, routes=routes), ChatRequest(MODEL, FIRST))
    assert final_of(events).reason == "stop" and state_of(events)["protocol"] == generation
    assert paths(sim)[before:] == [ROUTES[generation]]


def test_memory_is_per_base_url(allenai_sim: SimHandle, routes: RouteMemory) -> None:
    allenai_sim.sim.generation = "v4-threads"
    turn(AllenAI(base_url=allenai_sim.url, routes=routes), ChatRequest(MODEL, FIRST))
    other = AllenAISimulator(generation="v5")
    with serve(other.app) as other_url:
        events = turn(AllenAI(base_url=other_url, routes=routes), ChatRequest(MODEL, FIRST))
    assert state_of(events)["protocol"] == "v5" and paths(other) == ["/v5/threads/chat"]
    assert routes.get(allenai_sim.url) == "v4-threads" and routes.get(other_url) == "v5"


def test_a_vanished_route_is_detected_again(allenai_sim: SimHandle, routes: RouteMemory) -> None:
    sim = allenai_sim.sim
    sim.generation = "v4-threads"
    turn(AllenAI(base_url=allenai_sim.url, routes=routes), ChatRequest(MODEL, FIRST))
    sim.generation = "v5"  # the server was upgraded (and still has /v4/threads/)
    turn(AllenAI(base_url=allenai_sim.url, routes=routes), ChatRequest(MODEL, FIRST))
    assert paths(sim)[2:] == ["/v4/threads/"]  # the remembered route still answers: it is kept
    sim.generation = "v4-message"  # a server without /v4/threads/
    events = turn(AllenAI(base_url=allenai_sim.url, routes=routes), ChatRequest(MODEL, FIRST))
    assert paths(sim)[3:] == ["/v4/threads/", "/v5/threads/chat", "/v4/message/stream"]
    assert state_of(events)["protocol"] == "v4-message" == routes.get(allenai_sim.url)


def test_a_conversation_keeps_its_route_whatever_the_server_remembers(allenai_sim: SimHandle,
                                                                      routes: RouteMemory) -> None:
    sim = allenai_sim.sim
    sim.generation = "v4-threads"
    state = state_of(turn(AllenAI(base_url=allenai_sim.url, routes=routes), ChatRequest(MODEL, FIRST)))
    sim.generation = "v5"
    routes.remember(allenai_sim.url, None)  # forgotten (another process, say)
    turn(AllenAI(base_url=allenai_sim.url, routes=routes), ChatRequest(MODEL, FIRST))  # a new conversation: v5
    assert routes.get(allenai_sim.url) == "v5"
    events = turn(AllenAI(base_url=allenai_sim.url, routes=routes), follow_up(state, "Paris.", "And Germany?"))
    assert paths(sim)[-1] == "/v4/threads/" and sim.chat_requests()[-1].form["parent"] == state["parent"]
    assert state_of(events)["protocol"] == "v4-threads"


def test_nothing_answers_the_last_404_is_the_error_and_nothing_is_remembered(allenai_sim: SimHandle,
                                                                              routes: RouteMemory) -> None:
    sim = allenai_sim.sim
    sim.generation = "v4-threads"
    turn(AllenAI(base_url=allenai_sim.url, routes=routes), ChatRequest(MODEL, FIRST))
    sim.script.v5_status = 405
    sim.generation = "v4-message"
    sim.script.http_error = ForcedError(404, "Not Found")  # now every chat route is gone
    error = final_of(turn(AllenAI(base_url=allenai_sim.url, routes=routes), ChatRequest(MODEL, FIRST))).error
    assert error.status == 404
    assert paths(sim)[2:] == ["/v4/threads/", "/v5/threads/chat", "/v4/message/stream"]
    assert routes.get(allenai_sim.url) is None


# --- the explicit setting -----------------------------------------------------------------------


def test_explicit_v4_threads_setting_goes_straight_there_and_never_falls_back(
    allenai_sim: SimHandle, monkeypatch: pytest.MonkeyPatch, routes: RouteMemory
) -> None:
    monkeypatch.setenv("CHATDECK_ALLENAI_URL", allenai_sim.url)
    monkeypatch.setenv("CHATDECK_ALLENAI_PROTOCOL", "v4-threads")
    sim = allenai_sim.sim  # every route served: only the setting picks the route
    backends = registry.Registry(ai2_routes=routes)
    events = run(collect(backends.create("allenai").stream(ChatRequest(MODEL, FIRST))))
    assert paths(sim) == ["/v4/threads/"] and state_of(events)["protocol"] == "v4-threads"
    assert routes.get(allenai_sim.url) is None  # an explicit protocol detects nothing

    sim.generation = "v4-message"
    error = final_of(run(collect(backends.create("allenai").stream(ChatRequest(MODEL, FIRST))))).error
    assert error.status == 404 and "404 Not Found" in str(error)
    assert paths(sim)[1:] == ["/v4/threads/"]


# --- v4-threads errors mapped to the error tree --------------------------------------------------


def v4_threads(handle: SimHandle) -> AllenAI:
    handle.sim.generation = "v4-threads"
    return AllenAI(base_url=handle.url, protocol="v4-threads")


def test_v4_threads_request_errors_carry_the_servers_words(allenai_sim: SimHandle) -> None:
    provider = v4_threads(allenai_sim)
    error = final_of(turn(provider, ChatRequest("no-such-model", FIRST))).error
    assert error.status == 400 and "Invalid model no-such-model" in str(error)

    state = state_of(turn(provider, ChatRequest(MODEL, FIRST)))
    foreign = {**state, "anonymous_user_id": "someone-else"}
    error = final_of(turn(provider, follow_up(foreign, "Paris.", "And Germany?"))).error
    assert error.status == 403 and "permission" in str(error)

    allenai_sim.sim.script.http_error = ForcedError.rate_limited(7)
    error = final_of(turn(provider, ChatRequest(MODEL, FIRST))).error
    assert error.status == 429 and error.retry_after == 7


def test_v4_threads_text_only_model_refuses_images(allenai_sim: SimHandle) -> None:
    image = Attachment("cat.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)
    messages = (ChatMessage("user", "What is this?", attachments=(image,)),)
    error = final_of(turn(v4_threads(allenai_sim), ChatRequest(MODEL, messages))).error
    assert error.status == 400 and "doesn't accept files" in str(error)
    assert allenai_sim.sim.chat_requests()[0].files[0].filename == "cat.png"


def test_v4_threads_inference_failure_keeps_text_and_the_old_state(allenai_sim: SimHandle) -> None:
    sim, provider = allenai_sim.sim, v4_threads(allenai_sim)
    sim.script.chunks, sim.script.error_after = ["Each has", " exactly"], 1
    sim.script.error_text = "http error: status_code: 503, model_name: olmo, body: Service Unavailable"
    events = turn(provider, ChatRequest(MODEL, FIRST))
    final = final_of(events)
    assert text_of(events) == "Each has"
    assert final.error.kind == "unavailable" and "status_code: 503" in str(final.error)
    assert "Model http error" in str(final.error)
    assert not [e for e in events if isinstance(e, StateUpdate)]  # no final thread: nothing surely stored


def test_v4_threads_error_chunk_surfaces_and_the_unfinished_reply_is_not_continued(allenai_sim: SimHandle) -> None:
    sim, provider = allenai_sim.sim, v4_threads(allenai_sim)
    sim.script.chunks, sim.script.error_after, sim.script.error_chunk = ["Let me look", " it up"], 1, True
    sim.script.error_text = "Tool lookup failed"
    events = turn(provider, ChatRequest(MODEL, FIRST))
    final = final_of(events)
    assert text_of(events) == "Let me look"
    assert final.error.kind == "unavailable" and "Tool lookup failed" in str(final.error)
    assert not [e for e in events if isinstance(e, StateUpdate)]  # the final thread's reply is not final
    [reply] = [m for m in sim.messages.values() if m.role == "assistant"]
    assert not reply.final and reply.error_description == "Tool lookup failed"


def test_v4_threads_drift_is_named(allenai_sim: SimHandle) -> None:
    sim, provider = allenai_sim.sim, v4_threads(allenai_sim)
    sim.script.rename = ("thread", "messages", "msgs")
    error = final_of(turn(provider, ChatRequest(MODEL, FIRST))).error
    assert error.kind == "unexpected_response" and "protocol changed" in str(error)
    assert "msgs" in error.snippet


def test_v4_threads_parser_reads_the_documented_example_bodies() -> None:
    """allenai-current.md §2.6, examples A (a new thread with a system prompt) and B (a failed follow-up)."""
    user, reply = {"id": "msg_B7R2M9X4D6", "role": "user"}, {"id": "msg_H2P6C8N1W3", "role": "assistant"}
    lines = [
        {"message": "msg_K3T8V1Q5Z2", "type": "start"},
        {"id": "msg_K3T8V1Q5Z2", "messages": [{"id": "msg_K3T8V1Q5Z2", "role": "system", "final": False},
                                              {**user, "final": False}, {**reply, "content": "", "final": False}]},
        {"content": "", "message": "msg_H2P6C8N1W3", "type": "modelResponse"},
        {"content": "2, 3", "message": "msg_H2P6C8N1W3", "type": "modelResponse"},
        {"args": None, "message": "msg_H2P6C8N1W3", "toolCallId": "t", "toolName": "x", "toolSource": None,
         "type": "toolCall"},
        {"content": " and 5.", "message": "msg_H2P6C8N1W3", "type": "modelResponse"},
        {"id": "msg_K3T8V1Q5Z2", "messages": [{"id": "msg_K3T8V1Q5Z2", "role": "system", "final": True},
                                              {**user, "final": True},
                                              {**reply, "content": "2, 3 and 5.", "final": True}]},
        {"message": "msg_K3T8V1Q5Z2", "type": "end"},
    ]
    parser = V4ThreadsParser({"anonymous_user_id": "a"})
    events = [event for line in lines for event in parser.feed(json.loads(json.dumps(line)))] + parser.close()
    assert text_of(events) == "2, 3 and 5."
    assert state_of(events) == {"anonymous_user_id": "a", "protocol": "v4-threads", "parent": "msg_H2P6C8N1W3",
                                "thread_id": "msg_K3T8V1Q5Z2"}

    parser = V4ThreadsParser()
    for line in [
        {"message": "msg_K3T8V1Q5Z2", "type": "start"},
        {"id": "msg_Q4W8E2R6T0", "messages": [{"id": "msg_Q4W8E2R6T0", "role": "user", "final": False},
                                              {"id": "msg_Y1U5I9O3P7", "role": "assistant", "final": False}]},
        {"content": "The user asks why", "id": None, "message": "msg_Y1U5I9O3P7", "type": "thinking"},
        {"content": "Each has exactly", "message": "msg_Y1U5I9O3P7", "type": "modelResponse"},
        {"error": "http error: status_code: 503", "message": "msg_Y1U5I9O3P7", "reason": "Model http error"},
    ]:
        parser.feed(line)
    with pytest.raises(UnavailableError, match="status_code: 503"):
        parser.close()  # the body ended without "end"
    assert parser.fail_state() is None


@pytest.mark.parametrize("line", [["a list"], {"id": "x"}, {"type": 3}, {"type": "modelResponse", "message": "m"}])
def test_v4_threads_parser_names_the_drift(line: object) -> None:
    with pytest.raises(UnexpectedResponseError, match="protocol changed"):
        V4ThreadsParser().feed(line)


# --- model lists --------------------------------------------------------------------------------


def test_model_list_of_a_v4_threads_server(allenai_sim: SimHandle, routes: RouteMemory) -> None:
    sim = allenai_sim.sim
    sim.generation = "v4-threads"
    ids = [m.id for m in run(AllenAI(base_url=allenai_sim.url, routes=routes).list_models())]
    assert ids == ["olmo-3.1-32b-instruct", "olmo-3.1-32b-think", "molmo2-8b"]
    assert [r.path for r in sim.requests] == ["/v5/models/", "/v4/models/"]
    turn(AllenAI(base_url=allenai_sim.url, routes=routes), ChatRequest(MODEL, FIRST))  # the chat route is now known
    sim.requests.clear()
    assert len(run(AllenAI(base_url=allenai_sim.url, routes=routes).list_models())) == 3
    assert [r.path for r in sim.requests] == ["/v4/models/"]  # straight to the v4 generation's list
    sim.requests.clear()
    run(AllenAI(base_url=allenai_sim.url, protocol="v4-threads").list_models())
    assert [r.path for r in sim.requests] == ["/v4/models/"]


# --- the simulator's generations ----------------------------------------------------------------


@pytest.mark.parametrize("generation", ["v5", "v4-threads", "v4-message"])
def test_simulator_generations_answer_404_on_routes_they_lack(allenai_sim: SimHandle, generation: str) -> None:
    allenai_sim.sim.generation = generation
    has = {"v5": {"v5", "v4-threads"}, "v4-threads": {"v4-threads"}, "v4-message": {"v4-message"}}[generation]
    headers = {"X-Anonymous-User-ID": "probe"}
    with httpx.Client(base_url=allenai_sim.url, headers=headers) as client:
        for name, path in ROUTES.items():
            response = client.post(path, files={"model": (None, "")})
            if name in has:
                assert response.status_code in (400, 422), (name, response.text)  # there, refusing an empty form
            else:
                assert response.status_code == 404, name
                if name == "v5":
                    assert response.json()["type"] == "not-found-problem"
                else:
                    assert response.json()["error"]["message"].startswith("404 Not Found")
        assert client.get("/v5/models/").status_code == (200 if generation == "v5" else 404)
        assert client.get("/v4/models/").status_code == 200


def test_simulator_v4_threads_wire_and_read_back(allenai_sim: SimHandle) -> None:
    sim = allenai_sim.sim
    sim.generation = "v4-threads"
    sim.script.chunks = ["Hi", " ✓"]
    with httpx.Client(base_url=allenai_sim.url) as client:
        refused = client.post("/v4/threads/", files={"model": (None, MODEL), "content": (None, "Hello")})
        assert refused.status_code == 401 and "authorized" in refused.json()["error"]["message"]
        headers = {"X-Anonymous-User-ID": "me"}
        response = client.post("/v4/threads/", files={"model": (None, MODEL), "content": (None, "Hello")},
                               headers=headers)
        assert response.headers["content-type"].startswith("application/jsonl")
        raw = response.text.splitlines()
        assert raw[0] == json.dumps({"message": json.loads(raw[0])["message"], "type": "start"})
        lines = [json.loads(line) for line in raw]
        assert all(list(line) == sorted(line) for line in lines) and "\\u2713" in raw[-3]  # sorted, ASCII
        assert "type" not in lines[1] and "type" not in lines[-2]  # the two thread snapshots
        assert [m["role"] for m in lines[1]["messages"]] == ["system", "user", "assistant"]
        assert not any(m["final"] for m in lines[1]["messages"]) and all(m["final"] for m in lines[-2]["messages"])
        assert lines[-2]["messages"][-1]["content"] == "Hi ✓" and lines[-1]["type"] == "end"
        assert all(m["private"] is True and m["expirationTime"] for m in lines[-2]["messages"])
        root = lines[0]["message"]

        thread = client.get(f"/v4/threads/{root}", headers=headers)
        assert thread.status_code == 200 and thread.json()["id"] == root
        assert [m["content"] for m in thread.json()["messages"]][1:] == ["Hello", "Hi ✓"]
        assert client.get(f"/v4/threads/{root}", headers={"X-Anonymous-User-ID": "other"}).status_code == 403
        assert client.get("/v4/threads/msg_A1B2C3D4E5", headers=headers).status_code == 404


# --- the Backends page --------------------------------------------------------------------------


def reply_on(runner: Runner, engine: Engine) -> None:
    with session(engine) as s:
        owner = repo.local_user(s).id
        cid = repo.create_conversation(s, owner, provider="allenai", model=MODEL).id
    run_ = runner.start(owner_id=owner, conversation_id=cid, provider="allenai", model=MODEL, prompt="Hi")
    assert run_.saved.wait(10)


def test_a_reply_records_the_v4_threads_protocol(runner: Runner, engine: Engine, allenai_sim: SimHandle) -> None:
    allenai_sim.sim.generation = "v4-threads"
    reply_on(runner, engine)
    with session(engine) as s:
        row = health_store.for_owner(s, repo.local_user(s).id)["allenai"]
    assert (row.state, row.protocol) == ("ready", "v4-threads")


@pytest.fixture
def backends_page(sqlite_url: str, allenai_sim: SimHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    monkeypatch.setenv("CHATDECK_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CHATDECK_ALLENAI_URL", allenai_sim.url)
    yield AppTest.from_string("from views import backends\nbackends.render()", default_timeout=30)
    application.reset()


def test_the_backends_page_shows_the_v4_threads_protocol(
    backends_page: AppTest, sqlite_url: str, allenai_sim: SimHandle
) -> None:
    allenai_sim.sim.generation = "v4-threads"
    engine = make_engine(sqlite_url)
    runner = Runner(engine, flush_interval=0.05)
    try:
        reply_on(runner, engine)
    finally:
        runner.shutdown()
        engine.dispose()
    backends_page.run()
    assert not backends_page.exception
    captions = " ".join(c.value for c in backends_page.caption)
    assert "protocol in use: `v4-threads`" in captions
