"""The conversation library: the sidebar list and search, rename, pin, archive, delete, export and import. One
session per call; conversations come back as frozen :class:`ListedConversation` values.

Isolation is storage's: every function passes the signed-in user's id, and a conversation that is not theirs
is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from storage import library as store
from storage import repository as repo
from storage import transfer
from storage.db import get_engine, reading, session
from storage.library import HIGHLIGHT_END, HIGHLIGHT_START, SearchHit
from storage.models import utcnow
from storage.transfer import MAX_IMPORT_BYTES, ImportProblem, ImportResult

__all__ = [
    "HIGHLIGHT_END", "HIGHLIGHT_START", "MAX_IMPORT_BYTES", "ImportProblem", "ImportResult", "SearchHit",
]


@dataclass(frozen=True, slots=True)
class ListedConversation:
    """A conversation as the sidebar lists it (the open one: services/conversation_view.py)."""

    id: str
    owner_id: int
    title: str
    provider: str
    model: str
    pinned: bool
    archived: bool
    updated_at: datetime


# --- the sidebar list and search ------------------------------------------------------------------------


def sidebar_groups(
    owner: int, *, archived: bool, limit: int, tz: tzinfo
) -> tuple[list[tuple[str, list[ListedConversation]]], int]:
    """The owner's live (or archived) conversations grouped by date in ``tz`` (pinned first), and how many
    there are in all (at most ``limit``)."""
    with reading() as r:
        # the rows' columns come in ListedConversation's order: unpacked by position, faster than by name
        rows = [ListedConversation(*c) for c in store.sidebar_conversations(r, owner, archived=archived, limit=limit)]
    return store.group_by_date(rows, now=utcnow(), tz=tz), len(rows)


@dataclass(frozen=True, slots=True)
class Found:
    """Search results: the best conversations first, each with its snippet (matching words marked)."""

    hits: list[SearchHit]
    snippets: list[str]  # one per hit: around the matching message, or of the title


def search(owner: int, query: str, *, limit: int) -> Found:
    with session(get_engine()) as s:
        hits = store.search(s, owner, query, limit=limit)
    terms = store.search_terms(query)
    return Found(hits, [hit.snippet or store.snippet(hit.title, terms) for hit in hits])


# --- changes ------------------------------------------------------------------------------------------


def set_pinned(owner: int, conversation_id: str, pinned: bool) -> bool:
    with session(get_engine()) as s:
        return store.set_pinned(s, owner, conversation_id, pinned)


def set_archived(owner: int, conversation_id: str, archived: bool) -> bool:
    with session(get_engine()) as s:
        return store.set_archived(s, owner, conversation_id, archived)


def rename(owner: int, conversation_id: str, title: str) -> bool:
    with session(get_engine()) as s:
        return repo.rename_conversation(s, owner, conversation_id, title)


def delete(owner: int, conversation_id: str) -> bool:
    with session(get_engine()) as s:
        return repo.delete_conversation(s, owner, conversation_id)


# --- export and import --------------------------------------------------------------------------------


def markdown(owner: int, conversation_id: str, *, reasoning: bool) -> str:
    """The conversation as Markdown ("" if it is not the owner's)."""
    with session(get_engine()) as s:
        return transfer.conversation_markdown(s, owner, conversation_id, reasoning=reasoning) or ""


def json_export(owner: int, conversation_id: str, *, reasoning: bool) -> bytes:
    """The conversation as a Chatdeck JSON file (b"" if it is not the owner's)."""
    with session(get_engine()) as s:
        return transfer.conversation_json(s, owner, conversation_id, reasoning=reasoning) or b""


def export_all(owner: int) -> bytes:
    """Every conversation of the owner (archived ones too) as one Chatdeck JSON file."""
    with session(get_engine()) as s:
        return transfer.all_conversations_json(s, owner)


def export_file_name() -> str:
    """The name of an export of everything: today's date in it."""
    return f"chatdeck-{utcnow():%Y-%m-%d}.json"


def import_file(owner: int, data: bytes) -> ImportResult:
    """Import a Chatdeck export or ChatGPT's ``conversations.json`` in one transaction: all of it or nothing.
    Raises :class:`ImportProblem` (saying why) for a file that cannot be imported."""
    with session(get_engine()) as s:
        return transfer.import_file(s, owner, data)
