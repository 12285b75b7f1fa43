"""The team arena page and the compare page's arena settings under AppTest (single-user mode: an admin)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from storage import comparisons
from storage import repository as repo
from storage.db import get_engine, session
from storage.models import Comparison
from tests.sim_fixtures import SimHandle

ARENA = "from views import arena\narena.render()"
COMPARE = "from views import compare\ncompare.render()"


def page(script: str) -> AppTest:
    return AppTest.from_string(script, default_timeout=60)


def vote(address: str, texts: tuple[str, str], winner: int | None, *, blind: bool = False, times: int = 1) -> None:
    with session(get_engine()) as s:
        user = repo.get_or_create_user(s, address)
        user.email = address
        for _ in range(times):
            comparison = comparisons.create(s, user.id, [("allenai", "OLMo-2-13B"), ("huggingface", "org/Qwen3-4B")],
                                            blind=blind, category="code")
            replies = {}
            for column, text in zip(comparison.columns, texts, strict=True):
                reply = repo.add_message(s, user.id, column.conversation_id, role="assistant", content="")
                repo.update_message(s, reply.id, content=text, status="complete", ttft_ms=100, total_ms=1100)
                replies[column.id] = reply.id
            round_ = comparisons.add_round(s, user.id, comparison.id, "Which?", replies)
            if winner is None:
                comparisons.vote(s, user.id, round_.id, "tie")
            else:
                comparisons.vote(s, user.id, round_.id, "best", comparison.columns[winner].id)


def test_an_empty_board_says_how_to_fill_it(pages_env: None) -> None:
    at = page(ARENA).run()
    assert not at.exception
    assert "No shared votes in this period yet" in at.info[0].value
    assert not at.dataframe


def test_two_members_votes_pool_with_intervals_and_blind_only_leaves_leaks_out(pages_env: None) -> None:
    vote("ann@example.com", ("first", "second"), 0, times=3)
    vote("bob@example.com", ("first", "second"), 1, blind=True)
    vote("bob@example.com", ("I am OLMo.", "second"), 0, blind=True)  # names its own model
    at = page(ARENA).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["model"]) == ["allenai/OLMo-2-13B", "huggingface/org/Qwen3-4B"]
    assert list(table["battles"]) == [5, 5] and all(table["too_few"])
    assert (table["lower"] < table["rating"]).all() and (table["rating"] < table["upper"]).all()
    assert list(table["ttft_median_ms"]) == [100, 100]
    captions = " ".join(c.value for c in at.caption)
    assert "5 battles counted (votes) of 5" in captions and "1 blind battles are left out" in captions
    assert at.selectbox(key="arena_judge").options == ["Everyone", "ann@example.com", "bob@example.com"]

    at.selectbox(key="arena_judge").select("bob@example.com").run()
    assert list(at.dataframe[0].value["battles"]) == [2, 2]

    at.selectbox(key="arena_judge").select("Everyone").run()
    at.toggle(key="arena_blind_only").set_value(True).run()
    captions = " ".join(c.value for c in at.caption)
    assert "1 battles counted (blind votes without an identity leak) of 5" in captions
    assert list(at.dataframe[0].value["battles"]) == [1, 1]
    assert page(ARENA).run().toggle(key="arena_blind_only").value  # a server setting: a new session sees it

    at.toggle(key="arena_style").set_value(True).run()
    assert not at.exception and any("Style control:" in c.value for c in at.caption)


def test_a_comparison_can_be_kept_private_and_tagged_at_compare_time(
    pages_env: None, allenai_sim: SimHandle, huggingface_sim: SimHandle, monkeypatch: pytest.MonkeyPatch,
) -> None:
    at = page(COMPARE).run()
    at.selectbox(key="cmp_backend_0").select("allenai").run()
    at.selectbox(key="cmp_backend_1").select("huggingface").run()
    at.text_input(key="cmp_category").input("writing")
    at.toggle(key="cmp_private").set_value(True)
    at.chat_input(key="compare_prompt").set_value("Say hi").run()
    assert not at.exception
    with session(get_engine()) as s:
        (stored,) = s.scalars(select(Comparison)).all()
        assert stored.private and stored.category == "writing"
    best = [b for b in at.button if b.key and b.key.startswith("vote_") and b.label == "This one is best"]
    best[0].click().run()
    arena = page(ARENA).run()
    assert "No shared votes in this period yet" in arena.info[0].value  # private: not on the team board

    assert at.toggle(key=f"cmp_private_{stored.id}").value
    at.toggle(key=f"cmp_private_{stored.id}").set_value(False).run()  # shared after all
    assert "1 battles counted" in " ".join(c.value for c in page(ARENA).run().caption)


def test_a_judge_without_votes_any_more_falls_back_to_everyone(pages_env: None) -> None:
    vote("ann@example.com", ("first", "second"), 0, times=2)
    vote("bob@example.com", ("first", "second"), 1)
    at = page(ARENA).run()
    at.selectbox(key="arena_judge").select("bob@example.com").run()
    assert list(at.dataframe[0].value["battles"]) == [1, 1]
    with session(get_engine()) as s:  # Bob's comparison is deleted: he has no votes in the period now
        bob = repo.get_or_create_user(s, "bob@example.com").id
        for comparison in s.scalars(select(Comparison).where(Comparison.owner_id == bob)):
            s.delete(comparison)
    at.run()
    assert not at.exception
    assert at.selectbox(key="arena_judge").value == "Everyone"
    assert list(at.dataframe[0].value["battles"]) == [2, 2]  # what the picker says: everyone's
