"""The team voting on another member's shared batch (SQLite and PostgreSQL for storage; AppTest for the page):
who may vote on what, one verdict per member and round, and those verdicts pooled on the team board."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

from arena import board
from storage import arena as arena_store
from storage import comparisons, team_votes
from storage import prompt_sets as store
from storage import repository as repo
from storage.db import get_engine, session
from storage.models import utcnow

COLUMNS = [("allenai", "olmo-3.1-32b-instruct"), ("huggingface", "org/Qwen3-4B")]


def answered_batch(engine: Engine, owner: int, *, private: bool = False, blind: bool = True) -> tuple[str, list[int]]:
    """A batch of two prompts whose comparisons were answered (as the worker leaves them); returns round ids."""
    with session(engine) as s:
        prompt_set = store.save_set(s, owner, "Shared set", [{"prompt": "First?"}, {"prompt": "Second?"}])
        batch = store.start_batch(s, owner, prompt_set, COLUMNS, blind=blind, private=private)
        round_ids = []
        for item in store.items(s, batch.id):
            comparison = comparisons.create(s, owner, COLUMNS, blind=blind, private=private)
            replies = {}
            for column in comparison.columns:
                reply = repo.add_message(s, owner, column.conversation_id, role="assistant", content="")
                repo.update_message(s, reply.id, content=f"{column.model} says hi", status="complete")
                replies[column.id] = reply.id
            round_ids.append(comparisons.add_round(s, owner, comparison.id, item.prompt, replies).id)
            store.set_item(s, item.id, status="done", comparison_id=comparison.id)
        store.finish(s, batch.id)
        return batch.id, round_ids


def people(engine: Engine) -> tuple[int, int]:
    with session(engine) as s:
        ann, bob = repo.get_or_create_user(s, "ann@example.com"), repo.get_or_create_user(s, "bob@example.com")
        ann.email, bob.email = "ann@example.com", "bob@example.com"
        return ann.id, bob.id


def test_members_vote_on_a_shared_batch_and_the_board_pools_their_verdicts(engine: Engine) -> None:
    ann, bob = people(engine)
    batch_id, (first, second) = answered_batch(engine, ann)
    hidden_id, (hidden_round, _) = answered_batch(engine, ann, private=True)
    with session(engine) as s:
        assert [b.id for b in team_votes.shared_batches(s, bob)] == [batch_id]  # not the private one
        assert team_votes.shared_batches(s, ann) == []  # not one's own
        assert team_votes.batch_rounds(s, bob, hidden_id) is None
        rounds = team_votes.batch_rounds(s, bob, batch_id)
        assert [r.prompt for r in rounds] == ["First?", "Second?"] and all(r.verdict is None for r in rounds)
        winner = rounds[0].columns[1][0]
        assert rounds[0].answers[winner][0] == "complete"

        team_votes.cast(s, bob, first, "tie")
        team_votes.cast(s, bob, first, "best", winner)  # changed: still one verdict
        with pytest.raises(ValueError, match="your own comparison"):
            team_votes.cast(s, ann, first, "tie")
        with pytest.raises(LookupError):
            team_votes.cast(s, bob, hidden_round, "tie")
        with pytest.raises(ValueError, match="not part of this comparison"):
            team_votes.cast(s, bob, second, "best", winner)
        comparisons.vote(s, ann, second, "all_bad")  # the owner's own verdict, on the Compare page
        (mine, _) = team_votes.batch_rounds(s, bob, batch_id)
        assert mine.verdict == "best" and mine.winner_column_id == winner

    with session(engine) as s:
        since = utcnow() - timedelta(days=1)
        battles = board.battles_from_answers(arena_store.team_answers(s, since=since),
                                             team_votes.judgments(s, since=since))
    assert sorted((b.judge, b.winner) for b in battles) == [("ann@example.com", "tie (bothbad)"),
                                                            ("bob@example.com", "model_b")]


@pytest.fixture
def page_env(pages_env: None) -> Iterator[None]:
    yield


def test_the_vote_page_hides_names_of_a_blind_batch_until_the_vote(page_env: None) -> None:
    with session(get_engine()) as s:
        ann = repo.get_or_create_user(s, "ann@example.com")
        ann.email = "ann@example.com"
        ann_id = ann.id
    batch_id, _ = answered_batch(get_engine(), ann_id)
    at = AppTest.from_string("from views import prompt_sets\nprompt_sets.render()", default_timeout=60)
    at.run()
    assert not at.exception
    assert list(at.dataframe[-1].value["by"]) == ["ann@example.com"]  # listed for the team to vote on
    at.query_params["vote"] = batch_id
    at.run()
    texts = [t.value for t in at.text]
    assert "Model A" in texts and "Model B" in texts and not any("olmo" in t for t in texts)
    assert "You voted on 0 of 2 prompts" in at.get("progress")[0].proto.text
    tie = next(b.key for b in at.button if b.key and b.key.startswith("tv_") and b.key.endswith("_tie"))
    at.button(key=tie).click().run()
    texts = [t.value for t in at.text]
    assert "allenai/olmo-3.1-32b-instruct" in texts  # revealed for the prompt voted on
    assert "Model A" in texts  # the other prompt stays blind
    assert "You voted on 1 of 2 prompts" in at.get("progress")[0].proto.text
    shown = board.load(since=utcnow() - timedelta(days=1))
    assert shown.judges == ["Local user"] and shown.counted == 1
