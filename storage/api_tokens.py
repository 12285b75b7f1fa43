"""The REST API tokens users issue in Settings: plain functions taking a Session.

Only a token's id (the JWT's ``jti``), its owner, name and dates are stored, never the token: a
token is shown once when it is issued. Every request looks its ``jti`` up here (:func:`owner_of`),
so revoking or expiring a token takes effect at once.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import ApiToken, utcnow

NAME_MAX_CHARS = 100
LIST_LIMIT = 100


def create(s: Session, owner_id: int, *, name: str, expires_at: datetime) -> ApiToken:
    """Record a new token (with a fresh random ``jti``) for ``owner_id``."""
    token = ApiToken(
        jti=secrets.token_hex(16), owner_id=owner_id, name=name.strip()[:NAME_MAX_CHARS],
        created_at=utcnow(), expires_at=expires_at,
    )
    s.add(token)
    s.flush()
    return token


def list_tokens(s: Session, owner_id: int, *, limit: int = LIST_LIMIT) -> list[ApiToken]:
    """The owner's tokens, newest first, revoked and expired ones included."""
    query = (
        select(ApiToken).where(ApiToken.owner_id == owner_id)
        .order_by(ApiToken.id.desc()).limit(max(0, min(limit, LIST_LIMIT)))
    )
    return list(s.scalars(query))


def revoke(s: Session, owner_id: int, token_id: int) -> bool:
    """Revoke one of the owner's tokens. ``False`` if it is not theirs or already revoked."""
    result = s.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.owner_id == owner_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def owner_of(s: Session, jti: str, owner_id: int) -> bool:
    """Whether ``jti`` is a live token of ``owner_id`` (not revoked, not expired); marks it used."""
    now = utcnow()
    token = s.scalar(select(ApiToken).where(ApiToken.jti == jti, ApiToken.owner_id == owner_id))
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        return False
    token.last_used_at = now
    return True
