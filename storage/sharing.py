"""Sharing conversations and comparisons read-only, revoking, and "continue as my copy" (issue 17).

Plain functions taking a Session and the acting user's id, like :mod:`storage.repository`:

- the **owner** side (``share``, ``revoke``, ``revoke_item``, ``shared_by_me``) is scoped by owner: another
  user's item or share id is not found, changes nothing and reveals nothing;
- the **viewer** side (``open_share``, ``shared_with_me``, ``shared_messages``, ``shared_rounds``, ``fork``)
  answers only for a share that names the viewer or everyone. A revoked share is deleted, so it is exactly as
  "not found" as an id that never existed. A share never widens anything else: the conversation id inside it
  stays the owner's for the URL ``?c=``, export, REST and import.

What a viewer receives is copied into :class:`SharedMessage` values without the backend's continuation ids
(``backend_state``, ``state_before``: e.g. the Ai2 anonymous id), and no login ever travels with a share. A
fork copies the visible messages into a new conversation of the viewer with no backend state, so its next
turn sends the history the way each backend takes a first turn (runner: an empty state).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session, aliased

from storage import backend_states, comparisons
from storage import repository as repo
from storage.models import BackendState, Comparison, ComparisonColumn, Conversation, Message, User, utcnow
from storage.team_models import Share

PRIVATE_EXTRA = frozenset({"backend_state", "state_before"})  # the backend's ids: never shown, never copied
SUPERSEDED = "superseded"  # runner.versions: a version the owner did not keep (not shown, not copied)
VERSION_KEYS = frozenset({"version_of", "prompt_id"})  # runner.versions: ids of the owner's messages
SHARED_MESSAGES = 200  # messages a read-only view and a fork hold at most (the latest ones)


class ShareProblem(ValueError):
    """Why something cannot be shared (shown to the user as is)."""


@dataclass(frozen=True)
class ShareView:
    """A share as its owner's list or a viewer's list shows it (no ids but the share's and the item's)."""

    id: str
    kind: str  # conversation | comparison
    item_id: str
    title: str
    owner_name: str
    audience: str  # user | team
    viewer_name: str  # "" for the team
    created_at: datetime


@dataclass(frozen=True)
class SharedMessage:
    """A message as a viewer may see it: what the owner sees, minus the backend's continuation ids."""

    id: int
    role: str
    content: str
    reasoning: str
    attachments: list[dict[str, Any]]
    provider: str | None
    model: str | None
    status: str
    finish_reason: str | None
    error: str | None
    ttft_ms: int | None
    total_ms: int | None
    created_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)


# --- the owner's side -------------------------------------------------------------------------------


def find_user(s: Session, address: str) -> User | None:
    """The user signed in with this address (only people who signed in at least once can be named)."""
    wanted = address.strip().lower()
    if not wanted:
        return None
    return s.scalar(select(User).where(or_(User.external_id == wanted, User.email == wanted)).limit(1))


def share(s: Session, owner_id: int, kind: str, item_id: str, *, viewer_id: int | None) -> Share:
    """Share the owner's conversation or comparison with ``viewer_id``, or with everyone when ``None``.

    Sharing again with the same audience returns the existing share (same link). Raises LookupError when
    the item is not the owner's, :class:`ShareProblem` for a share with oneself or an unknown user.
    """
    if _owned_item(s, owner_id, kind, item_id) is None:
        raise LookupError(f"{kind} {item_id!r} not found")
    if viewer_id == owner_id:
        raise ShareProblem("That is you: your own conversations are always yours to see.")
    if viewer_id is not None and s.get(User, viewer_id) is None:
        raise ShareProblem("Nobody with that address has signed in to this Chatdeck yet.")
    target = Share.conversation_id if kind == "conversation" else Share.comparison_id
    audience = "team" if viewer_id is None else "user"
    viewer = Share.viewer_id.is_(None) if viewer_id is None else Share.viewer_id == viewer_id
    existing = s.scalar(select(Share).where(Share.owner_id == owner_id, target == item_id, viewer))
    if existing is not None:
        return existing
    row = Share(owner_id=owner_id, kind=kind, audience=audience, viewer_id=viewer_id, created_at=utcnow(),
                conversation_id=item_id if kind == "conversation" else None,
                comparison_id=item_id if kind == "comparison" else None)
    s.add(row)
    s.flush()
    return row


def revoke(s: Session, owner_id: int, share_id: str) -> bool:
    """End one of the owner's shares at once. ``False`` if it is not found (or not the owner's)."""
    if not repo.is_conversation_id(share_id):
        return False
    result = s.execute(delete(Share).where(Share.id == share_id, Share.owner_id == owner_id))
    return result.rowcount == 1  # type: ignore[attr-defined]


def revoke_item(s: Session, owner_id: int, kind: str, item_id: str) -> int:
    """Share an item with nobody: end every share of it. Returns how many ended (0 if not the owner's)."""
    if kind not in ("conversation", "comparison") or not repo.is_conversation_id(item_id):
        return 0
    target = Share.conversation_id if kind == "conversation" else Share.comparison_id
    result = s.execute(delete(Share).where(Share.owner_id == owner_id, target == item_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


def shared_by_me(s: Session, owner_id: int, *, limit: int = 100) -> list[ShareView]:
    """Everything the owner shares, and with whom, newest first."""
    return _views(s, Share.owner_id == owner_id, limit)


def shares_of(s: Session, owner_id: int, kind: str, item_id: str) -> list[ShareView]:
    """The owner's shares of one item (the share dialog's list)."""
    target = Share.conversation_id if kind == "conversation" else Share.comparison_id
    return _views(s, (Share.owner_id == owner_id) & (target == item_id), repo.MAX_LIMIT)


# --- the viewer's side ------------------------------------------------------------------------------


def shared_with_me(s: Session, viewer_id: int, *, limit: int = 100) -> list[ShareView]:
    """What others share with this user by name or with everyone, newest first."""
    visible = or_(Share.viewer_id == viewer_id, Share.audience == "team") & (Share.owner_id != viewer_id)
    return _views(s, visible, limit)


def open_share(s: Session, viewer_id: int, share_id: str) -> ShareView | None:
    """The share if this user may open it (it names them, everyone, or they own it); else ``None``."""
    if not repo.is_conversation_id(share_id):
        return None
    allowed = or_(Share.viewer_id == viewer_id, Share.audience == "team", Share.owner_id == viewer_id)
    found = _views(s, (Share.id == share_id) & allowed, 1)
    return found[0] if found else None


def shared_messages(s: Session, viewer_id: int, share_id: str, *, limit: int = SHARED_MESSAGES) -> list[SharedMessage]:
    """The visible messages of a shared conversation, oldest first; ``[]`` if the share is not open to them."""
    view = open_share(s, viewer_id, share_id)
    if view is None or view.kind != "conversation":
        return []
    return _visible_messages(s, view.item_id, limit)


def shared_system_prompt(s: Session, viewer_id: int, share_id: str) -> str:
    """The system prompt of a shared conversation ("" if none, or if the share is not open to them)."""
    view = open_share(s, viewer_id, share_id)
    if view is None or view.kind != "conversation":
        return ""
    conversation = s.get(Conversation, view.item_id)
    return conversation.system_prompt if conversation is not None else ""


@dataclass(frozen=True)
class SharedRound:
    number: int
    prompt: str
    answers: dict[int, SharedMessage]  # column id -> reply
    verdict: str | None
    winner: int | None  # the column voted best


@dataclass(frozen=True)
class SharedComparison:
    title: str
    blind: bool
    columns: list[tuple[int, str, str]]  # (column id, provider, model), in order
    rounds: list[SharedRound]


def shared_comparison(s: Session, viewer_id: int, share_id: str) -> SharedComparison | None:
    """A shared comparison with its answers, timings and votes; ``None`` if the share is not open to them."""
    view = open_share(s, viewer_id, share_id)
    if view is None or view.kind != "comparison":
        return None
    comparison = s.get(Comparison, view.item_id)
    if comparison is None:
        return None
    rounds = [
        SharedRound(r.number, r.prompt, {c: _copy(m) for c, m in r.answers.items()},
                    r.vote.verdict if r.vote else None, r.vote.column_id if r.vote else None)
        for r in comparisons.rounds(s, comparison.owner_id, comparison.id, limit=50)
    ]
    columns = [(c.id, c.provider, c.model) for c in comparison.columns]
    return SharedComparison(comparison.title, comparison.blind, columns, rounds)


def fork(
    s: Session, viewer_id: int, share_id: str, *, column_id: int | None = None,
    travelling: Collection[str] = frozenset(),
) -> Conversation:
    """"Continue as my copy": the shared conversation (or a shared comparison's column) copied into a new
    conversation of the viewer, with its system prompt and visible messages. Backend state is copied only for
    the backends named in ``travelling`` (``BackendInfo.state_travels``: state that names no login or
    anonymous id); every other backend starts a new chat of the viewer's with the history.

    Raises LookupError when the share is not open to the viewer or the column is not part of it.
    """
    view = open_share(s, viewer_id, share_id)
    if view is None:
        raise LookupError(f"share {share_id!r} not found")
    source_id = view.item_id
    if view.kind == "comparison":
        column_source = s.scalar(select(ComparisonColumn.conversation_id).where(
            ComparisonColumn.comparison_id == view.item_id, ComparisonColumn.id == column_id))
        if column_source is None:
            raise LookupError(f"column {column_id!r} not found")
        source_id = column_source
    source = s.get(Conversation, source_id)
    if source is None:
        raise LookupError(f"share {share_id!r} not found")
    copy = repo.create_conversation(s, viewer_id, provider=source.provider, model=source.model,
                                    title=f"{source.title or 'Untitled'} (copy)")
    copy.system_prompt = source.system_prompt
    now = utcnow()
    s.add_all(
        Message(conversation_id=copy.id, role=m.role, content=m.content, reasoning=m.reasoning,
                attachments=list(m.attachments), provider=m.provider, model=m.model, status=m.status,
                finish_reason=m.finish_reason, error=m.error, ttft_ms=m.ttft_ms, total_ms=m.total_ms,
                chars=len(m.content), extra={k: v for k, v in m.extra.items() if k not in VERSION_KEYS}, created_at=now,
                updated_at=now)
        for m in _visible_messages(s, source_id, SHARED_MESSAGES)
    )
    if travelling:
        for row in s.scalars(select(BackendState).where(BackendState.conversation_id == source_id,
                                                        BackendState.provider.in_(list(travelling))).limit(100)):
            backend_states.save_backend_state(s, copy.id, row.provider, row.model, row.state)
    s.flush()
    return copy


# --- helpers ----------------------------------------------------------------------------------------


def _owned_item(s: Session, owner_id: int, kind: str, item_id: str) -> object | None:
    if kind == "conversation":
        return repo.get_conversation(s, owner_id, item_id)
    if kind == "comparison":
        return comparisons.get(s, owner_id, item_id)
    return None


def _views(s: Session, where: Any, limit: int) -> list[ShareView]:
    owner, viewer = aliased(User), aliased(User)
    query = (
        select(Share, owner, viewer, Conversation.title, Comparison.title)
        .join(owner, owner.id == Share.owner_id)
        .outerjoin(viewer, viewer.id == Share.viewer_id)
        .outerjoin(Conversation, Conversation.id == Share.conversation_id)
        .outerjoin(Comparison, Comparison.id == Share.comparison_id)
        .where(where)
        .order_by(Share.created_at.desc(), Share.id)
        .limit(max(0, min(limit, repo.MAX_LIMIT)))
    )
    return [
        ShareView(row.id, row.kind, row.conversation_id or row.comparison_id or "",
                  (chat_title if row.kind == "conversation" else cmp_title) or "Untitled", _name(by),
                  row.audience, _name(to) if to is not None else "", row.created_at)
        for row, by, to, chat_title, cmp_title in s.execute(query)
    ]


def _name(user: User) -> str:
    return user.display_name or user.email or user.external_id


def _visible_messages(s: Session, conversation_id: str, limit: int) -> list[SharedMessage]:
    """The latest ``limit`` messages on screen (no versions the owner did not keep, no reply still
    being written), oldest first."""
    rows = s.scalars(
        select(Message).where(Message.conversation_id == conversation_id, Message.status != "streaming")
        .order_by(Message.id.desc()).limit(max(0, min(limit, repo.MAX_LIMIT)))
    )
    return [_copy(m) for m in reversed(list(rows)) if not (m.extra or {}).get(SUPERSEDED)]


def _copy(m: Message) -> SharedMessage:
    extra = {k: v for k, v in (m.extra or {}).items() if k not in PRIVATE_EXTRA}
    return SharedMessage(m.id, m.role, m.content, m.reasoning, repo.json_copy(m.attachments or []), m.provider,
                         m.model, m.status, m.finish_reason, m.error, m.ttft_ms, m.total_ms, m.created_at,
                         repo.json_copy(extra))
