"""The messages-per-minute limit of each user, enforced by services/sending.py for the UI and the APIs alike.

Every reply requested from a backend counts: a chat message, a regenerate or an edit, each column of
a comparison, a REST request. A user's limit is their own override (set on the Admin page, on their
users row), else the server's default (access/policy.py); 0 means no limit. The count is taken from the
database over the last :data:`WINDOW`, so it holds across replicas and restarts.

:func:`check` runs before anything is saved or sent, and raises :class:`RateLimitedError`, which says
how many were sent, the limit, and how long until a slot frees. It holds the user's row (or, on SQLite,
the database's write lock) until the caller's transaction ends, so the count and the replies the caller
then inserts are one atomic step: concurrent requests, in any thread or replica, are admitted exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from access import policy
from storage import usage
from storage.models import utcnow

WINDOW = timedelta(minutes=1)

# What time it is for the limit; tests replace it to step past the window instead of waiting a minute.
clock: Callable[[], datetime] = utcnow


class RateLimitedError(Exception):
    """Too many replies in the last minute (the message is safe to show as is)."""

    def __init__(self, limit: int, sent: int, retry_after: int | None, needed: int = 1) -> None:
        self.limit, self.sent, self.retry_after, self.needed = limit, sent, retry_after, needed
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if self.retry_after is None:
            return (f"This needs {self.needed} replies at once, more than your limit of {self.limit} messages "
                    "per minute. Use fewer columns, or ask an admin to raise your limit.")
        wait = f"Try again in {self.retry_after} s."
        sent = f"{self.sent} message{'' if self.sent == 1 else 's'}"
        if self.needed == 1:
            return f"You have sent {sent} in the last minute (your limit). {wait}"
        return (f"This needs {self.needed} replies, and you have sent {sent} in the last minute "
                f"(your limit is {self.limit}). {wait}")


def limit_for(s: Session, owner_id: int) -> int:
    """The user's messages per minute: their override, else the server's default (0: no limit)."""
    override = usage.user_rate_limit(s, owner_id)
    return override if override is not None else policy.current(policy.engine_of(s)).rate_limit


def check(s: Session, owner_id: int, *, replies: int = 1, now: datetime | None = None) -> None:
    """Raise :class:`RateLimitedError` unless the user may request ``replies`` more replies now.

    Call it first in the session that then saves the replies (see :func:`storage.usage.lock_user`).
    """
    limit = limit_for(s, owner_id)
    if limit <= 0 or replies <= 0:
        return
    usage.lock_user(s, owner_id)  # concurrent checks of this user wait here until this transaction ends
    if replies > limit:
        raise RateLimitedError(limit, 0, None, replies)
    now = now if now is not None else clock()
    times = usage.recent_reply_times(s, owner_id, since=now - WINDOW, limit=limit)  # newest first
    room = limit - replies  # replies that may already be in the window
    if len(times) <= room:
        return
    frees_at = times[room] + WINDOW  # when enough of them have left the window
    raise RateLimitedError(limit, len(times), max(1, math.ceil((frees_at - now).total_seconds())), replies)


def admit(s: Session, owner_id: int, backends: Sequence[str], *, now: datetime | None = None) -> None:
    """Raise unless every backend in ``backends`` is enabled and the user may ask each for one reply now
    (:class:`access.policy.BackendDisabledError`, :class:`RateLimitedError`). The send use case
    (services/sending.py) calls it first, in the transaction that then saves the messages."""
    engine = policy.engine_of(s)
    for backend in backends:
        policy.ensure_enabled(engine, backend)
    check(s, owner_id, replies=len(backends), now=now)
