"""A conversation's system prompt reaches every backend the way its protocol allows, over real HTTP to each
backend's simulator; and the runner sends the stored system prompt with every turn.

- OpenAI-compatible servers (Hugging Face, custom endpoints): a ``system`` message first in every request;
- HuggingChat (chat-ui): ``preprompt`` on ``POST /conversation``, which the server keeps as the content of the
  conversation's root system message;
- Ai2 Playground and HailuoAI (no system prompt in their protocols): the first prompt of each new backend chat
  starts with a ``System:`` line; follow-ups in that chat do not repeat it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from providers import registry
from providers.custom_endpoints import endpoint_info
from providers.events import ChatMessage, ChatRequest, Finished, StateUpdate
from tests.sim_fixtures import ADAPTERS, ContractAdapter, SimHandle, collect, run, text_of

SYSTEM = "Answer like a pirate."
HISTORY = (ChatMessage("user", "Hello"), ChatMessage("assistant", "Hi there."), ChatMessage("user", "Name a prime."))
WAYS = {"allenai": "prepended", "hailuo": "prepended", "huggingchat": "preprompt", "huggingface": "message"}


def received(backend: str, sim: Any) -> str:
    """Where each backend's server holds the system prompt of the last new chat, in the server's own terms."""
    chat = sim.chat_requests()[-1]
    if backend == "allenai":
        return str(chat.form["content"])
    if backend == "hailuo":
        return str(chat.form["msgContent"])
    if backend == "huggingface":
        first = chat.json_body["messages"][0]
        return f"{first['role']}: {first['content']}"
    created = [r for r in sim.chat_requests() if r.path.endswith("/conversation")][-1]
    (conversation,) = sim.conversations.values()
    root = conversation.messages[0]
    assert root.role == "system"
    return f"preprompt={created.json_body.get('preprompt')!r} root={root.content!r}"


EXPECTED = {
    "allenai": f"System: {SYSTEM}\nUser: Hello\nAssistant: Hi there.\nUser: Name a prime.\nAssistant:",
    "hailuo": f"System: {SYSTEM}\nUser: Hello\nAssistant: Hi there.\nUser: Name a prime.\nAssistant:",
    "huggingface": f"system: {SYSTEM}",
    "huggingchat": f"preprompt={SYSTEM!r} root={SYSTEM!r}",
}


@pytest.fixture(params=sorted(ADAPTERS))
def adapter(request: pytest.FixtureRequest) -> ContractAdapter:
    return ADAPTERS[request.param]


def _stream(adapter: ContractAdapter, url: str, request: ChatRequest) -> list[Any]:
    async def go() -> list[Any]:
        async with httpx.AsyncClient() as client:
            return await collect(adapter.make_provider(url, client).stream(request))

    return run(go())


def test_each_backend_receives_the_system_prompt_its_own_way(
    adapter: ContractAdapter, request: pytest.FixtureRequest
) -> None:
    handle: SimHandle = request.getfixturevalue(adapter.sim_fixture)
    assert registry.BACKENDS[adapter.backend].system_prompt == WAYS[adapter.backend]
    first = replace(adapter.request(), messages=HISTORY, system=SYSTEM)
    events = _stream(adapter, handle.url, first)
    assert isinstance(events[-1], Finished) and events[-1].reason == "stop", events[-1]
    assert text_of(events)
    assert received(adapter.backend, handle.sim) == EXPECTED[adapter.backend]
    if adapter.backend == "huggingface":  # the history follows the system message, as sent
        roles = [m["role"] for m in handle.sim.chat_requests()[-1].json_body["messages"]]
        assert roles == ["system", "user", "assistant", "user"]


def test_without_a_system_prompt_nothing_is_added(adapter: ContractAdapter, request: pytest.FixtureRequest) -> None:
    handle: SimHandle = request.getfixturevalue(adapter.sim_fixture)
    _stream(adapter, handle.url, replace(adapter.request(), messages=HISTORY))
    seen = received(adapter.backend, handle.sim)
    assert "System:" not in seen and "system:" not in seen and "pirate" not in seen
    if adapter.backend == "huggingchat":
        created = [r for r in handle.sim.chat_requests() if r.path.endswith("/conversation")][-1]
        assert "preprompt" not in created.json_body  # an older chat-ui need not know the field


@pytest.mark.parametrize("name", ["allenai", "allenai@v4-threads", "hailuo"])
def test_a_follow_up_in_the_backend_chat_does_not_repeat_a_prepended_prompt(
    name: str, request: pytest.FixtureRequest
) -> None:
    adapter = ADAPTERS[name]
    handle: SimHandle = request.getfixturevalue(adapter.sim_fixture)
    events = _stream(adapter, handle.url, replace(adapter.request(), system=SYSTEM))
    state = next(e.state for e in reversed(events) if isinstance(e, StateUpdate))
    follow_up = replace(adapter.request(), messages=(*HISTORY, ChatMessage("assistant", "2"),
                                                     ChatMessage("user", "And another?")),
                        system=SYSTEM, state=state)
    _stream(adapter, handle.url, follow_up)
    assert received(adapter.backend, handle.sim) == "And another?"


def test_custom_endpoints_take_a_system_message() -> None:
    assert endpoint_info("lab", "Lab", "http://127.0.0.1:1/v1", []).system_prompt == "message"
    assert "system message" in endpoint_info("lab", "Lab", "http://127.0.0.1:1/v1", []).system_prompt_help


def test_the_runner_sends_the_conversation_s_system_prompt_with_every_turn(runner: Any, allenai_sim: SimHandle) -> None:
    from services import sending
    from storage import repository as repo
    from storage.db import session

    with session(runner.engine) as s:
        owner = repo.local_user(s).id
        chat = repo.create_conversation(s, owner, provider="allenai", model="olmo-3.1-32b-instruct",
                                        system_prompt=SYSTEM)
    run = runner.start(owner_id=owner, conversation_id=chat.id, provider="allenai", model="olmo-3.1-32b-instruct",
                       prompt="Name a prime.")
    assert run.saved.wait(10)
    assert allenai_sim.sim.chat_requests()[-1].form["content"] == f"System: {SYSTEM}\nUser: Name a prime.\nAssistant:"
    again = sending.regenerate(runner, owner_id=owner, conversation_id=chat.id, provider="allenai",
                               model="olmo-3.1-32b-instruct")
    assert again.saved.wait(10)  # a new version starts a new thread: the system prompt goes with it
    assert allenai_sim.sim.chat_requests()[-1].form["content"].startswith(f"System: {SYSTEM}\n")


def test_a_new_conversation_s_first_turn_carries_its_system_prompt_as_stored(
    runner: Any, allenai_sim: SimHandle
) -> None:
    """The send that creates the conversation reads nothing back for its first turn: what it sends is what it stored."""
    from services import sending
    from storage import repository as repo
    from storage.db import session

    with session(runner.engine) as s:
        owner = repo.local_user(s).id
    sent = sending.send(runner, owner_id=owner, conversation=None, provider="allenai", model="olmo-3.1-32b-instruct",
                        prompt="Name a prime.", system_prompt=f"  {SYSTEM}\n")
    assert sent.run.saved.wait(10)
    assert allenai_sim.sim.chat_requests()[-1].form["content"] == f"System: {SYSTEM}\nUser: Name a prime.\nAssistant:"
    follow = sending.send(runner, owner_id=owner, conversation=sent.conversation_id, provider="allenai",
                          model="olmo-3.1-32b-instruct", prompt="Another?")
    assert follow.run.saved.wait(10)
    assert allenai_sim.sim.chat_requests()[-1].form["content"] == "Another?"  # the backend's thread goes on
