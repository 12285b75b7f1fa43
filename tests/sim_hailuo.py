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
from simulators.common import ForcedError
from simulators.hailuo import DEMO_DEVICE_ID, DEMO_TOKEN, DEMO_USER_ID, HailuoSimulator
from simulators.serve import serve
from tests.sim_fixtures import ADAPTERS, ContractAdapter, SimHandle, _Swappable

DEMO_LOGIN = Login(DEMO_TOKEN, DEMO_DEVICE_ID, DEMO_USER_ID)


def hailuo_provider(url: str, client: httpx.AsyncClient | None = None, login: Login | None = DEMO_LOGIN) -> HailuoAI:
    return HailuoAI(login, base_url=url, client=client)


@pytest.fixture(scope="session")
def hailuo_server() -> Iterator[tuple[_Swappable, str]]:
    dispatch = _Swappable()
    with serve(dispatch) as url:
        yield dispatch, url


@pytest.fixture
def hailuo_sim(hailuo_server: tuple[_Swappable, str]) -> SimHandle:
    dispatch, url = hailuo_server
    sim = HailuoSimulator()
    dispatch.app = sim.app
    return SimHandle(url, sim)


def _answer(sim: HailuoSimulator, chunks: list[str], delay: float) -> None:
    sim.script.chunks, sim.script.chunk_delay = chunks, delay


def _error(sim: HailuoSimulator, status: int, message: str) -> None:
    sim.script.http_error = ForcedError(status, message)


def _disconnect(sim: HailuoSimulator, chunks: list[str], after: int) -> None:
    sim.script.chunks, sim.script.disconnect_after = chunks, after


def _unknown(sim: HailuoSimulator, chunks: list[str]) -> None:
    sim.script.chunks, sim.script.extra_fields = chunks, True


def _renamed(sim: HailuoSimulator, chunks: list[str]) -> None:
    sim.script.chunks, sim.script.rename = chunks, ("messageResult", "content", "text")


ADAPTERS["hailuo"] = ContractAdapter(
    backend="hailuo",
    sim_fixture="hailuo_sim",
    make_provider=hailuo_provider,
    request=lambda: ChatRequest(model=MODEL, messages=(ChatMessage("user", "Hello"),)),
    script_answer=_answer,
    script_http_error=_error,
    script_disconnect=_disconnect,
    script_unknown_fields=_unknown,
    script_renamed_field=_renamed,
    disconnects=lambda sim: sim.disconnects,
    error_classes={400: HTTPStatusError, 403: HTTPStatusError, 429: HTTPStatusError, 500: HTTPStatusError,
                   503: UnavailableError},
)
