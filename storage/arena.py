"""The team arena's reads and writes: every member's shared comparisons, imported battles, the blind setting.

Unlike the rest of :mod:`storage`, the reads here cross owners on purpose: the team board pools
everyone's judgment. They return only what the board shows (models, verdicts, timings, answer text
for the identity-leak check and style figures, the judge's address) and never a private comparison.
Every read is bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage import app_settings
from storage.comparisons import AnswerRow
from storage.models import (
    ArenaBattle,
    Comparison,
    ComparisonAnswer,
    ComparisonColumn,
    ComparisonRound,
    Message,
    User,
    Vote,
)
from storage.repository import dialect_insert, is_conversation_id

BLIND_ONLY_KEY = "arena_blind_only"  # app_settings: true -> the team board counts blind votes only
MAX_ROWS = 100_000


@dataclass(frozen=True)
class TeamAnswer:
    """One answer of a shared comparison round, with who asked and how the round was judged."""

    row: AnswerRow
    round_id: int
    judge: str  # the owner's address (or display name / id where there is none)
    category: str
    blind: bool
    column_id: int
    winner_column_id: int | None


def team_answers(s: Session, *, since: datetime, until: datetime | None = None,
                 limit: int = 20_000) -> list[TeamAnswer]:
    """Answers of every member's non-private comparison rounds asked in [since, until), newest first."""
    query = (
        select(ComparisonRound, Comparison, ComparisonColumn, Message, Vote, User)
        .join(Comparison, Comparison.id == ComparisonRound.comparison_id)
        .join(User, User.id == Comparison.owner_id)
        .join(ComparisonAnswer, ComparisonAnswer.round_id == ComparisonRound.id)
        .join(ComparisonColumn, ComparisonColumn.id == ComparisonAnswer.column_id)
        .join(Message, Message.id == ComparisonAnswer.message_id)
        .outerjoin(Vote, Vote.round_id == ComparisonRound.id)
        .where(Comparison.private.is_(False), ComparisonRound.created_at >= since)
        .order_by(ComparisonRound.created_at.desc(), ComparisonRound.id, ComparisonColumn.position)
        .limit(min(max(limit, 0), MAX_ROWS))
    )
    if until is not None:
        query = query.where(ComparisonRound.created_at < until)
    answers = []
    for round_, comparison, column, message, vote, user in s.execute(query):
        usage = (message.extra or {}).get("usage") or {}
        tokens = usage.get("output_tokens") or usage.get("completion_tokens")
        row = AnswerRow(
            comparison_id=comparison.id, round=round_.number, prompt=round_.prompt, asked_at=round_.created_at,
            column=column.position, provider=column.provider, model=column.model, status=message.status,
            ttft_ms=message.ttft_ms, total_ms=message.total_ms, chars=message.chars,
            output_tokens=tokens if isinstance(tokens, int) else None, verdict=vote.verdict if vote else None,
            won=bool(vote and vote.verdict == "best" and vote.column_id == column.id),
            options=dict(round_.options or {}), answer=message.content,
        )
        answers.append(TeamAnswer(
            row=row, round_id=round_.id, judge=user.email or user.display_name or user.external_id,
            category=comparison.category, blind=comparison.blind, column_id=column.id,
            winner_column_id=vote.column_id if vote else None,
        ))
    return answers


def set_private(s: Session, owner_id: int, comparison_id: str, private: bool) -> bool:
    """Keep one of this user's comparisons off the team board (or share it again). ``False``: not theirs."""
    if not is_conversation_id(comparison_id):
        return False
    result = s.execute(update(Comparison).where(Comparison.id == comparison_id, Comparison.owner_id == owner_id)
                       .values(private=private))
    return result.rowcount == 1  # type: ignore[attr-defined]


@dataclass(frozen=True)
class StoredBattle:
    key: str
    model_a: str
    model_b: str
    winner: str
    judge: str
    timestamp: datetime
    category: str
    blind: bool
    identity_leak: bool
    style: dict[str, int]


def add_battles(s: Session, battles: Sequence[StoredBattle]) -> int:
    """Store imported battles; one already stored (same key) is skipped. Returns how many were new."""
    added = 0
    for b in battles:
        insert = dialect_insert(s, ArenaBattle).values(
            key=b.key, model_a=b.model_a, model_b=b.model_b, winner=b.winner, judge=b.judge,
            timestamp=b.timestamp, category=b.category, blind=b.blind, identity_leak=b.identity_leak,
            style=dict(b.style),
        ).on_conflict_do_nothing(index_elements=["key"]).returning(ArenaBattle.id)
        added += len(s.execute(insert).all())  # rowcount is not reliable here on every driver
    return added


def imported_battles(s: Session, *, since: datetime, until: datetime | None = None,
                     limit: int = MAX_ROWS) -> list[StoredBattle]:
    query = (select(ArenaBattle).where(ArenaBattle.timestamp >= since)
             .order_by(ArenaBattle.timestamp.desc(), ArenaBattle.id).limit(min(max(limit, 0), MAX_ROWS)))
    if until is not None:
        query = query.where(ArenaBattle.timestamp < until)
    return [
        StoredBattle(b.key, b.model_a, b.model_b, b.winner, b.judge, b.timestamp, b.category, b.blind,
                     b.identity_leak, dict(b.style or {}))
        for b in s.scalars(query)
    ]


def blind_only(s: Session) -> bool:
    """Whether an admin restricted the team board to blind votes."""
    return app_settings.load_all(s).get(BLIND_ONLY_KEY) is True


def set_blind_only(s: Session, value: bool) -> None:
    if value:
        app_settings.put(s, BLIND_ONLY_KEY, True)
    else:
        app_settings.remove(s, BLIND_ONLY_KEY)
