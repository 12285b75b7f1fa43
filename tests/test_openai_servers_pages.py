"""The chat and compare pages (AppTest) with ``CHATDECK_HF_URL`` at a llama-server or LiteLLM simulator:
free-form model ids picked and chatted with, the backend named after its host, errors naming it once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from runner.runner import get_runner
from simulators.openai_compat import OpenAICompatSimulator, SimModel
from tests.page_fixtures import shown
from tests.sim_fixtures import SimHandle, _Swappable

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
COMPARE = "from views import compare\ncompare.render()"
GGUF = "/models/qwen2.5-0.5b-instruct-q4_k_m.gguf"
OLLAMA_ID = "llama3.2:1b"
FLAVORS = {"llama-server": GGUF, "litellm": OLLAMA_ID}


@pytest.fixture
def server(pages_env: None, huggingface_sim: SimHandle, huggingface_server: tuple[_Swappable, str],
           monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> SimHandle:
    """The OpenAI-compatible backend at a simulator of the flavor the test names (no key), named by its URL."""
    flavor = getattr(request, "param", "litellm")
    sim = OpenAICompatSimulator(flavor=flavor, models=[SimModel(FLAVORS[flavor])], require_auth=False)
    sim.script.chunks = ["Hi ", "from ", flavor]
    huggingface_server[0].app = sim.app
    monkeypatch.setenv("CHATDECK_HF_KIND", "auto")
    monkeypatch.delenv("HF_TOKEN")
    return SimHandle(huggingface_sim.url, sim)


def live_list(at: AppTest) -> AppTest:
    """Run the page until the runner has the server's model list (fetched in the background), then once more."""
    at.run()
    catalog, deadline = get_runner().catalog, time.monotonic() + 10
    while not catalog.is_live("huggingface"):
        assert time.monotonic() < deadline, "the model list never came"
        time.sleep(0.02)
    return at.run()


@pytest.mark.parametrize("server", list(FLAVORS), indirect=True)
def test_a_free_form_id_chats_through_the_chat_page(server: SimHandle) -> None:
    model = FLAVORS[server.sim.flavor]
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["provider"] = "huggingface"
    live_list(at)
    assert at.selectbox(key="model_huggingface").options == [model]
    at.selectbox(key="model_huggingface").select(model).run()
    at.chat_input(key="prompt").set_value("Hello").run()
    assert not at.exception
    assert any(f"from {server.sim.flavor}" in m.value for m in at.markdown)
    assert server.sim.chat_requests()[-1].json_body["model"] == model
    host = server.url.removeprefix("http://").removesuffix("/v1")
    assert f"OpenAI-compatible server at {host}" in at.selectbox(key="provider").options  # named by its URL


@pytest.mark.parametrize("server", list(FLAVORS), indirect=True)
def test_a_free_form_id_in_a_comparison(server: SimHandle, allenai_sim: SimHandle) -> None:
    model = FLAVORS[server.sim.flavor]
    at = live_list(AppTest.from_string(COMPARE, default_timeout=30))
    at.selectbox(key="cmp_backend_0").select("allenai").run()
    at.selectbox(key="cmp_backend_1").select("huggingface").run()
    at.selectbox(key="cmp_model_1_huggingface").select(model).run()
    at.chat_input(key="compare_prompt").set_value("Say hi").run()
    assert not at.exception
    assert any(f"from {server.sim.flavor}" in m.value for m in at.markdown)
    assert server.sim.chat_requests()[-1].json_body["model"] == model


def test_an_unknown_model_says_what_the_server_offers_naming_it_once(server: SimHandle) -> None:
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["provider"] = "huggingface"
    live_list(at)
    server.sim.models = {"qwen3:8b": SimModel("qwen3:8b")}  # the admin swapped the server's models since
    at.chat_input(key="prompt").set_value("Hello").run()
    (error,) = [shown(e.value) for e in at.error]
    host = server.url.removeprefix("http://").removesuffix("/v1")
    assert error.startswith(f"**OpenAI-compatible server at {host}:** this server has no model '{OLLAMA_ID}'; "
                            "it offers qwen3:8b")
    assert "Hugging Face" not in error


def test_an_unreachable_server_is_named_once(pages_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATDECK_HF_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("CHATDECK_HF_KIND", "auto")
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["provider"] = "huggingface"
    at.run()
    at.chat_input(key="prompt").set_value("Hello").run()
    (error,) = [shown(e.value) for e in at.error]
    assert error.startswith("OpenAI-compatible server at 127.0.0.1:9 is unreachable")
    assert error.count("OpenAI-compatible server at 127.0.0.1:9") == 1 and "Hugging Face" not in error


@pytest.mark.parametrize("server", ["llama-server"], indirect=True)
def test_a_path_id_in_the_url_opens_a_chat_with_it(server: SimHandle) -> None:
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["provider"], at.query_params["model"] = "huggingface", GGUF  # ?model=%2Fmodels%2F…
    at.run()
    assert at.selectbox(key="model_huggingface").value == GGUF
    at.chat_input(key="prompt").set_value("Hello").run()
    assert server.sim.chat_requests()[-1].json_body["model"] == GGUF
