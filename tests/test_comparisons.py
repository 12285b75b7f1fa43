"""Comparisons in storage (SQLite and PostgreSQL): rounds, votes, owner scoping and the figures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from storage import comparisons
from storage import repository as repo
from storage.db import session
from storage.models import utcnow


def setup(engine: Engine) -> tuple[int, int, str, list[int]]:
    """Alice's comparison of two columns with one answered round; Bob is another user."""
    with session(engine) as s:
        alice, bob = repo.local_user(s).id, repo.get_or_create_user(s, "bob@example.com").id
        comparison = comparisons.create(s, alice, [("allenai", "olmo-a"), ("huggingface", "org/model-b")])
        column_ids = [c.id for c in comparison.columns]
        replies = {}
        for column, (text, ttft, total, status) in zip(
            comparison.columns, [("fast answer", 100, 1100, "complete"), ("", None, 500, "error")], strict=True
        ):
            repo.add_message(s, alice, column.conversation_id, role="user", content="Hi?")
            reply = repo.add_message(s, alice, column.conversation_id, role="assistant", content="")
            repo.update_message(s, reply.id, content=text, status=status, ttft_ms=ttft, total_ms=total,
                                extra={"usage": {"output_tokens": 50}} if text else {})
            replies[column.id] = reply.id
        comparisons.add_round(s, alice, comparison.id, "Hi?", replies, {"temperature": 0.7})
        return alice, bob, comparison.id, column_ids


def test_each_column_is_a_conversation_and_rounds_link_the_replies(engine: Engine) -> None:
    alice, _, cid, columns = setup(engine)
    with session(engine) as s:
        comparison = comparisons.get(s, alice, cid)
        assert comparison is not None and comparison.title == "Hi?"
        assert [c.position for c in comparison.columns] == [0, 1]
        assert repo.get_conversation(s, alice, comparison.columns[0].conversation_id) is not None
        (round_,) = comparisons.rounds(s, alice, cid)
        assert round_.number == 0 and round_.prompt == "Hi?" and round_.vote is None
        assert round_.answers[columns[0]].content == "fast answer"
        assert round_.answers[columns[1]].status == "error"


def test_votes_can_be_cast_changed_and_are_checked(engine: Engine) -> None:
    alice, bob, cid, columns = setup(engine)
    with session(engine) as s:
        round_id = comparisons.rounds(s, alice, cid)[0].id
        comparisons.vote(s, alice, round_id, "best", columns[1])
        comparisons.vote(s, alice, round_id, "best", columns[0])
        assert comparisons.rounds(s, alice, cid)[0].vote.column_id == columns[0]
        with pytest.raises(ValueError, match="names a column"):
            comparisons.vote(s, alice, round_id, "tie", columns[0])
        with pytest.raises(ValueError, match="unknown verdict"):
            comparisons.vote(s, alice, round_id, "meh")
        with pytest.raises(LookupError):
            comparisons.vote(s, bob, round_id, "tie")


def test_another_users_comparison_is_not_found(engine: Engine) -> None:
    alice, bob, cid, _ = setup(engine)
    with session(engine) as s:
        assert comparisons.get(s, bob, cid) is None
        assert comparisons.rounds(s, bob, cid) == []
        assert comparisons.list_recent(s, bob) == []
        assert comparisons.answer_rows(s, bob, since=utcnow() - timedelta(days=1)) == []
        assert comparisons.get(s, alice, "not-an-id") is None
        with pytest.raises(LookupError):
            comparisons.add_round(s, bob, cid, "sneaky", {})


def test_answer_rows_and_summary_add_up(engine: Engine) -> None:
    alice, _, cid, columns = setup(engine)
    with session(engine) as s:
        comparisons.vote(s, alice, comparisons.rounds(s, alice, cid)[0].id, "best", columns[0])
        rows = comparisons.answer_rows(s, alice, since=utcnow() - timedelta(days=1))
        assert not comparisons.answer_rows(s, alice, since=utcnow() + timedelta(days=1))
    assert [(r.provider, r.won, r.verdict) for r in rows] == [("allenai", True, "best"), ("huggingface", False, "best")]
    assert rows[0].options == {"temperature": 0.7} and rows[0].output_tokens == 50
    summary = {t["provider"]: t for t in comparisons.summarize(rows)}
    assert summary["allenai"]["win_rate"] == 1.0 and summary["huggingface"]["win_rate"] == 0.0
    assert summary["allenai"]["ttft_median_ms"] == 100.0
    assert summary["allenai"]["chars_per_s_median"] == pytest.approx(len("fast answer") / 1.0)
    assert summary["allenai"]["tokens_per_s_median"] == pytest.approx(50.0)
    assert summary["huggingface"]["failure_rate"] == 1.0 and summary["allenai"]["failure_rate"] == 0.0


def test_a_comparison_needs_two_columns(engine: Engine) -> None:
    with session(engine) as s, pytest.raises(ValueError, match="two columns"):
        comparisons.create(s, repo.local_user(s).id, [("allenai", "x")])


def test_percentiles_interpolate() -> None:
    assert comparisons._percentile([1, 2, 3, 4], 0.5) == 2.5
    assert comparisons._percentile([10], 0.9) == 10
    assert comparisons._percentile([], 0.5) is None
