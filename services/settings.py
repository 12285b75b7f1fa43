"""What the Settings page calls: the user's saved backend logins (only ever masked), their API tokens, and the
custom OpenAI-compatible endpoints admins add. One session per call; plain, frozen values back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from access import api_tokens, policy
from access.api_tokens import LIFETIMES, SCOPES
from providers import endpoint_urls, registry
from storage import api_tokens as token_rows
from storage import credentials, endpoints
from storage.db import get_engine, session
from storage.models import utcnow

__all__ = ["LIFETIMES", "SCOPES"]


# --- backend logins ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SavedLogin:
    """A login the user saved, as it may be shown: masked."""

    hint: str  # its length class and last characters (storage/secrets.py ``mask``)
    updated_at: datetime


def saved_logins(owner: int) -> dict[str, SavedLogin]:
    """Per backend, the login the user saved (nothing is decrypted)."""
    with session(get_engine()) as s:
        return {backend: SavedLogin(hint, updated) for backend, (hint, updated) in credentials.hints(s, owner).items()}


def save_login(owner: int, backend: str, values: Mapping[str, str]) -> None:
    """Store (or replace) the user's login for ``backend``, encrypted."""
    with session(get_engine()) as s:
        credentials.save(s, owner, backend, values)


def remove_login(owner: int, backend: str) -> bool:
    with session(get_engine()) as s:
        return credentials.remove(s, owner, backend)


def server_login_allowed(backend: str) -> bool:
    """Whether users without a login of their own may use the server's (an admin's choice, access/policy.py)."""
    return policy.server_login_allowed(get_engine(), backend)


# --- API tokens -------------------------------------------------------------------------------------

ACTIVE, EXPIRED, REVOKED = "active", "expired", "revoked"


@dataclass(frozen=True, slots=True)
class TokenView:
    """One of the user's API tokens (never the token itself: it is shown once, when issued)."""

    id: int
    name: str
    state: str  # ACTIVE, EXPIRED or REVOKED
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None


def tokens(owner: int) -> list[TokenView]:
    """The user's tokens, newest first (bounded)."""
    now = utcnow()
    with session(get_engine()) as s:
        return [TokenView(t.id, t.name, REVOKED if t.revoked_at else (EXPIRED if t.expires_at <= now else ACTIVE),
                          t.created_at, t.expires_at, t.last_used_at)
                for t in token_rows.list_tokens(s, owner)]


def issue_token(owner: int, name: str, lifetime: str) -> str:
    """A new token for the user, valid for ``lifetime`` (a key of :data:`LIFETIMES`): the JWT, to show once."""
    with session(get_engine()) as s:
        return api_tokens.issue(s, owner, name=name, lifetime=LIFETIMES[lifetime]).token


def revoke_token(owner: int, token_id: int) -> bool:
    """Revoke one of the user's tokens: it stops working at once."""
    with session(get_engine()) as s:
        return token_rows.revoke(s, owner, token_id)


# --- custom endpoints (admins) ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EndpointView:
    """A custom endpoint as Settings lists it (its key never: only whether one is saved)."""

    slug: str
    display_name: str
    url: str  # as shown (storage/endpoints.py ``shown_url``)
    models: tuple[str, ...]
    has_key: bool


def custom_endpoints() -> list[EndpointView]:
    """The endpoints admins added (each a backend of the registry)."""
    with session(get_engine()) as s:
        return [EndpointView(e.slug, e.display_name, endpoints.shown_url(e), tuple(e.models), bool(e.secret))
                for e in endpoints.list_endpoints(s)]


def add_endpoint(name: str, url: str, key: str, models: list[str]) -> None:
    """Add an OpenAI-compatible server as a backend of its own. Raises ValueError (saying why) for a URL that is
    not allowed, also for what its host name resolves to now (providers/endpoint_urls.py), or a name in use."""
    url = endpoint_urls.check_resolved(url)
    with session(get_engine()) as s:
        endpoints.add(s, display_name=name, base_url=url, api_key=key, models=[m for m in models if m.strip()])
    registry.refresh()


def remove_endpoint(slug: str) -> bool:
    with session(get_engine()) as s:
        removed = endpoints.remove(s, slug)
    registry.refresh()
    return removed
