"""The Hugging Face (OpenAI-compatible) simulator's fixtures and its contract adapter (a pytest plugin).

Fixtures:
    huggingface_server  session-scoped: one uvicorn on 127.0.0.1 whose app is swapped per test
    huggingface_sim     a fresh OpenAICompatSimulator per test, served there: ``.url`` (the /v1 base), ``.sim``

Importing this module adds ``ADAPTERS["huggingface"]`` for tests/test_provider_contract.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from providers.errors import CredentialsError, HTTPStatusError, UnavailableError
from providers.events import ChatMessage, ChatRequest
from providers.huggingface import OpenAICompatible
from simulators.common import ForcedError
from simulators.openai_compat import SIM_TOKEN, OpenAICompatSimulator
from simulators.serve import serve
from tests.sim_fixtures import ADAPTERS, ContractAdapter, SimHandle, _Swappable

MODEL = "meta-llama/Llama-3.3-70B-Instruct"


@pytest.fixture(scope="session")
def huggingface_server() -> Iterator[tuple[_Swappable, str]]:
    dispatch = _Swappable()
    with serve(dispatch) as url:
        yield dispatch, url


@pytest.fixture
def huggingface_sim(huggingface_server: tuple[_Swappable, str]) -> SimHandle:
    dispatch, url = huggingface_server
    sim = OpenAICompatSimulator()
    dispatch.app = sim.app
    return SimHandle(url + "/v1", sim)


def _answer(sim: OpenAICompatSimulator, chunks: list[str], delay: float) -> None:
    sim.script.chunks, sim.script.chunk_delay = chunks, delay


def _error(sim: OpenAICompatSimulator, status: int, message: str) -> None:
    sim.script.http_error = ForcedError(status, message)


def _disconnect(sim: OpenAICompatSimulator, chunks: list[str], after: int) -> None:
    sim.script.chunks, sim.script.disconnect_after = chunks, after


def _unknown(sim: OpenAICompatSimulator, chunks: list[str]) -> None:
    sim.script.chunks, sim.script.extra_fields = chunks, True


def _renamed(sim: OpenAICompatSimulator, chunks: list[str]) -> None:
    sim.script.chunks, sim.script.rename = chunks, ("delta", "content", "text")


ADAPTERS["huggingface"] = ContractAdapter(
    backend="huggingface",
    sim_fixture="huggingface_sim",
    make_provider=lambda url, client: OpenAICompatible(base_url=url, token=SIM_TOKEN, client=client),
    request=lambda: ChatRequest(model=MODEL, messages=(ChatMessage("user", "Hello"),)),
    script_answer=_answer,
    script_http_error=_error,
    script_disconnect=_disconnect,
    script_unknown_fields=_unknown,
    script_renamed_field=_renamed,
    disconnects=lambda sim: sim.disconnects,
    error_classes={
        400: HTTPStatusError, 401: CredentialsError, 403: HTTPStatusError, 429: HTTPStatusError,
        500: HTTPStatusError, 503: UnavailableError,
    },
)
