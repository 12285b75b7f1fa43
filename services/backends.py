"""A backend's connection check ("Check now" on the Backends page, "Check connection" in Settings), with the
login a reply would be sent with (access/credentials.py). The states themselves: runner/backend_health.py.
"""

from __future__ import annotations

from access.credentials import credentials_for
from runner.runner import Check, get_runner
from services import draw_turns
from storage.db import get_engine, session


def has_login(owner: int, backend: str) -> bool:
    """Whether a reply to this user would send a login: their own, or the server's where allowed."""
    with session(get_engine()) as s:
        return credentials_for(s, owner, backend) is not None


def check(owner: int, backend: str) -> Check:
    """The cheapest call the backend allows, with the login a reply would send (none if there is none); the
    outcome is recorded as the backend's state for this user."""
    with session(get_engine()) as s:
        login = credentials_for(s, owner, backend)
    with draw_turns.waiting():  # up to 20 s on the network: other sessions draw meanwhile
        return get_runner().check(backend, login, owner_id=owner)
