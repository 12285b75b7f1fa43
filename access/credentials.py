"""Which login a reply to a user is sent with: the user's own (stored encrypted, storage/credentials.py), else
the server's from the environment where an admin lets users use it (access/policy.py), else none.

The runner, the REST API and the pages ask here; nothing else decides it.
"""

from __future__ import annotations

from collections.abc import Set

from sqlalchemy.orm import Session

from access import policy
from providers import registry
from providers.base import BackendInfo
from storage import credentials as stored_credentials
from storage.repository import Reader


def credentials_for(s: Session, owner_id: int, backend: str) -> dict[str, str] | None:
    """The user's own login for ``backend`` (decrypted), else the server's from the environment where an admin
    allows users to use it (access/policy.py), else ``None``."""
    info = registry.backend(backend)
    if not info.credential_fields:
        return None
    own = stored_credentials.load(s, owner_id, backend)
    if own:
        return own
    server = info.server_credentials()
    if server is None or not policy.server_login_allowed(policy.engine_of(s), backend):
        return None
    return server


def saved_logins(s: Reader, owner_id: int) -> set[str]:
    """The backends the user saved a login for (nothing is decrypted)."""
    return set(stored_credentials.hints(s, owner_id))


def has_login(s: Reader, info: BackendInfo, saved: Set[str]) -> bool:
    """Whether a reply would send a login: :func:`credentials_for` without a query and a decryption per backend
    (``saved``: :func:`saved_logins`)."""
    if not info.credential_fields:
        return False
    if info.name in saved:
        return True
    return info.server_credentials() is not None and policy.server_login_allowed(policy.engine_of(s), info.name)
