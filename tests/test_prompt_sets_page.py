"""The prompt sets page under AppTest: prompts typed or imported, a set saved and run against two simulated
backends, the batch's progress and its reopen links; malformed files and empty sets refused with the reason."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

from arena import prompt_sets as service
from tests.sim_fixtures import SimHandle, wait_for

PAGE = "from views import prompt_sets\nprompt_sets.render()"


@pytest.fixture
def env(pages_env: None, allenai_sim: SimHandle, huggingface_sim: SimHandle) -> Iterator[None]:
    allenai_sim.sim.script.chunks = ["Ai2 ", "answers."]
    huggingface_sim.sim.script.chunks = ["HF ", "answers."]
    yield


def page() -> AppTest:
    return AppTest.from_string(PAGE, default_timeout=60)


def test_prompts_from_text_and_files() -> None:
    assert service.from_text("one\ntwo\n\nthree") == [{"prompt": p, "category": ""} for p in ("one", "two", "three")]
    assert [p["prompt"] for p in service.from_text("a\nlong one\n---\nsecond\n---\n")] == ["a\nlong one", "second"]
    assert service.from_file("p.csv", b"prompt,category\nHi?,chat\n\"Multi\nline\",\n") == [
        {"prompt": "Hi?", "category": "chat"}, {"prompt": "Multi\nline", "category": ""}]
    assert service.from_file("p.jsonl", b'{"prompt": "A", "category": "x"}\n\n"B"\n') == [
        {"prompt": "A", "category": "x"}, {"prompt": "B", "category": ""}]
    for name, data, reason in [("p.csv", b"question\nHi", "a \"prompt\" column"),
                               ("p.jsonl", b'{"prompt": 3}', "line 1: an object"),
                               ("p.jsonl", b"{oops", "line 1: not JSON"),
                               ("p.csv", b"prompt\n", "no prompts"),
                               ("p.csv", b"\xff\xfe", "not UTF-8")]:
        with pytest.raises(service.PromptFileError, match=reason):
            service.from_file(name, data)


def test_a_set_is_saved_run_followed_and_its_comparisons_reopen(env: None) -> None:
    at = page().run()
    assert not at.exception
    at.text_input(key="ps_name").input("Greetings")
    at.text_area(key="ps_text").input("Say hi\nSay bye\nSay thanks")
    at.button(key="ps_save").click().run()
    assert "Saved, with 3 prompts." in at.success[0].value
    at.selectbox(key="cmp_backend_0").select("allenai").run()
    at.selectbox(key="cmp_backend_1").select("huggingface").run()
    at.button(key="ps_run").click().run()
    batch_id = at.query_params["batch"]
    owner = int(at.session_state["owner_id"])
    assert wait_for(lambda: service.batch(owner, batch_id).status == "done", timeout=60)

    at = page()
    at.query_params["batch"] = batch_id
    at.run()
    assert not at.exception
    assert at.title[0].value == "Greetings"
    items = at.dataframe[0].value
    assert list(items["prompt"]) == ["Say hi", "Say bye", "Say thanks"]
    assert list(items["status"]) == ["done"] * 3 and set(items["Column A"]) == {"complete"}
    assert all(link.startswith("compare?cmp=") for link in items["open"])
    assert "3 of 3 prompts answered" in at.get("progress")[0].proto.text
    assert not [b for b in at.button if b.key == "ps_cancel"]  # finished: nothing to cancel

    compare = AppTest.from_string("from views import compare\ncompare.render()", default_timeout=60)
    compare.query_params["cmp"] = items["open"][1].split("=", 1)[1]
    compare.run()
    assert not compare.exception and compare.title[0].value == "Say bye"
    texts = " ".join(m.value for m in compare.markdown)
    assert "Ai2 answers." in texts and "HF answers." in texts


def test_an_empty_set_is_refused_with_the_reason(env: None) -> None:
    at = page().run()
    at.text_area(key="ps_text").input("")
    at.button(key="ps_save").click().run()
    assert at.error and at.error[0].value == "Not saved:"
    assert any("needs at least one prompt" in t.value for t in at.text)
