"""What the share dialog, the Shared page and the presets call: one session per action, plain values back.

Isolation is storage's (storage/sharing.py, storage/presets.py): every function here passes the signed-in
user's id, and a share id that is not theirs to open is simply not found.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from providers import registry
from storage import presets as preset_store
from storage import repository as repo
from storage import sharing as store
from storage.db import get_engine, reading, session
from storage.sharing import SharedComparison, SharedMessage, ShareProblem, ShareView
from storage.team_models import Preset

__all__ = ["ShareProblem", "ShareView", "SharedComparison", "SharedMessage"]


def share(owner: int, kind: str, item_id: str, address: str | None) -> ShareView:
    """Share with the person signed in as ``address``, or with everyone when ``address`` is None."""
    with session(get_engine()) as s:
        viewer = None
        if address is not None:
            user = store.find_user(s, address)
            if user is None:
                raise ShareProblem(f"Nobody has signed in to this Chatdeck as {address.strip()!r} yet: they need to "
                                   "sign in once before something can be shared with them.")
            viewer = user.id
        row = store.share(s, owner, kind, item_id, viewer_id=viewer)
        share_id = row.id
    with session(get_engine()) as s:
        view = store.open_share(s, owner, share_id)
    assert view is not None  # the owner may always open her own share
    return view


def revoke(owner: int, share_id: str) -> bool:
    with session(get_engine()) as s:
        return store.revoke(s, owner, share_id)


def revoke_item(owner: int, kind: str, item_id: str) -> int:
    """Share with nobody: every share of the item ends at once."""
    with session(get_engine()) as s:
        return store.revoke_item(s, owner, kind, item_id)


def shares_of(owner: int, kind: str, item_id: str) -> list[ShareView]:
    with session(get_engine()) as s:
        return store.shares_of(s, owner, kind, item_id)


def shared_by_me(owner: int) -> list[ShareView]:
    with session(get_engine()) as s:
        return store.shared_by_me(s, owner)


def shared_with_me(viewer: int) -> list[ShareView]:
    with session(get_engine()) as s:
        return store.shared_with_me(s, viewer)


@dataclass(frozen=True)
class OpenedConversation:
    share: ShareView
    messages: list[SharedMessage]
    system_prompt: str


@dataclass(frozen=True)
class OpenedComparison:
    share: ShareView
    comparison: SharedComparison


def open_shared(viewer: int, share_id: str) -> OpenedConversation | OpenedComparison | None:
    """The shared item, read-only, if this user may open it; ``None`` (not found) otherwise."""
    with session(get_engine()) as s:
        view = store.open_share(s, viewer, share_id)
        if view is None:
            return None
        if view.kind == "comparison":
            comparison = store.shared_comparison(s, viewer, share_id)
            return OpenedComparison(view, comparison) if comparison is not None else None
        return OpenedConversation(view, store.shared_messages(s, viewer, share_id),
                                  store.shared_system_prompt(s, viewer, share_id))


def continue_as_copy(viewer: int, share_id: str, column_id: int | None = None) -> tuple[str, str, str]:
    """Fork the shared conversation (or comparison column) into the viewer's own; returns its id, backend
    and model.

    Backend state goes with it only where ``BackendInfo.state_travels`` (state naming no login or anonymous id:
    the OpenAI-compatible backends, which keep only the model); elsewhere the copy's next message sends the
    history as a first turn. Raises LookupError if the share is not theirs to open.
    """
    travelling = frozenset(name for name, info in registry.all_backends().items() if info.state_travels)
    with session(get_engine()) as s:
        copy = store.fork(s, viewer, share_id, column_id=column_id, travelling=travelling)
        return copy.id, copy.provider, copy.model


# --- presets ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListedPreset:
    """A preset as the presets box lists it and starts a chat with it."""

    id: int
    owner_id: int
    team: bool
    name: str
    provider: str
    model: str
    options: Mapping[str, float | None]
    system_prompt: str


def visible_presets(user: int) -> list[ListedPreset]:
    """The user's presets, then the team's (read on every run of the chat and compare pages)."""
    with reading() as r:
        return [ListedPreset(p.id, p.owner_id, p.team, p.name, p.provider, p.model, dict(p.options or {}),
                             p.system_prompt) for p in preset_store.visible(r, user)]


def save_preset(user: int, *, name: str, provider: str, model: str, options: Mapping[str, float | None],
                system_prompt: str,
                team: bool, is_admin: bool) -> Preset:
    with session(get_engine()) as s:
        return preset_store.create(s, user, name=name, provider=provider, model=model, options=options,
                                   system_prompt=system_prompt, team=team, is_admin=is_admin)


def delete_preset(user: int, preset_id: int, *, is_admin: bool) -> bool:
    with session(get_engine()) as s:
        return preset_store.delete(s, user, preset_id, is_admin=is_admin)


def get_preset(user: int, preset_id: int) -> Preset | None:
    with session(get_engine()) as s:
        return preset_store.get(s, user, preset_id)


def start_chat(user: int, preset_id: int) -> str:
    """A new, empty conversation with the preset's backend, model and system prompt; returns its id.

    Raises LookupError when the preset is not the user's or the team's, KeyError for a backend that is gone.
    """
    with session(get_engine()) as s:
        preset = preset_store.get(s, user, preset_id)
        if preset is None:
            raise LookupError(f"preset {preset_id!r} not found")
        registry.backend(preset.provider)  # KeyError: a custom endpoint an admin removed since
        conversation = repo.create_conversation(s, user, provider=preset.provider, model=preset.model,
                                                title=preset.name, system_prompt=preset.system_prompt)
        return conversation.id


def set_system_prompt(owner: int, conversation_id: str, system_prompt: str) -> bool:
    with session(get_engine()) as s:
        return repo.set_system_prompt(s, owner, conversation_id, system_prompt)
