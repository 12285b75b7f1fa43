"""Who uses this Chatdeck and how much: users and their activity, rate-limit overrides, replies over time.

Plain functions taking a Session, like :mod:`storage.repository`; these span every user, so only the
Admin page and the rate limit (:mod:`access.limits`) call them.

What is counted is a *reply*: an answer requested from a backend (a chat message, a regenerate or an
edit, each column of a comparison, a REST request). The runner creates each one as an assistant message
that is ``streaming`` and ends with a ``finish_reason`` (or is marked interrupted by a restart), so a
reply is an assistant message that has a finish reason or is not plainly ``complete``. Assistant
messages that only record history (appended by the REST API, imported from ChatGPT) are ``complete``
with no finish reason, and are not counted.

Every query is bounded and goes through the conversations' ``(owner_id, updated_at)`` index: a
conversation's ``updated_at`` moves with every message added or updated, so the messages created since
a moment all belong to conversations updated since then. Days are UTC days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from storage.models import Conversation, Message, User

MAX_RATE_LIMIT = 10_000  # messages per minute: beyond this a limit means nothing
USERS_LIMIT = 1000
USAGE_ROWS_LIMIT = 50_000  # days x users x backends
CONVERSATIONS_SCANNED = 50  # recently active conversations looked into, beyond the limit itself
FIRST_PAGE, MAX_PAGE = 8, 256  # messages read at a time, newest first, doubling: most windows hold a few

REPLY = and_(Message.role == "assistant", or_(Message.finish_reason.is_not(None), Message.status != "complete"))


@dataclass(frozen=True)
class UserActivity:
    id: int
    external_id: str
    email: str | None
    display_name: str
    is_admin: bool
    created_at: datetime
    last_seen_at: datetime | None
    rate_limit: int | None  # the admin's override, messages per minute; None: the server's default
    replies: int  # in the period asked for

    @property
    def label(self) -> str:
        """How to name the user: the address, else the display name, else the key."""
        return self.email or self.display_name or self.external_id


@dataclass(frozen=True)
class UsageRow:
    day: date  # UTC
    owner_id: int
    user: str  # the user's label (see UserActivity.label)
    provider: str
    replies: int


def _replies_since(since: datetime) -> Any:
    """``SELECT owner_id, count`` of the replies created since ``since``, per owner."""
    return (
        select(Conversation.owner_id, func.count(Message.id).label("replies"))
        .join(Message, Message.conversation_id == Conversation.id)
        .where(Conversation.updated_at >= since, Message.created_at >= since, REPLY)
        .group_by(Conversation.owner_id)
    )


def list_users(s: Session, *, since: datetime, limit: int = USERS_LIMIT) -> list[UserActivity]:
    """Users, most recently seen first, each with their replies since ``since`` (counted in SQL)."""
    counts = _replies_since(since).subquery()
    query = (
        select(User, func.coalesce(counts.c.replies, 0))
        .outerjoin(counts, counts.c.owner_id == User.id)
        .order_by(User.last_seen_at.desc().nulls_last(), User.id)
        .limit(max(0, min(limit, USERS_LIMIT)))
    )
    return [
        UserActivity(u.id, u.external_id, u.email, u.display_name, u.is_admin, u.created_at, u.last_seen_at,
                     u.rate_limit, int(replies))
        for u, replies in s.execute(query)
    ]


def set_rate_limit(s: Session, user_id: int, limit: int | None) -> bool:
    """Set a user's messages-per-minute override (0: no limit; ``None``: the server's default).

    ``False`` if there is no such user; ValueError for a limit out of range.
    """
    if limit is not None and not 0 <= limit <= MAX_RATE_LIMIT:
        raise ValueError(f"a rate limit is 0 to {MAX_RATE_LIMIT} messages per minute, not {limit}")
    result = s.execute(update(User).where(User.id == user_id).values(rate_limit=limit))
    return result.rowcount == 1  # type: ignore[attr-defined]


def lock_user(s: Session, user_id: int) -> None:
    """Hold the user's row until the session's transaction ends, so that per-user checks and the writes
    they allow are atomic across threads and processes (replicas sharing PostgreSQL).

    PostgreSQL: ``SELECT ... FOR NO KEY UPDATE`` on the users row (rows referencing it can still be
    inserted). SQLite locks the whole database for writing instead: a no-op ``UPDATE`` takes the write
    lock now, waiting on the busy timeout, and the transaction's reads after it see every earlier commit.
    Call it before the transaction has read anything on SQLite (a read snapshot taken before it could be
    stale, which SQLite answers with "database is locked" instead of waiting).
    """
    if s.get_bind().dialect.name == "postgresql":
        s.execute(select(User.id).where(User.id == user_id).with_for_update(key_share=True))
    else:
        s.execute(update(User).where(User.id == user_id).values(id=User.id))


def user_rate_limit(s: Session, user_id: int) -> int | None:
    """The user's override of the rate limit, or ``None`` when the server's default applies."""
    return s.scalar(select(User.rate_limit).where(User.id == user_id))


def recent_reply_times(s: Session, owner_id: int, *, since: datetime, limit: int) -> list[datetime]:
    """When the owner's latest replies since ``since`` were requested, newest first, at most ``limit``.

    Bounded by the window, not by the data: the conversations updated since then (newest first, at
    most ``limit`` + :data:`CONVERSATIONS_SCANNED`), and in each its messages newest first by id until
    one is older than ``since`` (ids grow with creation) or ``limit`` replies are found.
    """
    limit = max(0, min(limit, MAX_RATE_LIMIT))
    if limit == 0:
        return []
    conversations = s.scalars(
        select(Conversation.id)
        .where(Conversation.owner_id == owner_id, Conversation.updated_at >= since)
        .order_by(Conversation.updated_at.desc())
        .limit(limit + CONVERSATIONS_SCANNED)
    ).all()
    times: list[datetime] = []
    for conversation_id in conversations:
        times += _conversation_reply_times(s, conversation_id, since, limit)
    times.sort(reverse=True)
    return times[:limit]


def _conversation_reply_times(s: Session, conversation_id: str, since: datetime, limit: int) -> list[datetime]:
    is_reply = case((REPLY, True), else_=False).label("is_reply")
    found: list[datetime] = []
    before: int | None = None
    page = FIRST_PAGE
    while True:
        query = select(Message.id, Message.created_at, is_reply).where(Message.conversation_id == conversation_id)
        if before is not None:
            query = query.where(Message.id < before)
        rows = s.execute(query.order_by(Message.id.desc()).limit(page)).all()
        for message_id, created_at, reply in rows:
            if created_at < since:
                return found
            if reply:
                found.append(created_at)
                if len(found) >= limit:
                    return found
            before = message_id
        if len(rows) < page:
            return found
        page = min(2 * page, MAX_PAGE)


def _day(s: Session, column: Any) -> Any:
    """The UTC day of a timestamp column, in SQL (the two databases spell it differently)."""
    if s.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite stores UTC text: 'YYYY-MM-DD HH:MM:SS...'


def usage(s: Session, *, since: datetime, limit: int = USAGE_ROWS_LIMIT) -> list[UsageRow]:
    """Replies since ``since`` per UTC day, user and backend (aggregated in SQL), oldest day first."""
    day = _day(s, Message.created_at).label("day")
    counts = (
        select(day, Conversation.owner_id, Message.provider, func.count(Message.id).label("replies"))
        .join(Message, Message.conversation_id == Conversation.id)
        .where(Conversation.updated_at >= since, Message.created_at >= since, REPLY)
        .group_by(day, Conversation.owner_id, Message.provider)
        .subquery()
    )
    query = (
        select(counts.c.day, counts.c.owner_id, User.email, User.display_name, User.external_id, counts.c.provider,
               counts.c.replies)
        .join(User, User.id == counts.c.owner_id)
        .order_by(counts.c.day, counts.c.owner_id, counts.c.provider)
        .limit(max(0, min(limit, USAGE_ROWS_LIMIT)))
    )
    return [
        UsageRow(_as_date(d), owner, email or name or external, provider or "", int(n))
        for d, owner, email, name, external, provider, n in s.execute(query)
    ]


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
