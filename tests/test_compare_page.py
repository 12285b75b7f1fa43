"""The compare and leaderboard pages under AppTest, with two simulated backends on loopback."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.sim_fixtures import SimHandle

COMPARE = "from views import compare\ncompare.render()"
LEADERBOARD = "from views import leaderboard\nleaderboard.render()"


@pytest.fixture
def env(pages_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATDECK_SECRET_KEY", "compare-page-tests")


def page(script: str) -> AppTest:
    return AppTest.from_string(script, default_timeout=30)


def start_comparison(allenai_sim: SimHandle, huggingface_sim: SimHandle) -> AppTest:
    allenai_sim.sim.script.chunks, allenai_sim.sim.script.chunk_delay = ["Ai2 ", "says ", "hi."], 0.15
    huggingface_sim.sim.script.chunks, huggingface_sim.sim.script.chunk_delay = ["HF ", "says ", "hello."], 0.15
    at = page(COMPARE).run()
    at.selectbox(key="cmp_backend_0").select("allenai").run()
    at.selectbox(key="cmp_backend_1").select("huggingface").run()
    at.chat_input(key="compare_prompt").set_value("Say hi").run()
    return at


def test_backends_without_a_login_are_left_out_and_say_why(env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN")
    at = page(COMPARE).run()
    assert not at.exception
    assert "huggingface" not in at.selectbox(key="cmp_backend_0").options
    assert any("Hugging Face (no login yet" in c.value for c in at.caption)


def test_one_prompt_reaches_every_column_at_once(
    env: None, allenai_sim: SimHandle, huggingface_sim: SimHandle
) -> None:
    at = start_comparison(allenai_sim, huggingface_sim)
    assert not at.exception
    texts = " ".join(m.value for m in at.markdown)
    assert "Ai2 says hi." in texts and "HF says hello." in texts
    (ai2,) = allenai_sim.sim.chat_requests()
    (hf,) = huggingface_sim.sim.chat_requests()
    # Concurrent, not one after the other: each backend got its request before the other finished.
    assert ai2.received_at < hf.wait_finished() and hf.received_at < ai2.wait_finished()
    assert at.query_params["cmp"]
    assert [b.label for b in at.button if b.key and b.key.startswith("vote_")].count("This one is best") == 2


def test_votes_reach_the_leaderboard(env: None, allenai_sim: SimHandle, huggingface_sim: SimHandle) -> None:
    at = start_comparison(allenai_sim, huggingface_sim)
    best = [b for b in at.button if b.key and b.key.startswith("vote_") and b.label == "This one is best"]
    best[1].click().run()  # the second column (order as picked: not blind)
    assert any("You voted best" in c.value for c in at.caption)
    board = page(LEADERBOARD).run()
    assert not board.exception
    table = board.dataframe[0].value
    rates = dict(zip(table["label"], table["win_rate"], strict=True))
    winner = [label for label, rate in rates.items() if rate == 1.0]
    assert len(winner) == 1 and winner[0].startswith("Hugging Face")
    assert next(label for label, rate in rates.items() if rate == 0.0).startswith("Ai2 Playground")


def test_an_empty_leaderboard_says_what_to_do(env: None) -> None:
    board = page(LEADERBOARD).run()
    assert any("Compare page" in i.value for i in board.info)
