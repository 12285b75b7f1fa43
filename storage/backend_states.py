"""The state each backend saved after its last turn in a conversation with a model (its own ids: a parent message,
an anonymous user, a protocol), so a follow-up sends only the new message. Plain functions taking a Session, as
in storage/repository.py; a conversation's states go with it when it is deleted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import BackendState, utcnow
from storage.repository import dialect_insert, json_copy


def get_backend_state(s: Session, conversation_id: str, provider: str, model: str) -> dict[str, Any]:
    """The state the backend saved after its last turn in this conversation with this model, or ``{}``."""
    state = s.scalar(
        select(BackendState.state).where(
            BackendState.conversation_id == conversation_id,
            BackendState.provider == provider,
            BackendState.model == model,
        )
    )
    return dict(state) if state else {}


def save_backend_state(s: Session, conversation_id: str, provider: str, model: str, state: Mapping[str, Any]) -> None:
    """Insert or replace the state for (conversation, provider, model)."""
    values = {
        "conversation_id": conversation_id,
        "provider": provider,
        "model": model,
        "state": json_copy(dict(state)),
        "updated_at": utcnow(),
    }
    insert = dialect_insert(s, BackendState).values(**values)
    s.execute(
        insert.on_conflict_do_update(
            index_elements=["conversation_id", "provider", "model"],
            set_={"state": insert.excluded.state, "updated_at": insert.excluded.updated_at},
        )
    )
