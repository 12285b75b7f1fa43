"""Versions of the last answer (regenerate; edit and resend), kept in existing columns. Pure helpers.

Storage, without a schema change (everything in ``Message.extra``):

- A regenerated or edited answer has ``version_of`` = the id of the turn's first answer (the group's
  root) and ``prompt_id`` = the id of the user message it answers. An edited user message, a new row,
  has ``version_of`` = the same root.
- Every version not on screen, answer or edited prompt, has ``superseded: true``; the page and the
  history sent to backends leave those out. Exactly one version of a turn is on screen.
- Each answer keeps ``state_before`` (the backend state its request was sent with) and
  ``backend_state`` (the state the backend gave back), so choosing a version restores the backend's
  continuation state of the version the user keeps (runner/turns.py).

Only the last turn offers regenerate, edit and the version switch. Once a new message follows, the
kept version is part of the conversation and the others stay stored (hidden).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from providers import registry
from providers.events import ChatMessage

VERSION_OF = "version_of"
PROMPT_ID = "prompt_id"
SUPERSEDED = "superseded"
MAX_VERSIONS = 20  # versions of one turn (keeps every query about a turn bounded)



def extra(message: Any) -> dict[str, Any]:
    return getattr(message, "extra", None) or {}


def is_superseded(message: Any) -> bool:
    return bool(extra(message).get(SUPERSEDED))


def visible(messages: Sequence[Any]) -> list[Any]:
    """The messages on screen: every message but the versions the user did not keep."""
    return [m for m in messages if not is_superseded(m)]


def context_messages(history: Sequence[Any]) -> list[ChatMessage]:
    """Stored messages as the history sent to a backend: text turns, leaving out superseded versions."""
    return [
        ChatMessage(role=m.role, content=m.content)
        for m in history
        if m.role in ("user", "assistant") and m.content and not is_superseded(m)
    ]


def branch_state(provider: str, before: Mapping[str, Any]) -> dict[str, Any]:
    """The backend state a new version of a turn is sent with, given the state the turn was sent with.

    The backend's description says (``BackendInfo.branch_state``): a backend whose chats are linear on the
    server (``linear_chats``) starts a new chat with the history; one whose state lacks a key it needs to
    branch from the turn's parent (``branch_keys``) starts a new conversation; any other keeps the state, so
    the resent prompt becomes a sibling branch in the backend's own conversation (or, for a stateless backend,
    the history is simply sent again). Custom endpoints (stateless) and backends no longer known keep the state.
    """
    info = registry.BACKENDS.get(provider)  # the built-in descriptions: data, no configuration read
    return info.branch_state(before) if info is not None else dict(before)


@dataclass(frozen=True)
class Turn:
    """The last exchange of a conversation with all its versions."""

    replies: tuple[Any, ...]  # the answers, oldest first
    prompts: Mapping[int, Any]  # answer id -> the user message it answers
    current: Any  # the answer on screen

    @property
    def root(self) -> int:
        return int(self.replies[0].id)

    @property
    def index(self) -> int:
        return self.replies.index(self.current)

    @property
    def streaming(self) -> bool:
        return any(r.status == "streaming" for r in self.replies)

    def prompt_of(self, reply: Any) -> Any:
        return self.prompts[reply.id]


def last_turn(rows: Sequence[Any]) -> Turn | None:
    """The last turn among ``rows`` (a conversation's latest messages, oldest first).

    ``None`` when the last visible message is not an answer, or when ``rows`` do not reach back to the
    turn's first answer and its prompt (the caller then loads from there: runner/turns.py).
    """
    shown = visible(rows)
    if not shown or shown[-1].role != "assistant":
        return None
    current = shown[-1]
    root = extra(current).get(VERSION_OF, current.id)
    by_id = {m.id: m for m in rows}
    root_prompt = next((m for m in reversed(rows) if m.role == "user" and m.id < root), None)
    if root not in by_id or root_prompt is None:
        return None
    replies = tuple(m for m in rows if m.role == "assistant" and (m.id == root or extra(m).get(VERSION_OF) == root))
    prompts = {r.id: by_id.get(extra(r).get(PROMPT_ID), root_prompt) for r in replies}
    return Turn(replies, prompts, current)
