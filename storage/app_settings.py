"""Server-wide settings an admin changed on the Admin page: the ``app_settings`` table.

Plain functions taking a Session, like :mod:`storage.repository`. A setting is a key (up to 64
characters) and a JSON value; :mod:`access.policy` gives the keys their meaning and caches them.
There are a handful of keys, so every read loads them all in one small query.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.models import AppSetting, utcnow
from storage.repository import dialect_insert

MAX_KEYS = 1000  # a few per backend; far more than any install has
KEY_MAX_CHARS = 64


def load_all(s: Session) -> dict[str, Any]:
    """Every stored setting, ``{key: value}`` (one bounded query)."""
    rows = s.execute(select(AppSetting.key, AppSetting.value).order_by(AppSetting.key).limit(MAX_KEYS))
    return {key: value for key, value in rows}


def put(s: Session, key: str, value: Any) -> None:
    """Insert or replace one setting (``value`` must be JSON: it is copied through JSON on the way in)."""
    if not key or len(key) > KEY_MAX_CHARS:
        raise ValueError(f"a setting key has 1 to {KEY_MAX_CHARS} characters, not {len(key)}")
    value = json.loads(json.dumps(value))
    insert = dialect_insert(s, AppSetting).values(key=key, value=value, updated_at=utcnow())
    s.execute(insert.on_conflict_do_update(
        index_elements=["key"], set_={"value": insert.excluded.value, "updated_at": insert.excluded.updated_at}
    ))


def remove(s: Session, key: str) -> bool:
    """Forget one setting (its default applies again). ``False`` if it was not set."""
    result = s.execute(delete(AppSetting).where(AppSetting.key == key))
    return result.rowcount == 1  # type: ignore[attr-defined]
