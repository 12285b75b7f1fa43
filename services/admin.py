"""What the Admin page calls: users with their activity and rate limits, the server-wide policy (backends on or
off, the server's logins, the default rate limit), and usage. Reads are bounded and aggregated in SQL
(storage/usage.py); the policy is access/policy.py's. One session per call; frozen values back.

The page checks that its user is an admin (services/account.py) before it calls any change here.
"""

from __future__ import annotations

from datetime import timedelta

from access import identity, policy
from access.policy import Policy
from storage import usage as store
from storage.db import get_engine, session
from storage.models import utcnow
from storage.usage import MAX_RATE_LIMIT, USERS_LIMIT, UsageRow, UserActivity

__all__ = ["MAX_RATE_LIMIT", "USERS_LIMIT", "Policy", "UsageRow", "UserActivity"]


def users(days: int) -> list[UserActivity]:
    """The most recently seen users (at most USERS_LIMIT), each with their replies over the last ``days``."""
    with session(get_engine()) as s:
        return store.list_users(s, since=utcnow() - timedelta(days=days))


def set_user_limit(user_id: int, limit: int | None) -> bool:
    """A user's own messages-per-minute limit (``None``: the server's default). ``False`` if they are gone."""
    with session(get_engine()) as s:
        return store.set_rate_limit(s, user_id, limit)


def usage(days: int) -> list[UsageRow]:
    """Replies per UTC day, user and backend over the last ``days``."""
    with session(get_engine()) as s:
        return store.usage(s, since=utcnow() - timedelta(days=days))


# --- the server-wide policy -----------------------------------------------------------------------------


def current_policy() -> Policy:
    """What admins decided (cached by access/policy.py)."""
    return policy.current(get_engine())


def team_mode() -> bool:
    """Whether Chatdeck runs for a team (OIDC or a proxy), not for one local user."""
    return policy.mode() != identity.SINGLE


def server_login_allowed(backend: str) -> bool:
    return policy.server_login_allowed(get_engine(), backend)


def set_backend_enabled(backend: str, enabled: bool) -> None:
    policy.set_backend_enabled(get_engine(), backend, enabled)


def set_server_login(backend: str, allowed: bool) -> None:
    policy.set_server_login(get_engine(), backend, allowed)


def set_default_rate_limit(limit: int | None) -> None:
    """The default messages-per-minute limit (``None``: back to ``CHATDECK_RATE_LIMIT``)."""
    policy.set_rate_limit(get_engine(), limit)
