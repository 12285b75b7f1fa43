"""Liveness of replies being written, when several processes share one database.

A runner touches the replies it is writing (:func:`touch`) every few seconds, also while the backend
sends nothing (a slow reasoning model). Any runner's sweep (:func:`mark_interrupted` with
``stale_after``) then interrupts only replies nobody has touched for much longer: their writer died.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, literal_column, update
from sqlalchemy.orm import Session

from storage.models import Conversation, Message, utcnow
from storage.repository import INTERRUPTED_ERROR


def touch(s: Session, message_ids: Iterable[int]) -> int:
    """Mark the given replies, where still ``streaming``, as written just now; returns how many were."""
    ids = list(message_ids)
    if not ids:
        return 0
    result = s.execute(
        update(Message)
        .where(Message.id.in_(ids), Message.status == literal_column("'streaming'"))
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount  # type: ignore[attr-defined]  # Session.execute is typed Result; DML gives CursorResult


def save_streaming(s: Session, partials: Sequence[Mapping[str, Any]]) -> None:
    """Write the text so far of many replies at once (the runner's partial saves), in one statement.

    Each mapping holds ``id``, ``content``, ``reasoning``, ``ttft_ms`` and ``extra``. Only a reply still
    ``streaming`` is written: a partial save that loses a race with the reply's final save can never
    overwrite it. The replies' conversations are marked active, as :func:`repository.update_message` does.
    """
    if not partials:
        return
    now = utcnow()
    table = cast(Table, Message.__table__)  # a mapped class's table; DeclarativeBase types it FromClause
    s.connection().execute(
        table.update()
        .where(table.c.id == bindparam("b_id"), table.c.status == literal_column("'streaming'"))
        .values(content=bindparam("b_content"), chars=bindparam("b_chars"), reasoning=bindparam("b_reasoning"),
                ttft_ms=bindparam("b_ttft_ms"), extra=bindparam("b_extra"), updated_at=now),
        [{"b_id": p["id"], "b_content": p["content"], "b_chars": len(p["content"]), "b_reasoning": p["reasoning"],
          "b_ttft_ms": p["ttft_ms"], "b_extra": p["extra"]} for p in partials],
    )
    conversations = sorted({p["conversation_id"] for p in partials})
    s.execute(update(Conversation).where(Conversation.id.in_(conversations)).values(updated_at=now))


def mark_interrupted(s: Session, *, stale_after: timedelta | None = None, spare: Iterable[int] = ()) -> int:
    """Turn ``streaming`` messages into ``partial`` with :data:`INTERRUPTED_ERROR`, keeping their text.

    Without ``stale_after``, every one of them (a single process that has just started). When several
    processes share one database, the runner passes ``stale_after`` (well beyond its heartbeat) to touch only
    messages nobody has written to for that long, and the ids of its own replies in ``spare``. Reads only the
    partial index of streaming messages. Returns how many messages were changed.
    """
    now = utcnow()
    # A literal, not a bound parameter, so every plan (PostgreSQL's generic ones too) can use the partial index.
    query = update(Message).where(Message.status == literal_column("'streaming'"))
    if stale_after is not None:
        query = query.where(Message.updated_at < now - stale_after)
    spared = list(spare)
    if spared:
        query = query.where(Message.id.not_in(spared))
    result = s.execute(
        query.values(status="partial", error=INTERRUPTED_ERROR, updated_at=now).execution_options(
            synchronize_session="fetch"
        )
    )
    return result.rowcount  # type: ignore[attr-defined]  # Session.execute is typed Result; DML gives CursorResult
