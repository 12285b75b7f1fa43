"""Team votes: members judging the rounds of another member's shared batch (prompt sets voted by the team).

These reads cross owners on purpose, like :mod:`storage.arena`, and only ever reach comparisons that are
not private. The owner's own verdicts stay in ``votes`` (cast on the Compare page); a member's verdicts
on someone else's rounds live in ``team_votes``, one per member and round. Every read is bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage import repository as repo
from storage.comparisons import VERDICTS
from storage.models import (
    Batch,
    BatchItem,
    Comparison,
    ComparisonAnswer,
    ComparisonColumn,
    ComparisonRound,
    Message,
    TeamVote,
    User,
)
from storage.repository import dialect_insert

MAX_ROUNDS = 500


def _who(user: User) -> str:
    return user.email or user.display_name or user.external_id


@dataclass(frozen=True)
class SharedBatch:
    id: str
    name: str
    owner: str
    status: str
    prompts: int
    blind: bool
    created_at: datetime


def shared_batches(s: Session, viewer_id: int, *, limit: int = 30) -> list[SharedBatch]:
    """Other members' batches that are not private, newest first."""
    counts = (select(BatchItem.batch_id, func.count().label("n")).group_by(BatchItem.batch_id).subquery())
    query = (
        select(Batch, User, counts.c.n)
        .join(User, User.id == Batch.owner_id)
        .join(counts, counts.c.batch_id == Batch.id)
        .where(Batch.private.is_(False), Batch.owner_id != viewer_id)
        .order_by(Batch.created_at.desc())
        .limit(min(max(limit, 0), repo.MAX_LIMIT))
    )
    return [SharedBatch(b.id, b.name, _who(u), b.status, int(n), b.blind, b.created_at) for b, u, n in s.execute(query)]


@dataclass
class VoteRound:
    """One prompt of a shared batch as a voter sees it: the answers by column, and their own verdict."""

    round_id: int
    number: int
    prompt: str
    blind: bool
    columns: list[tuple[int, str, str]] = field(default_factory=list)  # (column id, backend, model), in position
    answers: dict[int, tuple[str, str]] = field(default_factory=dict)  # column id -> (status, text)
    verdict: str | None = None
    winner_column_id: int | None = None


def batch_rounds(s: Session, viewer_id: int, batch_id: str) -> list[VoteRound] | None:
    """The answered prompts of a shared batch, with this member's verdicts; ``None`` if not shared or not found."""
    if not repo.is_conversation_id(batch_id):
        return None
    batch = s.scalar(select(Batch).where(Batch.id == batch_id, Batch.private.is_(False)))
    if batch is None:
        return None
    rows = s.execute(
        select(BatchItem.number, ComparisonRound, Comparison)
        .join(ComparisonRound, ComparisonRound.comparison_id == BatchItem.comparison_id)
        .join(Comparison, Comparison.id == ComparisonRound.comparison_id)
        .where(BatchItem.batch_id == batch_id, BatchItem.status == "done", Comparison.private.is_(False))
        .order_by(BatchItem.number).limit(MAX_ROUNDS)
    ).all()
    rounds = {r.id: VoteRound(r.id, number, r.prompt, c.blind) for number, r, c in rows}
    comparison_of = {r.id: c.id for _, r, c in rows}
    if not rounds:
        return []
    columns = s.scalars(select(ComparisonColumn).where(ComparisonColumn.comparison_id.in_(set(comparison_of.values())))
                        .order_by(ComparisonColumn.position))
    by_comparison: dict[str, list[tuple[int, str, str]]] = {}
    for c in columns:
        by_comparison.setdefault(c.comparison_id, []).append((c.id, c.provider, c.model))
    for round_id, comparison_id in comparison_of.items():
        rounds[round_id].columns = by_comparison.get(comparison_id, [])
    replies = (select(ComparisonAnswer, Message).join(Message, Message.id == ComparisonAnswer.message_id)
               .where(ComparisonAnswer.round_id.in_(list(rounds))))
    for answer, message in s.execute(replies):
        rounds[answer.round_id].answers[answer.column_id] = (message.status, message.content)
    for vote in s.scalars(select(TeamVote).where(TeamVote.round_id.in_(list(rounds)), TeamVote.voter_id == viewer_id)):
        rounds[vote.round_id].verdict, rounds[vote.round_id].winner_column_id = vote.verdict, vote.column_id
    return list(rounds.values())


def cast(s: Session, voter_id: int, round_id: int, verdict: str, column_id: int | None = None) -> None:
    """Record (or change) a member's verdict on a round of another member's shared comparison."""
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}")
    if (verdict == "best") != (column_id is not None):
        raise ValueError("'best' names a column; 'tie' and 'all_bad' do not")
    comparison = s.scalar(select(Comparison).join(ComparisonRound, ComparisonRound.comparison_id == Comparison.id)
                          .where(ComparisonRound.id == round_id, Comparison.private.is_(False)))
    if comparison is None:
        raise LookupError(f"round {round_id} not found")
    if comparison.owner_id == voter_id:
        raise ValueError("your own comparison: vote on it on the Compare page")
    if column_id is not None and not s.scalar(select(func.count()).where(
            ComparisonColumn.id == column_id, ComparisonColumn.comparison_id == comparison.id)):
        raise ValueError("the winning column is not part of this comparison")
    insert = dialect_insert(s, TeamVote).values(round_id=round_id, voter_id=voter_id, verdict=verdict,
                                                column_id=column_id)
    s.execute(insert.on_conflict_do_update(index_elements=["round_id", "voter_id"],
                                           set_={"verdict": verdict, "column_id": column_id}))


@dataclass(frozen=True)
class Judgment:
    """A verdict on a round by a judge (the owner's from ``votes``, or a member's from ``team_votes``)."""

    round_id: int
    judge: str
    verdict: str
    winner_column_id: int | None


def judgments(s: Session, *, since: datetime, until: datetime | None = None,
              limit: int = 100_000) -> list[Judgment]:
    """Members' team votes on shared rounds asked in [since, until)."""
    query = (
        select(TeamVote, User)
        .join(User, User.id == TeamVote.voter_id)
        .join(ComparisonRound, ComparisonRound.id == TeamVote.round_id)
        .join(Comparison, Comparison.id == ComparisonRound.comparison_id)
        .where(Comparison.private.is_(False), ComparisonRound.created_at >= since)
        .order_by(TeamVote.id).limit(min(max(limit, 0), 100_000))
    )
    if until is not None:
        query = query.where(ComparisonRound.created_at < until)
    return [Judgment(v.round_id, _who(u), v.verdict, v.column_id) for v, u in s.execute(query)]
