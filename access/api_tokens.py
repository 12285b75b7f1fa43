"""API tokens: JWTs (HS256) signed with a key derived from ``CHATDECK_SECRET_KEY``, issued in Settings and
verified by the REST APIs (which read the ``Authorization`` header in api/tokens.py).

A token carries its owner (``sub``), its id (``jti``), ``iat``, ``exp`` and ``iss="chatdeck"``.
A request is let in only if the signature and expiry hold *and* the ``jti`` is a live row of
storage/api_tokens.py, so a token revoked in Settings stops working at once. The token itself
is shown once when issued and never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from sqlalchemy.orm import Session

from storage import api_tokens as token_rows
from storage.models import ApiToken, utcnow
from storage.secrets import derive_key

ALGORITHM = "HS256"
ISSUER = "chatdeck"
# What a token opens (the same for every token: both REST APIs, as the token's user, with their logins and limits).
SCOPES = ("chat API (/api/ai/huggingface/…)", "OpenAI-compatible API (/v1: models, chat completions)")
LIFETIMES = {"1 day": timedelta(days=1), "30 days": timedelta(days=30), "90 days": timedelta(days=90),
             "1 year": timedelta(days=365)}


class InvalidTokenError(Exception):
    """Missing, malformed, forged, expired or revoked: all answered alike (401)."""


@dataclass(frozen=True)
class Issued:
    token: str  # the JWT, to show once
    id: int
    name: str
    expires_at: datetime


def signing_key() -> bytes:
    return derive_key(b"api tokens")


def issue(s: Session, owner_id: int, *, name: str, lifetime: timedelta) -> Issued:
    """Record a new token for ``owner_id`` and return it signed."""
    now = utcnow()
    row: ApiToken = token_rows.create(s, owner_id, name=name, expires_at=now + lifetime)
    claims = {"sub": str(owner_id), "jti": row.jti, "iss": ISSUER, "iat": int(now.timestamp()),
              "exp": int(row.expires_at.timestamp())}
    return Issued(jwt.encode(claims, signing_key(), algorithm=ALGORITHM), row.id, row.name, row.expires_at)


def verify(s: Session, token: str) -> int:
    """The owner id of a valid, live token; raises InvalidTokenError otherwise."""
    try:
        claims = jwt.decode(
            token, signing_key(), algorithms=[ALGORITHM], issuer=ISSUER,
            options={"require": ["sub", "jti", "exp", "iat", "iss"]},
        )
        owner_id = int(claims["sub"])
        jti = str(claims["jti"])
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidTokenError(type(exc).__name__) from exc
    if not token_rows.owner_of(s, jti, owner_id):
        raise InvalidTokenError("revoked, expired or unknown")
    return owner_id
