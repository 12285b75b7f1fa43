"""The HTTP side of API tokens: the token of an ``Authorization: Bearer <token>`` header.

Issuing and verifying them is access/api_tokens.py; its names are re-exported here for the handlers.
"""

from __future__ import annotations

from access.api_tokens import LIFETIMES, SCOPES, InvalidTokenError, Issued, issue, signing_key, verify

__all__ = ["LIFETIMES", "SCOPES", "InvalidTokenError", "Issued", "bearer", "issue", "signing_key", "verify"]


def bearer(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidTokenError("no bearer token")
    return token.strip()
