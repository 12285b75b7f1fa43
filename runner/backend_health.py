"""Every backend's state for one user, as the pickers, the Backends page and ``GET /v1/models`` show it: read
from storage (what replies and checks last saw) and from configuration, never by asking a backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from access import credentials
from providers import registry
from providers.base import BackendInfo
from runner import health
from storage import health as health_store
from storage.db import reading
from storage.models import utcnow


def state_of(info: BackendInfo, row: Any, has_login: bool) -> str:
    """The state to show: what was last observed (``row``: a ``storage.health.for_owner`` row, or ``None``), or
    what is known without asking the backend."""
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
    return {name: report.state for name, report in reports(owner).items()}


QUIET = frozenset({health.READY, health.UNKNOWN})  # states a picker does not name beside the backend
CHECK_CACHE = timedelta(seconds=60)  # a "Check now" younger than this is shown instead of repeated


def label(state: str) -> str:
    """A state in words ("needs a login")."""
    return health.LABELS.get(state, state)


def worth_naming(state: str) -> bool:
    """Whether a picker names the state beside the backend (not when it is ready or nothing is known yet)."""
    return state not in QUIET


@dataclass(frozen=True, slots=True)
class Report:
    """One backend for one user, as the Backends page shows it: its state and what was last observed."""

    info: BackendInfo
    state: str
    read_at: datetime  # when this was read (for "5 min ago")
    observed: bool  # a reply or check has been seen (the fields below are empty otherwise)
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    protocol: str | None = None
    rate_limited_until: datetime | None = None  # only while the wait lasts
    message: str = ""  # the last error, in the backend's words
    fix: str = ""
    snippet: str = ""  # redacted part of an answer that could not be read
    recently_checked: bool = False  # "Check now" ran less than CHECK_CACHE ago


def reports(owner: int) -> dict[str, Report]:
    """Every backend's :class:`Report` for this user (two small queries)."""
    backends = registry.all_backends()
    with reading() as r:
        rows = health_store.for_owner(r, owner)
        saved = credentials.saved_logins(r, owner)  # which logins the user saved, without decrypting them
        logins = {name: credentials.has_login(r, info, saved) for name, info in backends.items()}
    now = utcnow()
    return {name: _report(info, state_of(info, rows.get(name), logins[name]), rows.get(name), now)
            for name, info in backends.items()}


def _report(info: BackendInfo, state: str, row: Any, now: datetime) -> Report:
    if row is None:
        return Report(info, state, now, observed=False)
    waiting = row.retry_until is not None and row.retry_until > now
    return Report(
        info, state, now, observed=True, last_success_at=row.last_success_at, last_failure_at=row.last_failure_at,
        protocol=row.protocol, rate_limited_until=row.retry_until if waiting else None,
        message=row.message, fix=row.fix, snippet=row.snippet,
        recently_checked=row.checked_at is not None and now - row.checked_at < CHECK_CACHE,
    )

