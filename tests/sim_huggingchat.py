"""The HuggingChat simulator fixture and its contract adapter (a pytest plugin).

Fixtures:
    huggingchat_server  session-scoped: one uvicorn on 127.0.0.1 whose app is swapped per test
    huggingchat_sim     a fresh HuggingChatSimulator per test, served there: ``.url`` (the server),
                        ``.sim``; the provider's base URL is ``.url + "/chat"``

``provider(handle, **kwargs)`` builds a HuggingChat provider logged in with the simulator's demo cookies.
Importing this module registers ``ADAPTERS["huggingchat"]`` for tests/test_provider_contract.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from providers.events import ChatMessage, ChatRequest
from providers.huggingchat import HuggingChat
from simulators.huggingchat import DEMO_SESSION, DEMO_TOKEN, HuggingChatSimulator
from tests.sim_fixtures import ADAPTERS, SimHandle, _Swappable, script_adapter, swappable_server

DEMO_COOKIES = f"hf-chat={DEMO_SESSION}; token={DEMO_TOKEN}"


@pytest.fixture(scope="session")
def huggingchat_server() -> Iterator[tuple[_Swappable, str]]:
    yield from swappable_server()


@pytest.fixture
def huggingchat_sim(huggingchat_server: tuple[_Swappable, str]) -> SimHandle:
    dispatch, url = huggingchat_server
    sim = HuggingChatSimulator()
    dispatch.app = sim.app
    return SimHandle(url, sim)


def provider(handle: SimHandle | str, **kwargs: Any) -> HuggingChat:
    url = handle if isinstance(handle, str) else handle.url
    kwargs.setdefault("cookies", DEMO_COOKIES)
    return HuggingChat(base_url=url + "/chat", **kwargs)


def _make(url: str, _client: httpx.AsyncClient | None) -> HuggingChat:
    return provider(url)  # curl_cffi: the provider opens its own session per call


ADAPTERS["huggingchat"] = script_adapter(
    "huggingchat", "huggingchat_sim", _make,
    lambda: ChatRequest(model="Qwen/Qwen2.5-72B-Instruct", messages=(ChatMessage("user", "Hello"),)),
    renamed=("stream", "token", "text"),
)
