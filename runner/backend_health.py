"""Every backend's state for one user, as the pickers, the Backends page and ``GET /v1/models`` show it: read
from storage (what replies and checks last saw) and from configuration, never by asking a backend.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from access import policy
from providers import registry
from providers.base import BackendInfo
from runner import health
from storage import credentials as stored_credentials
from storage import health as health_store
from storage.db import get_engine, session
from storage.models import BackendHealth, utcnow


def state_of(info: BackendInfo, row: BackendHealth | None, has_login: bool) -> str:
    """The state to show: what was last observed, or what is known without asking the backend."""
    if info.status == "disabled":
        return health.DISABLED
    if info.needs_credentials and not has_login:
        return health.NEEDS_CREDENTIALS
    if row is not None:
        if row.state == health.RATE_LIMITED and row.retry_until is not None and row.retry_until < utcnow():
            return health.UNKNOWN  # the wait is over; the next reply will tell
        if row.state == health.NEEDS_CREDENTIALS and has_login:  # a login has been added since
            return health.UNKNOWN
        return row.state
    return health.UNKNOWN


def states(owner: int) -> dict[str, str]:
    """Every backend's state for this user (two small queries, on every rerun of the chat page)."""
    backends = registry.all_backends()
    with session(get_engine()) as s:
        rows = health_store.for_owner(s, owner)
        own = set(stored_credentials.hints(s, owner))  # which logins the user saved, without decrypting them
        logins = {name: _has_login(s, name, info, own) for name, info in backends.items()}
    return {name: state_of(info, rows.get(name), logins[name]) for name, info in backends.items()}


def _has_login(s: Session, name: str, info: BackendInfo, own: set[str]) -> bool:
    """Whether a reply would send a login (runner.credentials_for, without a query and a decryption per
    backend): the user's own, else the server's where an admin allows it."""
    if not info.credential_fields:
        return False
    if name in own:
        return True
    return info.server_credentials() is not None and policy.server_login_allowed(policy.engine_of(s), name)
