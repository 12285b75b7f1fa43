"""The storage side of regenerate, edit and resend, and choosing which version of the last answer to keep.

The use case (admission, then :func:`new_version`, then the run) is :func:`services.sending.regenerate`.

How versions are stored is described in runner/versions.py. What matters for the backends is their
continuation state (``backend_states``, one row per conversation and model), which must always
describe the version on screen:

- a new version is sent with the state its turn was first sent with (``state_before`` of the answer,
  adjusted by :func:`runner.versions.branch_state` for backends that cannot branch), and that state is
  saved at once, so a new version that fails before the backend gives its ids leaves the conversation
  continuing from before the turn, never from the version the user just replaced;
- when the new version finishes, the runner saves the state the backend gave (as for any reply);
- choosing a version restores that version's ``backend_state``.

A regenerate re-sends the existing last user message: no new user message is stored.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from imaging import intake
from providers import registry
from providers.events import Attachment, ChatMessage, ChatRequest, Options
from runner.runner import HISTORY_LIMIT, Prepared, Run, credentials_for, system_prompt_of
from runner.versions import (
    MAX_VERSIONS,
    PROMPT_ID,
    SUPERSEDED,
    VERSION_OF,
    Turn,
    branch_state,
    context_messages,
    extra,
    last_turn,
)
from storage import backend_states
from storage import repository as repo
from storage.db import session

TAIL = 2 * MAX_VERSIONS + 2  # rows that always hold a whole last turn, with its first prompt


class TurnError(Exception):
    """Why the last turn cannot be regenerated, edited or switched (shown to the user as is)."""


def load_last_turn(s: Session, owner_id: int, conversation_id: str) -> Turn | None:
    """The conversation's last turn with all its versions (two bounded, indexed queries at most)."""
    rows = repo.recent_messages(s, owner_id, conversation_id, limit=TAIL)
    turn = last_turn(rows)
    if turn is None and rows:
        current = next((m for m in reversed(rows) if not extra(m).get(SUPERSEDED)), None)
        if current is not None and current.role == "assistant":
            root = int(extra(current).get(VERSION_OF, current.id))
            before = repo.recent_messages(s, owner_id, conversation_id, limit=1, before_id=root)
            turn = last_turn(before + repo.messages_from(s, owner_id, conversation_id, root, limit=TAIL))
    return turn


def new_version(
    s: Session, *, owner_id: int, conversation_id: str, provider: str, model: str,
    options: Options | None = None, prompt: str | None = None,
) -> Prepared:
    """Save a new version of the last answer in ``s`` (with ``prompt``, of the last exchange with that
    prompt instead) as a "streaming" reply, and the request that answers it.

    No admission here: :func:`services.sending.regenerate` admits first, in the same session, and launches
    the result once ``s`` is committed.
    """
    model = registry.backend(provider).resolve_model(model)
    turn = _changeable_turn(s, owner_id, conversation_id)
    if len(turn.replies) >= MAX_VERSIONS:
        raise TurnError(f"This answer already has {MAX_VERSIONS} versions.")
    current = turn.current
    user = turn.prompt_of(current)
    for reply in turn.replies:
        _mark(s, reply, superseded=True)
    if prompt is not None:
        for old_prompt in set(turn.prompts.values()):
            _mark(s, old_prompt, superseded=True)
        user = repo.add_message(
            s, owner_id, conversation_id, role="user", content=prompt, provider=provider, model=model,
            attachments=user.attachments or [],
        )
        repo.update_message(s, user.id, extra={VERSION_OF: turn.root})
    history = repo.recent_messages(s, owner_id, conversation_id, limit=HISTORY_LIMIT, before_id=user.id)
    state = _state_for_new_version(s, current, conversation_id, provider, model)
    backend_states.save_backend_state(s, conversation_id, provider, model, state)
    reply = repo.add_message(
        s, owner_id, conversation_id, role="assistant", content="", provider=provider, model=model,
        status="streaming",
    )
    base_extra = {VERSION_OF: turn.root, PROMPT_ID: user.id, "state_before": state}
    repo.update_message(s, reply.id, extra=base_extra)
    login = credentials_for(s, owner_id, provider)
    system = system_prompt_of(s, owner_id, conversation_id)
    attachments = _resent(user.attachments or [])
    messages = [*context_messages(history), ChatMessage("user", user.content, attachments)]
    request = ChatRequest(model=model, messages=tuple(messages), options=options or Options(), state=state,
                          system=system)
    run = Run(reply.id, conversation_id, owner_id, provider, model)
    run.base_extra = dict(base_extra)
    return Prepared(run, request, login)


def select_version(engine: Engine, owner_id: int, conversation_id: str, reply_id: int) -> None:
    """Show the version ``reply_id`` of the last answer (and its prompt) and continue from it."""
    with session(engine) as s:
        turn = _changeable_turn(s, owner_id, conversation_id)
        chosen = next((r for r in turn.replies if r.id == reply_id), None)
        if chosen is None:
            raise TurnError("That version is no longer the last answer.")
        prompt = turn.prompt_of(chosen)
        for reply in turn.replies:
            _mark(s, reply, superseded=reply.id != chosen.id)
        for user in set(turn.prompts.values()):
            _mark(s, user, superseded=user.id != prompt.id)
        state = extra(chosen).get("backend_state")
        if state is None and "state_before" in extra(chosen):  # the backend never gave its ids for it
            state = branch_state(chosen.provider or "", extra(chosen)["state_before"])
        if state is not None and chosen.provider and chosen.model:
            backend_states.save_backend_state(s, conversation_id, chosen.provider, chosen.model, state)


def _changeable_turn(s: Session, owner_id: int, conversation_id: str) -> Turn:
    turn = load_last_turn(s, owner_id, conversation_id)
    if turn is None:
        raise TurnError("There is no answer to change yet.")
    if turn.streaming:
        raise TurnError("An answer is still being written: stop it first.")
    return turn


def _state_for_new_version(
    s: Session, current: Any, conversation_id: str, provider: str, model: str
) -> dict[str, Any]:
    """The state the turn was first sent with, when the same backend and model answer it again.

    With another backend or model: that model's saved state, as for any message sent to it. An answer
    stored before versions existed has no ``state_before``: a new backend chat with the history.
    """
    if (current.provider, current.model) != (provider, model):
        return backend_states.get_backend_state(s, conversation_id, provider, model)
    before = extra(current).get("state_before")
    return branch_state(provider, before) if isinstance(before, Mapping) else {}


def _mark(s: Session, message: Any, *, superseded: bool) -> None:
    values = dict(extra(message))
    if superseded:
        values[SUPERSEDED] = True
    else:
        values.pop(SUPERSEDED, None)
    if values != extra(message):
        repo.update_message(s, message.id, extra=values)


def _resent(stored: list[Mapping[str, Any]]) -> tuple[Attachment, ...]:
    """A prompt's stored images, sent again through the image door: rows from before it may hold an
    image byte for byte, GPS and all. Placeholders (no data) and images the door refuses are left out."""
    attachments = []
    for item in stored:
        if not item.get("data_b64"):
            continue
        try:
            clean = intake.admit(repo.decode_attachment(item))
        except (intake.ImageRefused, binascii.Error):
            continue
        attachments.append(Attachment(clean.renamed(str(item.get("name") or "image")), clean.mime, clean.data))
    return tuple(attachments)

