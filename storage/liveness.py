"""Liveness of replies being written, when several processes share one database.

A runner touches the replies it is writing (:func:`touch`) every few seconds, also while the backend
sends nothing (a slow reasoning model). Any runner's sweep (``repository.mark_interrupted`` with
``stale_after``) then interrupts only replies nobody has touched for much longer: their writer died.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import literal_column, update
from sqlalchemy.orm import Session

from storage.models import Message, utcnow


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
    return result.rowcount  # type: ignore[attr-defined,no-any-return]
