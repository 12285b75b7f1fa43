"""Each user's view of each backend's health: plain functions taking a Session and the owner's id.

The runner records the outcome of every reply (and of every "Check now"); the Backends page and
the pickers read it. One row per (user, backend), so every read is small and bounded.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import BackendHealth, utcnow
from storage.repository import AnyRow, Reader


class Outcome(Protocol):
    """What storage needs of an outcome (``runner.health.Outcome`` is one). Read-only properties, so a frozen
    dataclass matches."""

    @property
    def ok(self) -> bool: ...
    @property
    def state(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def fix(self) -> str: ...
    @property
    def snippet(self) -> str: ...
    @property
    def retry_after(self) -> float | None: ...
    @property
    def protocol(self) -> str | None: ...


def record(s: Session, owner_id: int, backend: str, outcome: Outcome, *, probe: bool = False) -> None:
    """Fold an outcome into the backend's row: a success clears the error; a failure replaces it."""
    now = utcnow()
    row = _row(s, owner_id, backend, outcome.state)
    row.state = outcome.state
    if outcome.protocol:
        row.protocol = outcome.protocol
    if probe:
        row.checked_at = now
    if outcome.ok:  # a success may carry a note: part of the answer could not be read (drift)
        row.last_success_at = now
        row.message, row.fix, row.snippet, row.retry_until = outcome.message, outcome.fix, outcome.snippet, None
    else:
        row.last_failure_at = now
        row.message, row.fix, row.snippet = outcome.message, outcome.fix, outcome.snippet
        row.retry_until = now + timedelta(seconds=outcome.retry_after) if outcome.retry_after is not None else None
    s.flush()


def _row(s: Session, owner_id: int, backend: str, state: str) -> BackendHealth:
    """The (user, backend) row, created if missing. Two replies finishing at once may both find none:
    the second insert then fails inside its savepoint and the first one's row is used."""
    where = (BackendHealth.owner_id == owner_id, BackendHealth.backend == backend)
    row = s.scalar(select(BackendHealth).where(*where))
    if row is not None:
        return row
    try:
        with s.begin_nested():
            row = BackendHealth(owner_id=owner_id, backend=backend, state=state)
            s.add(row)
    except IntegrityError:
        row = s.scalars(select(BackendHealth).where(*where)).one()
    return row


# Every column but the ids and updated_at; built once (the chat page reads it on every run).
_OWNERS = select(BackendHealth.backend, BackendHealth.state, BackendHealth.message, BackendHealth.fix,
                 BackendHealth.snippet, BackendHealth.protocol, BackendHealth.retry_until,
                 BackendHealth.last_success_at, BackendHealth.last_failure_at, BackendHealth.checked_at
                 ).where(BackendHealth.owner_id == bindparam("owner")).limit(500)


def for_owner(r: Reader, owner_id: int) -> dict[str, AnyRow]:
    """Every backend's row for this user (at most one per backend), read only: backend, state, message, fix,
    snippet, protocol, retry_until, last_success_at, last_failure_at and checked_at."""
    return {row.backend: row for row in r.execute(_OWNERS, {"owner": owner_id})}
