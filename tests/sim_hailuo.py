"""The HailuoAI simulator's fixtures and its contract adapter (a pytest plugin).

Fixtures:
    hailuo_server  session-scoped: one uvicorn on 127.0.0.1 whose app is swapped per test
    hailuo_sim     a fresh HailuoSimulator per test, served there: ``.url``, ``.sim``

Helpers: ``DEMO_LOGIN`` (the login every fresh simulator accepts), ``hailuo_provider(url, client)``.

Importing this module adds ``ADAPTERS["hailuo"]`` for tests/test_provider_contract.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from providers.errors import HTTPStatusError, UnavailableError
from providers.events import ChatMessage, ChatRequest
from providers.hailuo import MODEL, HailuoAI, Login
from simulators.hailuo import DEMO_DEVICE_ID, DEMO_TOKEN, DEMO_USER_ID, HailuoSimulator
from tests.sim_fixtures import ADAPTERS, SimHandle, _Swappable, script_adapter, swappable_server

DEMO_LOGIN = Login(DEMO_TOKEN, DEMO_DEVICE_ID, DEMO_USER_ID)


def hailuo_provider(url: str, client: httpx.AsyncClient | None = None, login: Login | None = DEMO_LOGIN) -> HailuoAI:
    return HailuoAI(login, base_url=url, client=client)


@pytest.fixture(scope="session")
def hailuo_server() -> Iterator[tuple[_Swappable, str]]:
    yield from swappable_server()


@pytest.fixture
def hailuo_sim(hailuo_server: tuple[_Swappable, str]) -> SimHandle:
    dispatch, url = hailuo_server
    sim = HailuoSimulator()
    dispatch.app = sim.app
    return SimHandle(url, sim)


ADAPTERS["hailuo"] = script_adapter(
    "hailuo", "hailuo_sim", hailuo_provider,
    lambda: ChatRequest(model=MODEL, messages=(ChatMessage("user", "Hello"),)),
    renamed=("messageResult", "content", "text"),
    error_classes={400: HTTPStatusError, 403: HTTPStatusError, 429: HTTPStatusError, 500: HTTPStatusError,
                   503: UnavailableError},
)
