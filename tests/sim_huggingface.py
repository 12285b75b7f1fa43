"""The Hugging Face (OpenAI-compatible) simulator's fixtures and its contract adapter (a pytest plugin).

Fixtures:
    huggingface_server  session-scoped: one uvicorn on 127.0.0.1 whose app is swapped per test
    huggingface_sim     a fresh OpenAICompatSimulator per test, served there: ``.url`` (the /v1 base), ``.sim``

Importing this module adds ``ADAPTERS["huggingface"]`` for tests/test_provider_contract.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from providers.errors import CredentialsError, HTTPStatusError, RequestError, UnavailableError
from providers.events import ChatMessage, ChatRequest
from providers.openai_compatible import OpenAICompatible
from simulators.openai_compat import SIM_TOKEN, OpenAICompatSimulator
from tests.sim_fixtures import ADAPTERS, SimHandle, _Swappable, script_adapter, swappable_server

MODEL = "meta-llama/Llama-3.3-70B-Instruct"


@pytest.fixture(scope="session")
def huggingface_server() -> Iterator[tuple[_Swappable, str]]:
    yield from swappable_server()


@pytest.fixture
def huggingface_sim(huggingface_server: tuple[_Swappable, str]) -> SimHandle:
    dispatch, url = huggingface_server
    sim = OpenAICompatSimulator()
    dispatch.app = sim.app
    return SimHandle(url + "/v1", sim)


ADAPTERS["huggingface"] = script_adapter(
    "huggingface", "huggingface_sim",
    lambda url, client: OpenAICompatible(base_url=url, token=SIM_TOKEN, client=client),
    lambda: ChatRequest(model=MODEL, messages=(ChatMessage("user", "Hello"),)),
    renamed=("delta", "content", "text"),
    error_classes={
        400: RequestError,  # that request's own problem, not the server's
        401: CredentialsError, 403: HTTPStatusError, 429: HTTPStatusError,
        500: HTTPStatusError, 503: UnavailableError,
    },
)
