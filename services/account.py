"""Who is signed in: the users row written once per session at sign-in, and whether a user is an admin.

One session per call; plain values back.
"""

from __future__ import annotations

from dataclasses import dataclass

from access.identity import Identity
from storage import repository as repo
from storage.db import get_engine, session


@dataclass(frozen=True, slots=True)
class Account:
    """The signed-in user as the pages need them."""

    id: int
    is_admin: bool


def sign_in(who: Identity) -> Account:
    """Record a sign-in (the user is created on the first one; name, address and admin flag kept current)."""
    with session(get_engine()) as s:
        user = repo.sign_in(s, who.external_id, email=who.email, display_name=who.name, is_admin=who.is_admin)
        return Account(user.id, user.is_admin)


def is_admin(owner: int) -> bool:
    """Whether the user is an admin now (read again on every call: an admin may lose the role)."""
    with session(get_engine()) as s:
        return repo.is_admin(s, owner)
