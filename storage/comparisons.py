"""Comparisons: one prompt to several backends side by side, their answers, votes and figures.

Plain functions taking a Session and the owner's id, like :mod:`storage.repository`. Each column
of a comparison is an ordinary conversation (so it keeps its backend's ids and opens on the chat
page); a round links the prompt to the reply message of every column; a vote judges a round.
Every read is scoped by owner and bounded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from storage import repository as repo
from storage.models import (
    Comparison,
    ComparisonAnswer,
    ComparisonColumn,
    ComparisonRound,
    Message,
    Vote,
    utcnow,
)

VERDICTS = ("best", "tie", "all_bad")


def create(
    s: Session, owner_id: int, columns: Sequence[tuple[str, str]], *, title: str = "", blind: bool = False,
    private: bool = False, category: str = "",
) -> Comparison:
    """A comparison with one new conversation per (provider, model) column, in the given order.

    ``private`` keeps its votes off the team board; ``category`` tags it for the board's slices.
    """
    if len(columns) < 2:
        raise ValueError("a comparison needs at least two columns")
    comparison = Comparison(owner_id=owner_id, title=title[:500], blind=blind, private=private,
                            category=category.strip()[:64])
    s.add(comparison)
    for position, (provider, model) in enumerate(columns):
        conversation = repo.create_conversation(s, owner_id, provider=provider, model=model, title=title)
        comparison.columns.append(
            ComparisonColumn(position=position, provider=provider, model=model, conversation_id=conversation.id)
        )
    s.flush()
    return comparison


def get(s: Session, owner_id: int, comparison_id: str) -> Comparison | None:
    if not repo.is_conversation_id(comparison_id):
        return None
    return s.scalar(
        select(Comparison)
        .where(Comparison.id == comparison_id, Comparison.owner_id == owner_id)
        .options(selectinload(Comparison.columns))
    )


def list_recent(s: Session, owner_id: int, *, limit: int = 30) -> list[Comparison]:
    query = (
        select(Comparison)
        .where(Comparison.owner_id == owner_id)
        .order_by(Comparison.updated_at.desc(), Comparison.id.desc())
        .limit(min(max(limit, 0), repo.MAX_LIMIT))
    )
    return list(s.scalars(query))


def add_round(
    s: Session, owner_id: int, comparison_id: str, prompt: str, answers: Mapping[int, int],
    options: Mapping[str, Any] | None = None,
) -> ComparisonRound:
    """Record that ``prompt`` went to every column; ``answers`` maps column id to its reply message id."""
    comparison = get(s, owner_id, comparison_id)
    if comparison is None:
        raise LookupError(f"comparison {comparison_id!r} not found")
    if set(answers) - {c.id for c in comparison.columns}:
        raise ValueError("an answer names a column of another comparison")
    number = s.scalar(select(func.count()).where(ComparisonRound.comparison_id == comparison_id)) or 0
    round_ = ComparisonRound(comparison_id=comparison_id, number=number, prompt=prompt, options=dict(options or {}))
    s.add(round_)
    s.flush()
    s.add_all(ComparisonAnswer(round_id=round_.id, column_id=c, message_id=m) for c, m in answers.items())
    if not comparison.title:
        comparison.title = prompt.strip().splitlines()[0][:80] if prompt.strip() else "Comparison"
    comparison.updated_at = utcnow()
    s.flush()
    return round_


@dataclass
class Round:
    id: int
    number: int
    prompt: str
    answers: dict[int, Message]  # column id -> reply message
    vote: Vote | None


def rounds(s: Session, owner_id: int, comparison_id: str, *, limit: int = 20) -> list[Round]:
    """The latest ``limit`` rounds, oldest first, with their replies and votes."""
    if get(s, owner_id, comparison_id) is None:
        return []
    latest = list(
        s.scalars(
            select(ComparisonRound)
            .where(ComparisonRound.comparison_id == comparison_id)
            .order_by(ComparisonRound.number.desc())
            .limit(min(max(limit, 0), repo.MAX_LIMIT))
        )
    )[::-1]
    ids = [r.id for r in latest]
    answers: dict[int, dict[int, Message]] = {i: {} for i in ids}
    for answer, message in s.execute(
        select(ComparisonAnswer, Message)
        .join(Message, Message.id == ComparisonAnswer.message_id)
        .where(ComparisonAnswer.round_id.in_(ids))
    ):
        answers[answer.round_id][answer.column_id] = message
    votes = {v.round_id: v for v in s.scalars(select(Vote).where(Vote.round_id.in_(ids)))}
    return [Round(r.id, r.number, r.prompt, answers[r.id], votes.get(r.id)) for r in latest]


def vote(s: Session, owner_id: int, round_id: int, verdict: str, column_id: int | None = None) -> None:
    """Cast (or change) the verdict on a round of one of this user's comparisons."""
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}")
    if (verdict == "best") != (column_id is not None):
        raise ValueError("'best' names a column; 'tie' and 'all_bad' do not")
    round_ = s.scalar(
        select(ComparisonRound)
        .join(Comparison, Comparison.id == ComparisonRound.comparison_id)
        .where(ComparisonRound.id == round_id, Comparison.owner_id == owner_id)
    )
    if round_ is None:
        raise LookupError(f"round {round_id} not found")
    if column_id is not None and not s.scalar(
        select(func.count()).where(
            ComparisonColumn.id == column_id, ComparisonColumn.comparison_id == round_.comparison_id
        )
    ):
        raise ValueError("the winning column is not part of this comparison")
    existing = s.scalar(select(Vote).where(Vote.round_id == round_id))
    if existing is None:
        s.add(Vote(round_id=round_id, verdict=verdict, column_id=column_id))
    else:
        existing.verdict, existing.column_id = verdict, column_id
    s.flush()


@dataclass(frozen=True)
class AnswerRow:
    """One answer of one round, flattened for statistics and export (nothing secret in it)."""

    comparison_id: str
    round: int
    prompt: str
    asked_at: datetime
    column: int
    provider: str
    model: str
    status: str
    ttft_ms: int | None
    total_ms: int | None
    chars: int
    output_tokens: int | None
    verdict: str | None
    won: bool
    options: dict[str, Any]
    answer: str


def answer_rows(s: Session, owner_id: int, *, since: datetime, limit: int = 20_000) -> list[AnswerRow]:
    """Every answer of this user's rounds asked since ``since`` (newest first, at most ``limit``)."""
    query = (
        select(ComparisonRound, ComparisonColumn, Message, Vote)
        .join(Comparison, Comparison.id == ComparisonRound.comparison_id)
        .join(ComparisonAnswer, ComparisonAnswer.round_id == ComparisonRound.id)
        .join(ComparisonColumn, ComparisonColumn.id == ComparisonAnswer.column_id)
        .join(Message, Message.id == ComparisonAnswer.message_id)
        .outerjoin(Vote, Vote.round_id == ComparisonRound.id)
        .where(Comparison.owner_id == owner_id, ComparisonRound.created_at >= since)
        .order_by(ComparisonRound.created_at.desc(), ComparisonColumn.position)
        .limit(min(max(limit, 0), 100_000))
    )
    rows = []
    for round_, column, message, vote_ in s.execute(query):
        usage = (message.extra or {}).get("usage") or {}
        tokens = usage.get("output_tokens") or usage.get("completion_tokens")
        rows.append(
            AnswerRow(
                comparison_id=round_.comparison_id, round=round_.number, prompt=round_.prompt,
                asked_at=round_.created_at, column=column.position, provider=column.provider,
                model=column.model, status=message.status, ttft_ms=message.ttft_ms, total_ms=message.total_ms,
                chars=message.chars, output_tokens=tokens if isinstance(tokens, int) else None,
                verdict=vote_.verdict if vote_ else None,
                won=bool(vote_ and vote_.verdict == "best" and vote_.column_id == column.id),
                options=dict(round_.options or {}), answer=message.content,
            )
        )
    return rows


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = q * (len(ordered) - 1)
    low, high = int(index), min(int(index) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (index - low)


def summarize(rows: Sequence[AnswerRow]) -> list[dict[str, Any]]:
    """Per backend and model: wins, failure rate, time to first token and throughput (median, p90).

    Throughput is characters per second while the answer streamed (after its first token), and
    tokens per second where the backend reported a token count.
    """
    groups: dict[tuple[str, str], list[AnswerRow]] = {}
    for row in rows:
        groups.setdefault((row.provider, row.model), []).append(row)
    table = []
    for (provider, model), items in groups.items():
        voted = [r for r in items if r.verdict is not None]
        ttft = [float(r.ttft_ms) for r in items if r.ttft_ms is not None and r.status == "complete"]
        chars_per_s, tokens_per_s = [], []
        for r in items:
            if r.status == "complete" and r.total_ms and r.ttft_ms is not None and r.total_ms > r.ttft_ms:
                seconds = (r.total_ms - r.ttft_ms) / 1000
                chars_per_s.append(r.chars / seconds)
                if r.output_tokens:
                    tokens_per_s.append(r.output_tokens / seconds)
        failed = sum(1 for r in items if r.status in ("error", "partial"))
        table.append({
            "provider": provider, "model": model, "answers": len(items), "voted": len(voted),
            "wins": sum(1 for r in voted if r.won),
            "win_rate": (sum(1 for r in voted if r.won) / len(voted)) if voted else None,
            "failure_rate": failed / len(items),
            "ttft_median_ms": _percentile(ttft, 0.5), "ttft_p90_ms": _percentile(ttft, 0.9),
            "chars_per_s_median": _percentile(chars_per_s, 0.5), "chars_per_s_p90": _percentile(chars_per_s, 0.9),
            "tokens_per_s_median": _percentile(tokens_per_s, 0.5),
        })
    return sorted(table, key=lambda t: (-(t["win_rate"] or 0), t["ttft_median_ms"] or 1e12))
