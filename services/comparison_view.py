"""What the compare page draws: a comparison, its rounds with their answers and votes, as frozen values;
and the page's two small writes (a vote, nothing else: sending a round is services/sending.py)."""

from __future__ import annotations

from dataclasses import dataclass

from services.conversation_view import MessageView, message_view
from storage import comparisons
from storage.db import get_engine, session


@dataclass(frozen=True)
class ColumnView:
    id: int
    position: int
    provider: str
    model: str
    conversation_id: str


@dataclass(frozen=True)
class ComparisonView:
    id: str
    title: str
    blind: bool
    private: bool
    columns: tuple[ColumnView, ...]


@dataclass(frozen=True)
class VoteView:
    verdict: str
    column_id: int | None


@dataclass(frozen=True)
class RoundView:
    id: int
    number: int
    prompt: str
    answers: dict[int, MessageView]  # column id -> its answer
    vote: VoteView | None


@dataclass(frozen=True)
class Listed:
    """A past comparison in the sidebar."""

    id: str
    title: str


def comparison(owner: int, comparison_id: str) -> ComparisonView | None:
    """The user's comparison ``comparison_id``, or ``None`` if it is not theirs (or does not exist)."""
    with session(get_engine()) as s:
        found = comparisons.get(s, owner, comparison_id)
        if found is None:
            return None
        columns = tuple(ColumnView(c.id, c.position, c.provider, c.model, c.conversation_id) for c in found.columns)
        return ComparisonView(found.id, found.title, found.blind, found.private, columns)


def rounds(owner: int, comparison_id: str) -> list[RoundView]:
    """The latest rounds of the comparison, oldest first."""
    with session(get_engine()) as s:
        stored = comparisons.rounds(s, owner, comparison_id)
        return [
            RoundView(r.id, r.number, r.prompt, {c: message_view(m) for c, m in r.answers.items()},
                      VoteView(r.vote.verdict, r.vote.column_id) if r.vote is not None else None)
            for r in stored
        ]


def recent(owner: int, limit: int = 30) -> list[Listed]:
    """The user's latest comparisons, the most recently active first."""
    with session(get_engine()) as s:
        return [Listed(c.id, c.title) for c in comparisons.list_recent(s, owner, limit=limit)]


def vote(owner: int, round_id: int, verdict: str, column_id: int | None) -> None:
    """Record the user's verdict on a round ("best" with a column, "tie" or "all_bad")."""
    with session(get_engine()) as s:
        comparisons.vote(s, owner, round_id, verdict, column_id)
