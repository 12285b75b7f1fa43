"""The conversation library: the sidebar list (pinned on top, archive, grouped by date) and full-text search.

Plain functions taking a Session and an owner id, like ``storage.repository``; every query is owner-scoped and
bounded. Search runs on SQLite's FTS5 tables and PostgreSQL's tsvector indexes made by migration 0006, and
gives the same results on both: words are runs of letters and digits, lowercased, accents kept; every query
word matches as a whole word, or as a prefix when whole words give too few results; all of them must appear
(in the title, or in one message).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Protocol, TypeVar

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import Session

from storage.models import Conversation, Message
from storage.repository import MAX_LIMIT, AnyRow, Reader, is_conversation_id

# --- the sidebar ------------------------------------------------------------------------------------

PINNED, TODAY, YESTERDAY, LAST_WEEK, OLDER = "Pinned", "Today", "Yesterday", "Previous 7 days", "Older"


# The columns the sidebar lists, in the order of services.library.ListedConversation's fields (which takes them
# by position); built once (the same statement on every page run).
_LISTED = (select(Conversation.id, Conversation.owner_id, Conversation.title, Conversation.provider,
                  Conversation.model, Conversation.pinned, Conversation.archived, Conversation.updated_at)
           .where(Conversation.owner_id == bindparam("owner"), Conversation.archived == bindparam("archived"))
           .order_by(Conversation.pinned.desc(), Conversation.updated_at.desc(), Conversation.id.desc())
           .limit(bindparam("limit")))


def sidebar_conversations(r: Reader, owner_id: int, *, archived: bool = False, limit: int = 50) -> list[AnyRow]:
    """The owner's live (or archived) conversations: pinned first, then most recently active first, as rows
    of the columns the sidebar lists (id, owner_id, title, provider, model, pinned, archived, updated_at).

    Served by the index on (owner_id, archived, pinned, updated_at).
    """
    values = {"owner": owner_id, "archived": archived, "limit": max(0, min(int(limit), MAX_LIMIT))}
    return list(r.execute(_LISTED, values).all())


class Dated(Protocol):
    """What grouping by date reads of a conversation (a stored row or a view of one)."""

    @property
    def updated_at(self) -> datetime: ...
    @property
    def pinned(self) -> bool: ...
    @property
    def archived(self) -> bool: ...


D = TypeVar("D", bound=Dated)


def group_by_date(conversations: Sequence[D], *, now: datetime, tz: tzinfo) -> list[tuple[str, list[D]]]:
    """Pinned conversations, then Today, Yesterday, Previous 7 days and Older (days in the user's ``tz``).

    Keeps the given order within each group and leaves out empty groups.
    """
    today = now.astimezone(tz).date()
    groups: dict[str, list[D]] = {name: [] for name in (PINNED, TODAY, YESTERDAY, LAST_WEEK, OLDER)}
    for conversation in conversations:
        age = (today - conversation.updated_at.astimezone(tz).date()).days
        if conversation.pinned and not conversation.archived:
            name = PINNED
        elif age <= 0:
            name = TODAY
        elif age == 1:
            name = YESTERDAY
        elif age <= 7:
            name = LAST_WEEK
        else:
            name = OLDER
        groups[name].append(conversation)
    return [(name, items) for name, items in groups.items() if items]


def set_pinned(s: Session, owner_id: int, conversation_id: str, pinned: bool) -> bool:
    """Pin or unpin. ``False`` if the conversation is not the owner's. Does not reorder by activity."""
    return _set(s, owner_id, conversation_id, pinned=pinned)


def set_archived(s: Session, owner_id: int, conversation_id: str, archived: bool) -> bool:
    """Move to or out of the archive (kept, searchable, out of the main list). ``False`` if not found."""
    return _set(s, owner_id, conversation_id, archived=archived)


def _set(s: Session, owner_id: int, conversation_id: str, **values: bool) -> bool:
    if not is_conversation_id(conversation_id):
        return False
    result = s.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.owner_id == owner_id)
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


# --- search -----------------------------------------------------------------------------------------

HIGHLIGHT_START, HIGHLIGHT_END = "\x02", "\x03"  # around each matching word in a snippet
MAX_TERMS = 8
MAX_TERM_CHARS = 64
CANDIDATES = 500  # the newest matching messages (and titles) that are ranked
SNIPPET_CHARS = 160
RANK_CHARS = 4000  # of each candidate message read to rank it
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class SearchHit:
    """One conversation that matched: by its title, by a message, or both."""

    conversation_id: str
    title: str
    title_matched: bool
    message_id: int | None  # the best-ranked matching message
    snippet: str  # text around the match, matching words between HIGHLIGHT_START and HIGHLIGHT_END; "" if none
    score: float  # of the best message (higher is better); 0.0 for a title-only match
    archived: bool
    updated_at: datetime
    provider: str = ""
    model: str = ""


def search_terms(query: str) -> list[str]:
    """The words of a search query as the index sees them (at most :data:`MAX_TERMS`)."""
    return [word.lower()[:MAX_TERM_CHARS] for word in _WORD.findall(query)][:MAX_TERMS]


def search(s: Session, owner_id: int, query: str, *, limit: int = 20) -> list[SearchHit]:
    """The owner's conversations matching every word of ``query``, best first.

    Whole words are looked up first; only if they give fewer than ``limit`` conversations are the words taken
    as prefixes too ("zeb" finds "zebra"), because a prefix query over a very common word costs far more.

    Title matches come first, then conversations by their best message's :func:`score`, then the most recently
    active. Bounded: the index gives the :data:`CANDIDATES` newest matching messages and titles; those are
    ranked here (the same way on both databases; an in-database rank such as bm25 or ts_rank would first read
    the statistics of every matching row), and snippets are made for the ``limit`` results only.
    """
    terms = search_terms(query)
    limit = max(0, min(int(limit), 100))
    if not terms or limit == 0:
        return []
    sqlite = s.get_bind().dialect.name == "sqlite"
    for prefixes in (False, True):  # whole words first: a prefix query reads every matching word's index
        if sqlite:
            fts_query = " AND ".join(f'"{t}"' + ("*" if prefixes else "") for t in terms)
            titles = _sqlite_titles(s, owner_id, f"title : ({fts_query})")
            ranked = _sqlite_messages(s, owner_id, fts_query)
        else:
            ts_query = " & ".join(t + (":*" if prefixes else "") for t in terms)
            titles, ranked = _pg_titles(s, owner_id, ts_query), _pg_messages(s, owner_id, ts_query)
        if len(titles | {row[1] for row in ranked}) >= limit:
            break
    best: dict[str, tuple[int, float]] = {}
    for ranked_id, conversation_id, ranked_score in _scored(s, ranked, terms):
        if conversation_id not in best or ranked_score > best[conversation_id][1]:
            best[conversation_id] = (ranked_id, ranked_score)
    conversations = {
        c.id: c
        for c in s.scalars(select(Conversation).where(Conversation.id.in_(set(titles) | set(best))))
        if c.owner_id == owner_id
    }

    def order(conversation_id: str) -> tuple[bool, float, float, str]:
        score = best.get(conversation_id, (0, 0.0))[1]
        return (conversation_id not in titles, -score, -conversations[conversation_id].updated_at.timestamp(),
                conversation_id)

    chosen = sorted(conversations, key=order)[:limit]
    message_ids = [best[c][0] for c in chosen if c in best]
    contents = dict(s.execute(select(Message.id, Message.content).where(Message.id.in_(message_ids))).all())
    hits = []
    for conversation_id in chosen:
        conversation = conversations[conversation_id]
        message_id, score = best.get(conversation_id, (None, 0.0))
        hits.append(
            SearchHit(
                conversation_id=conversation_id,
                title=conversation.title,
                title_matched=conversation_id in titles,
                message_id=message_id,
                snippet=snippet(contents.get(message_id, ""), terms) if message_id is not None else "",
                score=score,
                archived=conversation.archived,
                updated_at=conversation.updated_at,
                provider=conversation.provider,
                model=conversation.model,
            )
        )
    return hits


def score(content: str, terms: Sequence[str]) -> float:
    """How well a message matches: its words starting with a query word, per log of its length in words."""
    pattern = _pattern(terms)
    matches = sum(1 for _ in pattern.finditer(content))
    return matches / (1 + math.log(1 + len(_WORD.findall(content))))


def _scored(s: Session, candidates: list[Any], terms: Sequence[str]) -> list[tuple[int, str, float]]:
    """(message id, conversation id, score) of each candidate, scored on its first RANK_CHARS characters."""
    ids = [row[0] for row in candidates]
    query = select(Message.id, func.substr(Message.content, 1, RANK_CHARS)).where(Message.id.in_(ids))
    texts: dict[int, str] = dict(s.execute(query).all())
    return [(message_id, conversation_id, score(texts.get(message_id, ""), terms))
            for message_id, conversation_id in candidates]


def _pattern(terms: Sequence[str]) -> re.Pattern[str]:
    return re.compile(r"(?<![^\W_])(?:" + "|".join(re.escape(t) for t in terms) + r")[^\W_]*", re.IGNORECASE)


def snippet(content: str, terms: Sequence[str], *, width: int = SNIPPET_CHARS) -> str:
    """About ``width`` characters of ``content`` around its first word starting with one of ``terms``,
    matching words marked; "…" where text was cut. The same on every database (made here, not in SQL)."""
    if not terms:
        return ""
    pattern = _pattern(terms)
    first = pattern.search(content)
    start = 0 if first is None else max(0, first.start() - width // 3)
    if start > 0:  # do not cut a word in half
        space = content.find(" ", start, first.start() if first else start)
        start = space + 1 if space != -1 else start
    end = min(len(content), start + width)
    if end < len(content):
        space = content.rfind(" ", start, end)
        end = space if space > (first.end() if first else start) else end
    window = " ".join(content[start:end].split())
    marked = pattern.sub(lambda m: f"{HIGHLIGHT_START}{m.group(0)}{HIGHLIGHT_END}", window)
    return ("…" if start > 0 else "") + marked + ("…" if end < len(content) else "")


def _sqlite_titles(s: Session, owner_id: int, fts_query: str) -> set[str]:
    rows = s.execute(
        text(
            "SELECT c.id FROM conversations_fts f JOIN conversations c ON c.id = f.conversation_id "
            "WHERE conversations_fts MATCH :q AND c.owner_id = :owner ORDER BY f.rowid DESC LIMIT :n"
        ),
        {"q": fts_query, "owner": owner_id, "n": CANDIDATES},
    )
    return set(rows.scalars())


def _sqlite_messages(s: Session, owner_id: int, fts_query: str) -> list[Any]:
    rows = s.execute(
        text(
            "SELECT m.id, m.conversation_id FROM messages_fts "
            "JOIN messages m ON m.id = messages_fts.rowid JOIN conversations c ON c.id = m.conversation_id "
            "WHERE messages_fts MATCH :q AND c.owner_id = :owner ORDER BY messages_fts.rowid DESC LIMIT :n"
        ),
        {"q": fts_query, "owner": owner_id, "n": CANDIDATES},
    )
    return list(rows)


def _pg_titles(s: Session, owner_id: int, ts_query: str) -> set[str]:
    rows = s.execute(
        text(
            "SELECT c.id FROM conversations c WHERE c.search_tsv @@ to_tsquery('simple', :q) "
            "AND c.owner_id = :owner ORDER BY c.updated_at DESC LIMIT :n"
        ),
        {"q": ts_query, "owner": owner_id, "n": CANDIDATES},
    )
    return set(rows.scalars())


def _pg_messages(s: Session, owner_id: int, ts_query: str) -> list[Any]:
    rows = s.execute(
        text(
            "SELECT m.id, m.conversation_id "
            "FROM messages m JOIN conversations c ON c.id = m.conversation_id, to_tsquery('simple', :q) q "
            "WHERE m.search_tsv @@ q AND c.owner_id = :owner ORDER BY m.id DESC LIMIT :n"
        ),
        {"q": ts_query, "owner": owner_id, "n": CANDIDATES},
    )
    return list(rows)
