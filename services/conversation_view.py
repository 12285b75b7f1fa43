"""What the chat page draws: a conversation and a window of its messages, as frozen values.

Every query here is bounded and indexed (pages of messages by id), so a rerun costs the same for a
conversation of ten messages or of ten thousand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runner import turns
from runner.run import Run
from runner.versions import Turn, last_turn
from storage import repository as repo
from storage.db import get_engine, reading, session


@dataclass(frozen=True)
class ConversationView:
    id: str
    title: str
    provider: str
    model: str
    system_prompt: str


@dataclass(frozen=True)
class MessageView:
    """One stored message with the fields the pages draw (views/components.py) and version logic reads."""

    id: int
    role: str
    content: str
    reasoning: str = ""
    status: str = "complete"
    provider: str | None = None
    model: str | None = None
    finish_reason: str | None = None
    error: str | None = None
    ttft_ms: int | None = None
    total_ms: int | None = None
    attachments: tuple[Mapping[str, Any], ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)  # sources, images, notices, versions (runner/versions.py)


@dataclass(frozen=True)
class Window:
    """The latest messages shown, whether earlier ones exist, and the last turn (for its versions)."""

    messages: list[MessageView]
    more: bool
    turn: Turn | None


def message_view(row: Any) -> MessageView:
    """A stored message row as a view value."""
    return MessageView(
        id=row.id, role=row.role, content=row.content or "", reasoning=row.reasoning or "", status=row.status,
        provider=row.provider, model=row.model, finish_reason=row.finish_reason, error=row.error,
        ttft_ms=row.ttft_ms, total_ms=row.total_ms, attachments=tuple(row.attachments or ()),
        extra=dict(row.extra or {}),
    )


def shown_view(row: Any) -> MessageView:
    """A row of ``repo.shown_messages`` as a view value: :func:`message_view`, unpacked by position (its columns
    come in MessageView's order), four times as fast as reading a row's fields by name (a page run makes 50)."""
    (id_, role, content, reasoning, status, provider, model, finish_reason, error, ttft_ms, total_ms, attachments,
     extra) = row
    return MessageView(id_, role, content or "", reasoning or "", status, provider, model, finish_reason, error,
                       ttft_ms, total_ms, tuple(attachments or ()), dict(extra or {}))


def ended_message(run: Run) -> MessageView:
    """A run that just finished, as the message it is saved as (for its status and figures lines)."""
    _, fields = run.snapshot()
    return MessageView(
        id=run.message_id, role="assistant", content=fields["content"], reasoning=fields["reasoning"],
        status=fields["status"], provider=run.provider, model=run.model, finish_reason=fields["finish_reason"],
        error=fields["error"], ttft_ms=fields["ttft_ms"], total_ms=fields["total_ms"], extra=fields["extra"],
    )


def conversation(owner: int, conversation_id: str) -> ConversationView | None:
    """The user's conversation ``conversation_id``, or ``None`` if it is not theirs (or does not exist)."""
    with reading() as r:
        row = repo.conversation_header(r, owner, conversation_id)
    if row is None:
        return None
    return ConversationView(row.id, row.title, row.provider, row.model, row.system_prompt)


def window(owner: int, conversation_id: str, pages: int, page: int) -> Window:
    """The latest ``pages`` pages of ``page`` messages each, and the conversation's last turn."""
    with reading() as r:
        rows = repo.shown_messages(r, owner, conversation_id, limit=page + 1)
        more = len(rows) > page
        rows = rows[-page:]
        for _ in range(pages - 1):
            if not more:
                break
            older = repo.shown_messages(r, owner, conversation_id, limit=page + 1, before_id=rows[0].id)
            more = len(older) > page
            rows = older[-page:] + rows
    messages = [shown_view(row) for row in rows]
    turn = last_turn(messages)
    if turn is None and rows and rows[-1].role == "assistant":  # the turn reaches back beyond the window
        with session(get_engine()) as s:
            stored = turns.load_last_turn(s, owner, conversation_id)
            turn = _turn_view(stored) if stored is not None else None
    return Window(messages, more, turn)


def _turn_view(turn: Turn) -> Turn:
    return Turn(tuple(message_view(r) for r in turn.replies),
                {reply: message_view(prompt) for reply, prompt in turn.prompts.items()},
                message_view(turn.current))
