"""Presets: a name, backend, model, sampling options and system prompt, to start a chat or fill a compare
column in one click (issue 17).

A personal preset is its owner's alone (every read and write is scoped by owner: another user's id is not
found). A team preset is seen by everyone signed in; only admins create, change or delete team presets
(``is_admin`` is the caller's, as the sign-in gate found it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from storage import repository as repo
from storage.models import utcnow
from storage.repository import AnyRow, Reader
from storage.team_models import Preset

NAME_MAX_CHARS = 100
OPTION_KEYS = ("temperature", "top_p")


class PresetProblem(ValueError):
    """Why a preset cannot be saved or changed (shown to the user as is)."""


# The columns a preset is listed and started with; built once (the same statement on every page run).
_VISIBLE = (select(Preset.id, Preset.owner_id, Preset.team, Preset.name, Preset.provider, Preset.model, Preset.options,
                   Preset.system_prompt)
            .where(or_(Preset.owner_id == bindparam("user"), Preset.team.is_(True)))
            .order_by(Preset.team, Preset.name, Preset.id).limit(bindparam("limit")))


def visible(r: Reader, user_id: int, *, limit: int = 200) -> list[AnyRow]:
    """The user's own presets, then the team's, each by name: rows of id, owner_id, team, name, provider,
    model, options and system_prompt."""
    return list(r.execute(_VISIBLE, {"user": user_id, "limit": max(0, min(limit, repo.MAX_LIMIT))}).all())


def get(s: Session, user_id: int, preset_id: int) -> Preset | None:
    """A preset the user may use: their own, or the team's."""
    if not isinstance(preset_id, int) or isinstance(preset_id, bool):
        return None
    return s.scalar(select(Preset).where(Preset.id == preset_id, or_(Preset.owner_id == user_id,
                                                                     Preset.team.is_(True))))


def create(
    s: Session, user_id: int, *, name: str, provider: str, model: str, options: Mapping[str, Any] | None = None,
    system_prompt: str = "", team: bool = False, is_admin: bool = False,
) -> Preset:
    """A new preset; a team preset only by an admin."""
    if team and not is_admin:
        raise PresetProblem("Only admins can add team presets.")
    preset = Preset(owner_id=user_id, team=team, name=_name(name), provider=provider, model=model,
                    options=_options(options), system_prompt=system_prompt.strip(), created_at=utcnow(),
                    updated_at=utcnow())
    s.add(preset)
    s.flush()
    return preset


def update(
    s: Session, user_id: int, preset_id: int, *, is_admin: bool = False, name: str | None = None,
    provider: str | None = None, model: str | None = None, options: Mapping[str, Any] | None = None,
    system_prompt: str | None = None,
) -> bool:
    """Change a preset the user may edit (their own; a team preset if they are an admin). ``False`` if none."""
    preset = _editable(s, user_id, preset_id, is_admin)
    if preset is None:
        return False
    if name is not None:
        preset.name = _name(name)
    if provider is not None:
        preset.provider = provider
    if model is not None:
        preset.model = model
    if options is not None:
        preset.options = _options(options)
    if system_prompt is not None:
        preset.system_prompt = system_prompt.strip()
    preset.updated_at = utcnow()
    s.flush()
    return True


def delete(s: Session, user_id: int, preset_id: int, *, is_admin: bool = False) -> bool:
    """Delete a preset the user may edit. ``False`` if there is none."""
    preset = _editable(s, user_id, preset_id, is_admin)
    if preset is None:
        return False
    s.delete(preset)
    s.flush()
    return True


def _editable(s: Session, user_id: int, preset_id: int, is_admin: bool) -> Preset | None:
    preset = get(s, user_id, preset_id)
    if preset is None or (preset.team and not is_admin) or (not preset.team and preset.owner_id != user_id):
        return None
    return preset


def _name(name: str) -> str:
    cleaned = " ".join(name.split())[:NAME_MAX_CHARS]
    if not cleaned:
        raise PresetProblem("A preset needs a name.")
    return cleaned


def _options(options: Mapping[str, Any] | None) -> dict[str, float]:
    """Only the sampling options a preset keeps, as numbers."""
    return {k: float(v) for k, v in (options or {}).items() if k in OPTION_KEYS and isinstance(v, int | float)}
