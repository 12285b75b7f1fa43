"""Pieces both REST APIs use (seed 002's endpoint in api/chat.py and the OpenAI-compatible ``/v1``).

Both authenticate with the same tokens (api/tokens.py), send through services/sending.py (which titles new
conversations) and recognise which of a request's earlier messages a conversation already holds the same way.
"""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from access import identity
from api import tokens
from runner.versions import is_superseded
from storage import repository as repo
from storage.db import get_engine, session
from storage.models import User

Exchange = tuple[str, str]  # (role, text) of one message, as both APIs compare histories


def authenticate_sync(authorization: str | None) -> int:
    """The owner id of the bearer token in an ``Authorization`` header; raises InvalidTokenError.

    A token whose user may no longer use this Chatdeck (no longer in CHATDECK_ALLOWED_USERS) is refused too.
    """
    with session(get_engine()) as s:
        owner = tokens.verify(s, tokens.bearer(authorization))
        user = s.get(User, owner)
        if user is None or not identity.admits(user.external_id, identity.streamlit_config()):
            raise tokens.InvalidTokenError("the token's user may no longer use this Chatdeck")
        return owner


async def authenticate(authorization: str | None) -> int:
    return await run_in_threadpool(authenticate_sync, authorization)


def common_prefix(stored: list[Exchange], earlier: list[Exchange]) -> int:
    """How many messages ``stored`` and ``earlier`` share from their start."""
    n = 0
    while n < min(len(stored), len(earlier)) and stored[n] == earlier[n]:
        n += 1
    return n


def tail_overlap(stored: list[Exchange], earlier: list[Exchange]) -> int:
    """The largest k with ``earlier[:k] == stored[-k:]``."""
    for k in range(min(len(stored), len(earlier)), 0, -1):
        if earlier[:k] == stored[-k:]:
            return k
    return 0


def stored_exchanges(s: Session, owner: int, conversation_id: str) -> list[Exchange]:
    """The conversation's visible user and assistant messages (its latest repo.MAX_LIMIT), as (role, text)."""
    return [
        (m.role, m.content) for m in repo.recent_messages(s, owner, conversation_id, limit=repo.MAX_LIMIT)
        if m.role in ("user", "assistant") and not is_superseded(m)  # versions the user did not keep
    ]


def append_new(s: Session, owner: int, conversation_id: str, earlier: list[Exchange], *, provider: str,
               model: str) -> None:
    """Store the messages of ``earlier`` the conversation does not hold yet (compared with its start or its
    latest messages), so a client's history joins the conversation before the new message is sent."""
    stored = stored_exchanges(s, owner, conversation_id)
    known = max(common_prefix(stored, earlier), tail_overlap(stored, earlier))
    for role, content in earlier[known:]:
        repo.add_message(s, owner, conversation_id, role=role, content=content, provider=provider, model=model)
