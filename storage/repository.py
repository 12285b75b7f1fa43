"""Every read and write of Chatdeck's data: plain functions taking a Session (and usually an owner id).

Reads a page makes on every run also take a plain connection (:data:`Reader`, ``storage.db.reading()``)
and return rows of the columns drawn rather than objects: cheaper, and nothing to write back by mistake.

Rules that hold throughout:

- A conversation addressed by id is always looked up together with its owner: another user's id, an
  unknown id or a malformed one all behave as "not found" (``None``, ``False``, ``[]`` or ``LookupError``).
- Every list is bounded: it takes a ``limit`` (capped at :data:`MAX_LIMIT`).
- Functions never commit. Call them inside ``storage.db.session()``, which commits at the end of the block;
  they ``flush`` when they need database-generated values such as ids.
- JSON values (attachments, extra, backend state) are copied on the way in, so later changes to the
  caller's dicts do not leak into the database, and values that are not JSON fail at the call.

Only SQLite and PostgreSQL are supported (the upserts use their ``ON CONFLICT``).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard

from sqlalchemy import Connection, Row, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import ROLES, STATUSES, Conversation, Message, User, utcnow

MAX_LIMIT = 1000
LOCAL_EXTERNAL_ID = "local"
TITLE_MAX_CHARS = 500
INTERRUPTED_ERROR = "Interrupted: the server stopped while this reply was being written."

_CONVERSATION_ID = re.compile(r"[0-9a-f]{32}")

Reader = Session | Connection  # what a function that only reads takes (storage.db.session() or reading())
AnyRow = Row[*tuple[Any, ...]]  # a row of selected columns, read by name (row.title)


# --- users ------------------------------------------------------------------------------------------


def get_or_create_user(s: Session, external_id: str, display_name: str = "", *, is_admin: bool = False) -> User:
    """The user with this ``external_id``, created if new (safe if two requests race to create it).

    ``display_name`` and ``is_admin`` are used only when the user is created.
    """
    user = s.scalar(select(User).where(User.external_id == external_id))
    if user is not None:
        return user
    s.execute(
        dialect_insert(s, User)
        .values(external_id=external_id, display_name=display_name, is_admin=is_admin, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["external_id"])
    )
    return s.scalars(select(User).where(User.external_id == external_id)).one()


def local_user(s: Session) -> User:
    """The single user of a local install (``external_id="local"``). It administers its own install."""
    return get_or_create_user(s, LOCAL_EXTERNAL_ID, "Local user", is_admin=True)


def sign_in(s: Session, external_id: str, *, email: str | None, display_name: str, is_admin: bool) -> User:
    """The user with this ``external_id`` (created if new), brought up to date with what sign-in said of them.

    Admin rights follow the configuration at every sign-in, so removing an address from the admins takes
    effect at that person's next session.
    """
    user = get_or_create_user(s, external_id, display_name, is_admin=is_admin)
    user.email, user.is_admin, user.last_seen_at = email, is_admin, utcnow()
    user.display_name = display_name or user.display_name
    s.flush()
    return user


def is_admin(s: Session, user_id: int) -> bool:
    """Whether the user exists and is an admin now."""
    return bool(s.scalar(select(User.is_admin).where(User.id == user_id)))


# --- conversations ----------------------------------------------------------------------------------


def create_conversation(
    s: Session, owner_id: int, *, provider: str, model: str, title: str = "", conversation_id: str | None = None,
    system_prompt: str = "",
) -> Conversation:
    """A new conversation; ``conversation_id`` (32 lowercase hex characters) picks its id, else a random one."""
    if conversation_id is not None and not is_conversation_id(conversation_id):
        raise ValueError(f"malformed conversation id {conversation_id!r}")
    conversation = Conversation(owner_id=owner_id, provider=provider, model=model, title=_title(title),
                                system_prompt=system_prompt.strip())
    if conversation_id is not None:
        conversation.id = conversation_id
    s.add(conversation)
    s.flush()
    return conversation


def get_or_create_conversation(
    s: Session, owner_id: int, conversation_id: str, *, provider: str, model: str, title: str = ""
) -> Conversation:
    """The owner's conversation ``conversation_id``, created first if it does not exist yet.

    Safe when several requests race to create it (``INSERT ... ON CONFLICT DO NOTHING``, then a read:
    on PostgreSQL the insert waits for a concurrent one to commit). Raises LookupError if the id is
    another owner's.
    """
    existing = get_conversation(s, owner_id, conversation_id)
    if existing is not None:
        return existing
    if not is_conversation_id(conversation_id):
        raise ValueError(f"malformed conversation id {conversation_id!r}")
    now = utcnow()
    s.execute(
        dialect_insert(s, Conversation)
        .values(id=conversation_id, owner_id=owner_id, provider=provider, model=model, title=_title(title),
                created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return _owned_conversation(s, owner_id, conversation_id)


def get_conversation(s: Session, owner_id: int, conversation_id: str) -> Conversation | None:
    """The conversation if it exists and belongs to ``owner_id``; ``None`` otherwise (or if the id is malformed)."""
    if not is_conversation_id(conversation_id):
        return None
    return s.scalar(select(Conversation).where(Conversation.id == conversation_id, Conversation.owner_id == owner_id))


# What the chat page shows of its conversation; built once (the statement is the same on every page run).
_HEADER = select(Conversation.id, Conversation.title, Conversation.provider, Conversation.model,
                 Conversation.system_prompt).where(Conversation.id == bindparam("conversation"),
                                                   Conversation.owner_id == bindparam("owner"))


def conversation_header(r: Reader, owner_id: int, conversation_id: str) -> AnyRow | None:
    """The id, title, provider, model and system prompt of the owner's conversation (``None``: not theirs)."""
    if not is_conversation_id(conversation_id):
        return None
    return r.execute(_HEADER, {"conversation": conversation_id, "owner": owner_id}).first()


def list_conversations(s: Session, owner_id: int, *, limit: int = 50) -> list[Conversation]:
    """The owner's conversations, most recently active first."""
    query = (
        select(Conversation)
        .where(Conversation.owner_id == owner_id)
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        .limit(_limit(limit))
    )
    return list(s.scalars(query))


def rename_conversation(s: Session, owner_id: int, conversation_id: str, title: str) -> bool:
    """Set the title (trimmed to :data:`TITLE_MAX_CHARS`). ``False`` if the conversation is not found."""
    if not is_conversation_id(conversation_id):
        return False
    result = s.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.owner_id == owner_id)
        .values(title=_title(title))
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def set_conversation_model(s: Session, owner_id: int, conversation_id: str, provider: str, model: str) -> None:
    """Switch the backend and model used for the next turns. Raises LookupError if not found."""
    conversation = _owned_conversation(s, owner_id, conversation_id)
    conversation.provider = provider
    conversation.model = model
    s.flush()


def set_system_prompt(s: Session, owner_id: int, conversation_id: str, system_prompt: str) -> bool:
    """Set the conversation's system prompt (for its next turns). ``False`` if the conversation is not found."""
    if not is_conversation_id(conversation_id):
        return False
    result = s.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.owner_id == owner_id)
        .values(system_prompt=system_prompt.strip())
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def delete_conversation(s: Session, owner_id: int, conversation_id: str) -> bool:
    """Delete a conversation with its messages and backend state. ``False`` if it is not found."""
    if not is_conversation_id(conversation_id):
        return False
    result = s.execute(
        delete(Conversation).where(Conversation.id == conversation_id, Conversation.owner_id == owner_id)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def is_conversation_id(value: object) -> TypeGuard[str]:
    """Whether ``value`` has the shape of a conversation id (32 lowercase hex characters)."""
    return isinstance(value, str) and _CONVERSATION_ID.fullmatch(value) is not None


# --- messages ---------------------------------------------------------------------------------------


def add_message(
    s: Session,
    owner_id: int,
    conversation_id: str,
    *,
    role: str,
    content: str,
    provider: str | None = None,
    model: str | None = None,
    status: str = "complete",
    attachments: Iterable[Mapping[str, Any]] = (),
    error: str | None = None,
) -> Message:
    """Append a message and mark the conversation as active.

    Raises LookupError if the conversation is not the owner's, ValueError for an unknown role or status.
    ``attachments`` are dicts as made by :func:`encode_attachment`.
    """
    _check(role, ROLES, "role")
    _check(status, STATUSES, "status")
    conversation = _owned_conversation(s, owner_id, conversation_id)
    message = _new_message(conversation.id, role, content, provider, model, status, attachments, error)
    s.add(message)
    conversation.updated_at = message.created_at
    s.flush()
    return message


def add_turn(
    s: Session, owner_id: int, conversation_id: str, *, prompt: str, provider: str, model: str,
    attachments: Iterable[Mapping[str, Any]] = (),
) -> tuple[Message, Message]:
    """The user's ``prompt`` and the empty "streaming" reply that will answer it, appended in one flush (one
    ownership check, one update of the conversation): what every send writes. Raises LookupError as
    :func:`add_message` does."""
    conversation = _owned_conversation(s, owner_id, conversation_id)
    prompt_row = _new_message(conversation.id, "user", prompt, provider, model, "complete", attachments, None)
    reply = _new_message(conversation.id, "assistant", "", provider, model, "streaming", (), None)
    s.add_all([prompt_row, reply])  # inserted in this order: the reply's id follows the prompt's
    conversation.updated_at = reply.created_at
    s.flush()
    return prompt_row, reply


def _new_message(conversation_id: str, role: str, content: str, provider: str | None, model: str | None,
                 status: str, attachments: Iterable[Mapping[str, Any]], error: str | None) -> Message:
    now = utcnow()
    return Message(
        conversation_id=conversation_id, role=role, content=content, chars=len(content), provider=provider,
        model=model, status=status, attachments=json_copy([dict(a) for a in attachments]), error=error,
        created_at=now, updated_at=now,
    )


def update_message(
    s: Session,
    message_id: int,
    *,
    content: str | None = None,
    reasoning: str | None = None,
    status: str | None = None,
    finish_reason: str | None = None,
    error: str | None = None,
    ttft_ms: int | None = None,
    total_ms: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> bool:
    """Overwrite the given fields of a message (``None`` leaves a field unchanged); used by the runner.

    ``content`` and ``reasoning`` are the whole text so far, not a delta; ``extra`` replaces the whole
    dict. Keeps ``chars`` in step with ``content`` and marks the conversation as active. Not scoped by
    owner: the runner only holds ids of messages it created. Returns ``False`` if the message no longer
    exists (its conversation was deleted mid-reply), so the caller can stop writing.
    """
    if status is not None:
        _check(status, STATUSES, "status")
    message = s.get(Message, message_id)
    if message is None:
        return False
    if content is not None:
        message.content = content
        message.chars = len(content)
    if reasoning is not None:
        message.reasoning = reasoning
    if status is not None:
        message.status = status
    if finish_reason is not None:
        message.finish_reason = finish_reason
    if error is not None:
        message.error = error
    elif status == "complete":  # a complete reply has no error, even if a sweep had marked it interrupted
        message.error = None
    if ttft_ms is not None:
        message.ttft_ms = ttft_ms
    if total_ms is not None:
        message.total_ms = total_ms
    if extra is not None:
        message.extra = json_copy(dict(extra))
    now = utcnow()
    message.updated_at = now
    s.execute(update(Conversation).where(Conversation.id == message.conversation_id).values(updated_at=now))
    s.flush()
    return True


def recent_messages(
    s: Session, owner_id: int, conversation_id: str, *, limit: int = 50, before_id: int | None = None
) -> list[Message]:
    """The last ``limit`` messages of a conversation, oldest first; ``[]`` if it is not the owner's.

    For the page before, pass the id of the oldest message shown as ``before_id``.
    """
    if not is_conversation_id(conversation_id):
        return []
    query = _owned_messages(owner_id).where(Message.conversation_id == conversation_id)
    if before_id is not None:
        query = query.where(Message.id < before_id)
    newest_first = list(s.scalars(query.order_by(Message.id.desc()).limit(_limit(limit))))
    return newest_first[::-1]


# The columns a page draws of a message (all but the conversation id, size and times), newest first; in the
# order of services.conversation_view.MessageView's fields, which unpacks them by position (shown_view).
_SHOWN = (Message.id, Message.role, Message.content, Message.reasoning, Message.status, Message.provider,
          Message.model, Message.finish_reason, Message.error, Message.ttft_ms, Message.total_ms,
          Message.attachments, Message.extra)
_LATEST = (select(*_SHOWN).join(Message.conversation)
           .where(Conversation.owner_id == bindparam("owner"), Message.conversation_id == bindparam("conversation"))
           .order_by(Message.id.desc()).limit(bindparam("limit")))
_LATEST_BEFORE = _LATEST.where(Message.id < bindparam("before"))


def shown_messages(
    r: Reader, owner_id: int, conversation_id: str, *, limit: int = 50, before_id: int | None = None
) -> list[AnyRow]:
    """:func:`recent_messages` as rows of the columns a page draws (see ``services.conversation_view``)."""
    if not is_conversation_id(conversation_id):
        return []
    values: dict[str, Any] = {"owner": owner_id, "conversation": conversation_id, "limit": _limit(limit)}
    if before_id is not None:
        values["before"] = before_id
    rows = list(r.execute(_LATEST if before_id is None else _LATEST_BEFORE, values).all())
    return rows[::-1]


def messages_from(
    s: Session, owner_id: int, conversation_id: str, first_id: int, *, limit: int = 50
) -> list[Message]:
    """Up to ``limit`` messages of a conversation from id ``first_id`` on, oldest first (the owner's only)."""
    if not is_conversation_id(conversation_id):
        return []
    query = _owned_messages(owner_id).where(Message.conversation_id == conversation_id, Message.id >= first_id)
    return list(s.scalars(query.order_by(Message.id).limit(_limit(limit))))


def encode_attachment(name: str, mime: str, data: bytes) -> dict[str, Any]:
    """An attachment as stored in ``Message.attachments``: ``{name, mime, size, data_b64}``."""
    return {"name": name, "mime": mime, "size": len(data), "data_b64": base64.b64encode(data).decode("ascii")}


def decode_attachment(attachment: Mapping[str, Any]) -> bytes:
    """The bytes of an attachment made by :func:`encode_attachment`."""
    return base64.b64decode(attachment["data_b64"])


# --- helpers ----------------------------------------------------------------------------------------


def _owned_conversation(s: Session, owner_id: int, conversation_id: str) -> Conversation:
    conversation = get_conversation(s, owner_id, conversation_id)
    if conversation is None:
        raise LookupError(f"conversation {conversation_id!r} not found")
    return conversation


def _owned_messages(owner_id: int) -> Any:
    """``SELECT messages`` limited to the owner's conversations."""
    return select(Message).join(Message.conversation).where(Conversation.owner_id == owner_id)


def dialect_insert(s: Session, model: type[Any]) -> Any:
    """An INSERT with the ``ON CONFLICT`` clauses of the session's database."""
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise RuntimeError(f"Chatdeck supports SQLite and PostgreSQL, not {dialect}")


def _limit(limit: int) -> int:
    return max(0, min(int(limit), MAX_LIMIT))


def _title(title: str) -> str:
    return title.strip()[:TITLE_MAX_CHARS]


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"unknown message {what} {value!r}; expected one of {', '.join(allowed)}")


def json_copy(value: Any) -> Any:
    """A deep copy through JSON: detaches the value from the caller and fails early if it is not JSON."""
    return json.loads(json.dumps(value, ensure_ascii=False))
