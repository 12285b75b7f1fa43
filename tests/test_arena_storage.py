"""The team arena's storage and battle rules (SQLite and PostgreSQL): pooling across members, private
comparisons, battles from 3-column votes, the identity-leak flag, imports and the blind-only setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from arena import board
from arena.battles import Battle, BattleFileError, identity_names, markdown_count, names_itself, parse, to_csv
from storage import arena as store
from storage import comparisons
from storage import repository as repo
from storage.db import session
from storage.models import utcnow

COLUMNS = [("allenai", "OLMo-2-13B"), ("huggingface", "org/Qwen3-4B"), ("hailuo", "MiniMax-Text-01")]


def voted_round(engine: Engine, owner: int, verdict: str, winner: int | None = None, *, private: bool = False,
                blind: bool = False, texts: tuple[str, ...] = ("one", "two", "three"), category: str = "") -> str:
    """A 3-column comparison with one round judged ``verdict`` (``winner``: the winning column's position)."""
    with session(engine) as s:
        comparison = comparisons.create(s, owner, COLUMNS, private=private, blind=blind, category=category)
        replies = {}
        for column, text in zip(comparison.columns, texts, strict=True):
            reply = repo.add_message(s, owner, column.conversation_id, role="assistant", content="")
            repo.update_message(s, reply.id, content=text, status="complete", ttft_ms=50, total_ms=500)
            replies[column.id] = reply.id
        round_ = comparisons.add_round(s, owner, comparison.id, "Which?", replies)
        won = comparison.columns[winner].id if winner is not None else None
        comparisons.vote(s, owner, round_.id, verdict, won)
        return comparison.id


def users(engine: Engine) -> tuple[int, int]:
    with session(engine) as s:
        ann = repo.get_or_create_user(s, "ann@example.com")
        ann.email = "ann@example.com"
        bob = repo.get_or_create_user(s, "bob@example.com")
        bob.email = "bob@example.com"
        return ann.id, bob.id


def battles(engine: Engine) -> list[Battle]:
    with session(engine) as s:
        return board.battles_from_answers(store.team_answers(s, since=utcnow() - timedelta(days=1)))


def test_votes_of_every_member_pool_and_private_comparisons_stay_out(engine: Engine) -> None:
    ann, bob = users(engine)
    voted_round(engine, ann, "best", 0)
    voted_round(engine, bob, "tie", category="code")
    hidden = voted_round(engine, bob, "best", 2, private=True)
    got = battles(engine)
    # Ann's "best" of three: two battles (the two losers are not compared); Bob's tie: all three pairs.
    assert sorted((b.judge, b.model_a, b.model_b, b.winner) for b in got) == [
        ("ann@example.com", "allenai/OLMo-2-13B", "hailuo/MiniMax-Text-01", "model_a"),
        ("ann@example.com", "allenai/OLMo-2-13B", "huggingface/org/Qwen3-4B", "model_a"),
        ("bob@example.com", "allenai/OLMo-2-13B", "hailuo/MiniMax-Text-01", "tie"),
        ("bob@example.com", "allenai/OLMo-2-13B", "huggingface/org/Qwen3-4B", "tie"),
        ("bob@example.com", "huggingface/org/Qwen3-4B", "hailuo/MiniMax-Text-01", "tie"),
    ]
    assert {b.category for b in got if b.judge == "bob@example.com"} == {"code"}
    with session(engine) as s:  # sharing again is the owner's alone
        assert not store.set_private(s, ann, hidden, False)
        assert store.set_private(s, bob, hidden, False)
    assert len(battles(engine)) == 7
    with session(engine) as s:
        assert store.set_private(s, bob, hidden, True)
    assert len(battles(engine)) == 5


def test_all_bad_is_a_tie_and_unvoted_rounds_make_no_battles(engine: Engine) -> None:
    ann, _ = users(engine)
    voted_round(engine, ann, "all_bad")
    got = battles(engine)
    assert [b.winner for b in got] == ["tie (bothbad)"] * 3 and all(b.score == 0.5 and b.tie for b in got)
    with session(engine) as s:
        comparison = comparisons.create(s, ann, COLUMNS[:2])
        reply = repo.add_message(s, ann, comparison.columns[0].conversation_id, role="assistant", content="x")
        comparisons.add_round(s, ann, comparison.id, "unjudged", {comparison.columns[0].id: reply.id})
    assert len(battles(engine)) == 3


def test_a_blind_answer_naming_its_own_model_flags_the_vote(engine: Engine) -> None:
    ann, _ = users(engine)
    voted_round(engine, ann, "best", 1, blind=True, texts=("fine", "I am Qwen3, made by Alibaba.", "ok"))
    voted_round(engine, ann, "best", 1, blind=True, texts=("fine", "Good answer", "ok"))
    voted_round(engine, ann, "best", 1, texts=("fine", "I am Qwen3.", "ok"))  # not blind: nothing to leak
    got = battles(engine)
    assert sum(b.identity_leak for b in got) == 2 and all(b.blind for b in got if b.identity_leak)
    assert sum(b.counts_as_blind for b in got) == 2


def test_identity_names_and_markdown_counts() -> None:
    names = identity_names("huggingface", "Hugging Face", "meta-llama/Llama-3.3-70B-Instruct")
    assert {"Llama", "Llama-3.3-70B-Instruct", "Hugging Face", "huggingface"} <= set(names)
    assert names_itself("Hi, I'm llama, trained by Meta", names)
    assert names_itself("As hugging face's assistant...", names)
    assert not names_itself("The llamas of Peru are", names)  # a longer word is not the name
    assert not names_itself("A plain answer", names)
    assert markdown_count("# Title\n- one\n- two\n1. first\nsome **bold** and __strong__ text") == 6
    assert markdown_count("no formatting * here") == 0


def test_battles_files_round_trip_and_malformed_files_are_refused() -> None:
    battle = Battle("a/x", "b/y", "tie (bothbad)", "ann@example.com", datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
                    "code", True, False, 10, 20, 1, 0)
    text = to_csv([battle])
    assert text.splitlines()[0].startswith("model_a,model_b,winner,tie,judge,timestamp,category,blind")
    assert parse(text.encode()) == [battle]
    # A public arena file: Unix seconds, only the common fields.
    assert parse(b'[{"model_a": "m1", "model_b": "m2", "winner": "model_b", "timestamp": 1764581400}]')[0] == Battle(
        "m1", "m2", "model_b", "", datetime(2025, 12, 1, 9, 30, tzinfo=UTC))
    for bad, reason in [
        (text.replace("tie (bothbad)", "draw"), "winner is 'draw'"),
        (b'[{"model_a": "m", "model_b": "m", "winner": "tie", "timestamp": 1}]', "two different names"),
        (b'[{"model_a": "m", "winner": "tie", "timestamp": 1}]', "no model_b"),
        (text.replace(",true,", ",maybe,", 1), "not true or false"),
        (b"[{", "not valid JSON"),
    ]:
        with pytest.raises(BattleFileError, match=reason):
            parse(bad.encode() if isinstance(bad, str) else bad)


def test_imports_are_stored_once_and_blind_only_is_a_server_setting(engine: Engine) -> None:
    battle = Battle("a/x", "b/y", "model_a", "ann@example.com", utcnow() - timedelta(hours=1))
    with session(engine) as s:
        assert store.add_battles(s, [board.to_stored(battle)] * 2) == 1
        assert store.add_battles(s, [board.to_stored(battle)]) == 0
        (stored,) = store.imported_battles(s, since=utcnow() - timedelta(days=1))
        assert board.from_stored(stored) == battle
        assert store.imported_battles(s, since=utcnow()) == []
        assert not store.blind_only(s)
        store.set_blind_only(s, True)
    with session(engine) as s:
        assert store.blind_only(s)
        store.set_blind_only(s, False)
        assert not store.blind_only(s)
