"""Each user's backend logins: plain functions taking a Session and the owner's id.

Values are sealed with :mod:`storage.secrets` before they reach the database and opened only
when a reply is started or a connection is checked; the UI sees nothing but a masked hint.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from storage.models import Credential, utcnow
from storage.repository import Reader, dialect_insert
from storage.secrets import mask, seal, unseal


def save(s: Session, owner_id: int, backend: str, values: Mapping[str, str]) -> None:
    """Store (or replace) this user's login for ``backend``. Empty values are dropped."""
    cleaned = {k: v.strip() for k, v in values.items() if v and v.strip()}
    if not cleaned:
        remove(s, owner_id, backend)
        return
    longest = max(cleaned.values(), key=len)
    row = {"owner_id": owner_id, "backend": backend, "secret": seal(cleaned), "hint": mask(longest),
           "updated_at": utcnow()}
    insert = dialect_insert(s, Credential).values(**row)
    s.execute(
        insert.on_conflict_do_update(
            index_elements=["owner_id", "backend"],
            set_={"secret": insert.excluded.secret, "hint": insert.excluded.hint,
                  "updated_at": insert.excluded.updated_at},
        )
    )


def load(s: Session, owner_id: int, backend: str) -> dict[str, str] | None:
    """This user's decrypted login for ``backend``, or None."""
    secret = s.scalar(select(Credential.secret).where(Credential.owner_id == owner_id, Credential.backend == backend))
    return unseal(secret) if secret else None


def remove(s: Session, owner_id: int, backend: str) -> bool:
    result = s.execute(delete(Credential).where(Credential.owner_id == owner_id, Credential.backend == backend))
    return bool(result.rowcount)  # type: ignore[attr-defined]


# Built once: the chat page reads it on every run (runner/backend_health.py).
_HINTS = select(Credential.backend, Credential.hint, Credential.updated_at).where(
    Credential.owner_id == bindparam("owner"))


def hints(s: Reader, owner_id: int) -> dict[str, tuple[str, datetime]]:
    """Per backend: the masked hint and when it was saved (nothing secret)."""
    return {backend: (hint, updated) for backend, hint, updated in s.execute(_HINTS, {"owner": owner_id})}
