"""The database tables, as SQLAlchemy 2.x typed models.

Every conversation belongs to a user (``owner_id``), so isolating users or adding teams later
needs no redesign. The tables:

- ``users``: who owns what. A single local install has one user, ``external_id="local"``; a team deployment
  has one per signed-in address (``external_id`` is the lowercased e-mail address, see access/identity.py).
- ``app_settings``: server-wide settings an admin changed (disabled backends, shared logins, rate limits).
- ``conversations``: a chat with one backend and model at a time.
- ``messages``: the turns of a conversation, including replies still being written (``status="streaming"``).
- ``backend_states``: each backend's own ids per (conversation, backend, model), e.g. a parent message id.
- ``credentials``: each user's backend logins, encrypted with a key derived from ``CHATDECK_SECRET_KEY``.
- ``comparisons``, ``comparison_columns``, ``comparison_rounds``, ``comparison_answers``, ``votes``: one
  prompt sent to several backends side by side; each column is a conversation of its own.
- ``backend_health``: what each user's replies and checks last saw of each backend.
- ``api_tokens``: the REST API tokens users issued (their ids, expiry and revocation; never the tokens).
- ``custom_endpoints``: OpenAI-compatible servers an admin added as backends (the key encrypted).
- ``shares``, ``presets`` (storage/team_models.py): what a user shared with a teammate or everyone, and saved
  backend, model, sampling and system prompt settings, personal or the team's.

Rules that keep the data portable between SQLite and PostgreSQL:

- datetimes are stored and returned timezone-aware in UTC (:class:`UTCDateTime`);
- JSON columns use the generic :class:`sqlalchemy.JSON`. SQLAlchemy does not notice in-place changes to
  a JSON value, so always assign a new dict or list (the repository does).

Schema changes go through an Alembic migration in ``storage/migrations/versions`` (see its README).

Full-text search objects live outside these models (migration 0006, used by ``storage.library``): on SQLite
the FTS5 tables ``messages_fts`` (external content: ``messages.content``) and ``conversations_fts`` (titles),
kept in step by triggers; on PostgreSQL generated ``search_tsv`` columns (``to_tsvector('simple', ...)`` of the
same columns) with GIN indexes.
:func:`is_search_object` tells Alembic's comparison to leave them alone.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

MessageRole = Literal["user", "assistant", "system"]
MessageStatus = Literal["streaming", "complete", "partial", "error", "cancelled"]

ROLES: tuple[str, ...] = get_args(MessageRole)
# streaming: being written now; complete: finished normally; partial: stopped early (length limit, or the
# server stopped mid-reply) with the text kept; error: the backend failed (see ``error``); cancelled: the
# user stopped it.
STATUSES: tuple[str, ...] = get_args(MessageStatus)

# Constraint and index names follow one pattern, so migrations can refer to them by name on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


SEARCH_TABLE_PREFIXES = ("messages_fts", "conversations_fts")  # with FTS5's shadow tables (_data, _idx, ...)
SEARCH_INDEXES = frozenset({"ix_messages_content_tsv", "ix_conversations_title_tsv"})
SEARCH_COLUMN = "search_tsv"  # PostgreSQL only: generated from messages.content and conversations.title


def is_search_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """``False`` for the full-text search objects made by migration 0006 (an Alembic ``include_object``)."""
    if type_ == "table" and name and name.startswith(SEARCH_TABLE_PREFIXES):
        return False
    if type_ == "column" and name == SEARCH_COLUMN:
        return False
    return not (type_ == "index" and name in SEARCH_INDEXES)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    """SQL for a check constraint: ``column IN ('a', 'b')``."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC. Use this, never ``datetime.now()`` or ``utcnow()``."""
    return datetime.now(UTC)


def new_id() -> str:
    """A new conversation id: 32 lowercase hex characters."""
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always hands back timezone-aware UTC datetimes.

    PostgreSQL keeps the offset itself; SQLite stores plain text, so values are converted to UTC
    before they are written and marked as UTC when read. Naive datetimes are refused: their zone
    is unknown, and guessing wrong would silently shift times.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: store timezone-aware datetimes (see storage.models.utcnow)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Integer on SQLite makes the column an alias of the rowid, which SQLite fills in by itself.
BigIntegerPK = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[dict[str, Any]]: JSON(),
    }


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(255), unique=True)
    display_name: Mapped[str] = mapped_column(String(255), default="")
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Team deployments (access/): the signed-in address, when the user was last seen, and the admin's
    # override of the messages-per-minute limit (None: the server's default).
    email: Mapped[str | None] = mapped_column(String(320))
    last_seen_at: Mapped[datetime | None] = mapped_column()
    rate_limit: Mapped[int | None] = mapped_column(Integer)

    conversations: Mapped[list[Conversation]] = relationship(back_populates="owner", passive_deletes=True)

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, external_id={self.external_id!r})"


class AppSetting(Base):
    """One server-wide setting an admin changed on the Admin page (``access.policy`` reads them)."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"AppSetting({self.key!r})"


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index(None, "owner_id", "updated_at"),
        # The sidebar: one owner's archived or live conversations, pinned first, most recent first.
        Index(None, "owner_id", "archived", "pinned", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # Indexed by (owner_id, updated_at) above, which also serves every lookup by owner alone.
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500), default="")
    provider: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Last activity: set by the repository whenever a message is added or updated (not on rename or a
    # model switch, so those do not reorder the sidebar, which sorts on it).
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    pinned: Mapped[bool] = mapped_column(default=False, server_default=false())
    archived: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Sent to every backend in its own way (BackendInfo.system_prompt); "" for none.
    system_prompt: Mapped[str] = mapped_column(Text, default="", server_default="")

    owner: Mapped[User] = relationship(back_populates="conversations")
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", passive_deletes=True, order_by="Message.id"
    )

    def __repr__(self) -> str:
        return f"Conversation(id={self.id!r}, owner_id={self.owner_id!r}, title={self.title!r})"


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(_one_of("role", ROLES), name="role"),
        CheckConstraint(_one_of("status", STATUSES), name="status"),
        Index(None, "conversation_id", "id"),
        # Replies still being written, by when they were last touched: the runner's sweep for replies whose
        # writer died (runner/runner.py) reads only these rows, however many messages there are.
        Index("ix_messages_streaming_updated_at", "updated_at",
              sqlite_where=text("status = 'streaming'"), postgresql_where=text("status = 'streaming'")),
        # AUTOINCREMENT: SQLite never reuses the id of a deleted message, so a late write by the
        # runner to a deleted message can never land in somebody else's new message.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigIntegerPK, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, default="")
    reasoning: Mapped[str] = mapped_column(Text, default="")
    # [{"name": ..., "mime": ..., "size": bytes, "data_b64": ...}], see repository.encode_attachment; an image
    # refused at import is {"name", "mime", "size": 0, "unavailable": reason} (storage/transfer.placeholder)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    provider: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="complete")
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)  # the text shown to the user
    ttft_ms: Mapped[int | None] = mapped_column(Integer)  # time to first token
    total_ms: Mapped[int | None] = mapped_column(Integer)
    chars: Mapped[int] = mapped_column(Integer, default=0)  # len(content), kept in step by the repository
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)  # sources, title, images, usage...
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")

    def __repr__(self) -> str:
        return f"Message(id={self.id!r}, role={self.role!r}, status={self.status!r}, chars={self.chars!r})"


class BackendState(Base):
    __tablename__ = "backend_states"
    __table_args__ = (UniqueConstraint("conversation_id", "provider", "model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(255))
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"BackendState({self.conversation_id!r}, {self.provider!r}, {self.model!r})"


class Credential(Base):
    """One user's login for one backend (cookies, tokens), encrypted at rest (see storage.secrets)."""

    __tablename__ = "credentials"
    __table_args__ = (UniqueConstraint("owner_id", "backend"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    backend: Mapped[str] = mapped_column(String(100))
    secret: Mapped[str] = mapped_column(Text)  # a Fernet token of the JSON-encoded values
    hint: Mapped[str] = mapped_column(String(64), default="")  # a masked hint, safe to show ("…a1b2")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"Credential(owner_id={self.owner_id!r}, backend={self.backend!r})"


class ApiToken(Base):
    """A token a user issued in Settings for the REST API. The JWT itself is never stored: only its
    ``jti``, so a token can be listed, checked on every request and revoked at once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"ApiToken(id={self.id!r}, owner_id={self.owner_id!r}, name={self.name!r})"


class CustomEndpoint(Base):
    """An OpenAI-compatible server an admin added (Ollama, vLLM, TGI, llama.cpp); a backend of its own.

    ``secret`` is the optional API key, sealed like a credential (see storage.secrets)."""

    __tablename__ = "custom_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    base_url: Mapped[str] = mapped_column(String(500))
    models: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"CustomEndpoint(slug={self.slug!r}, base_url={self.base_url!r})"


class Comparison(Base):
    """One prompt (and its follow-ups) sent to several backends side by side.

    Each column is a conversation of its own, so it continues with its backend's saved ids
    and opens on the chat page like any other chat.
    """

    __tablename__ = "comparisons"
    __table_args__ = (Index(None, "owner_id", "updated_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500), default="")
    blind: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The team arena (arena/): a private comparison's votes stay off the team board; the category is the
    # tag chosen when the comparison was made, a slice of the board.
    private: Mapped[bool] = mapped_column(default=False, server_default=false())
    category: Mapped[str] = mapped_column(String(64), default="", server_default="")

    columns: Mapped[list[ComparisonColumn]] = relationship(
        back_populates="comparison", order_by="ComparisonColumn.position", cascade="all, delete-orphan"
    )


class ComparisonColumn(Base):
    __tablename__ = "comparison_columns"
    __table_args__ = (UniqueConstraint("comparison_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comparison_id: Mapped[str] = mapped_column(ForeignKey("comparisons.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    provider: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(255))
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))

    comparison: Mapped[Comparison] = relationship(back_populates="columns")


class ComparisonRound(Base):
    """One prompt sent to every column of a comparison, with the options it was sent with."""

    __tablename__ = "comparison_rounds"
    __table_args__ = (UniqueConstraint("comparison_id", "number"), Index(None, "created_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comparison_id: Mapped[str] = mapped_column(ForeignKey("comparisons.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # 0, 1, 2... within the comparison
    prompt: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)  # temperature, top_p, ...
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ComparisonAnswer(Base):
    """Which reply message answered a round in a column (timings and text live on the message)."""

    __tablename__ = "comparison_answers"
    __table_args__ = (UniqueConstraint("round_id", "column_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("comparison_rounds.id", ondelete="CASCADE"))
    column_id: Mapped[int] = mapped_column(ForeignKey("comparison_columns.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(BigIntegerPK, ForeignKey("messages.id", ondelete="CASCADE"))


class Vote(Base):
    """The verdict on one round: a best column, a tie, or all bad."""

    __tablename__ = "votes"
    __table_args__ = (CheckConstraint("verdict IN ('best', 'tie', 'all_bad')", name="verdict"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("comparison_rounds.id", ondelete="CASCADE"), unique=True)
    verdict: Mapped[str] = mapped_column(String(16))
    column_id: Mapped[int | None] = mapped_column(ForeignKey("comparison_columns.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ArenaBattle(Base):
    """One battle imported from an exported battles file (arena/battles.py): a pairwise verdict without
    the answers. The team board counts these beside the votes of this install's own comparisons.
    ``key`` is a digest of the whole record, so importing a file twice adds nothing.
    """

    __tablename__ = "arena_battles"
    __table_args__ = (
        CheckConstraint("winner IN ('model_a', 'model_b', 'tie', 'tie (bothbad)')", name="winner"),
        Index(None, "timestamp"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    model_a: Mapped[str] = mapped_column(String(400))
    model_b: Mapped[str] = mapped_column(String(400))
    winner: Mapped[str] = mapped_column(String(16))
    judge: Mapped[str] = mapped_column(String(320), default="")
    timestamp: Mapped[datetime] = mapped_column()
    category: Mapped[str] = mapped_column(String(64), default="")
    blind: Mapped[bool] = mapped_column(default=False)
    identity_leak: Mapped[bool] = mapped_column(default=False)
    style: Mapped[dict[str, Any]] = mapped_column(default=dict)  # len_a, len_b, markdown_a, markdown_b
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class TeamVote(Base):
    """Another member's verdict on a round of a shared comparison (a prompt-set batch voted by the team).

    The owner's own verdict stays in ``votes``; each other member has at most one here per round.
    """

    __tablename__ = "team_votes"
    __table_args__ = (UniqueConstraint("round_id", "voter_id"),
                      CheckConstraint("verdict IN ('best', 'tie', 'all_bad')", name="verdict"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("comparison_rounds.id", ondelete="CASCADE"))
    voter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    verdict: Mapped[str] = mapped_column(String(16))
    column_id: Mapped[int | None] = mapped_column(ForeignKey("comparison_columns.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PromptSet(Base):
    """A saved list of prompts (each with an optional category) to run as a batch against chosen columns."""

    __tablename__ = "prompt_sets"
    __table_args__ = (Index(None, "owner_id", "updated_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    prompts: Mapped[list[dict[str, Any]]] = mapped_column(default=list)  # [{"prompt": ..., "category": ...}]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Batch(Base):
    """One run of a prompt set against chosen (backend, model) columns: each prompt a comparison of its own.

    Worked through by one process at a time (arena/batch_worker.py), which holds a lease on it
    (``lease_owner`` until ``lease_until``) and renews it; a lease left by a process that stopped
    lapses, and another process (or the same one restarted) resumes the batch.
    """

    __tablename__ = "batches"
    __table_args__ = (Index(None, "owner_id", "created_at"), Index(None, "status"),
                      CheckConstraint("status IN ('running', 'done', 'cancelled')", name="status"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    prompt_set_id: Mapped[str | None] = mapped_column(ForeignKey("prompt_sets.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    columns: Mapped[list[Any]] = mapped_column(JSON(), default=list)  # [[backend, model], ...]
    blind: Mapped[bool] = mapped_column(default=False)
    private: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="running")
    waiting: Mapped[str] = mapped_column(Text, default="")  # why it is waiting now (a rate limit), or ""
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class BatchItem(Base):
    """One prompt of a batch and the comparison that answered it (``pending``, ``running``, ``done``,
    ``cancelled``). Failures stay in the comparison's answers, one per column."""

    __tablename__ = "batch_items"
    __table_args__ = (UniqueConstraint("batch_id", "number"),
                      CheckConstraint("status IN ('pending', 'running', 'done', 'cancelled')", name="status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    comparison_id: Mapped[str | None] = mapped_column(ForeignKey("comparisons.id", ondelete="SET NULL"))
    restarts: Mapped[int] = mapped_column(Integer, default=0)  # times a server stop cut it off and it was redone


class BackendHealth(Base):
    """What this user's replies and checks last saw of a backend (one row per user and backend)."""

    __tablename__ = "backend_health"
    __table_args__ = (UniqueConstraint("owner_id", "backend"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    backend: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(32))  # runner.health: ready, rate_limited, ...
    message: Mapped[str] = mapped_column(Text, default="")  # the last error, in plain words
    fix: Mapped[str] = mapped_column(Text, default="")
    snippet: Mapped[str] = mapped_column(Text, default="")  # redacted part of an answer not understood
    protocol: Mapped[str | None] = mapped_column(String(32))
    retry_until: Mapped[datetime | None] = mapped_column()
    last_success_at: Mapped[datetime | None] = mapped_column()
    last_failure_at: Mapped[datetime | None] = mapped_column()
    checked_at: Mapped[datetime | None] = mapped_column()  # last "Check now"
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# Shares and presets (issue 17) live in their own module; importing it here registers their tables.
from storage import team_models  # noqa: E402, F401
