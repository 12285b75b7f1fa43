"""The services the pages call (services/), the login rule of access/credentials.py and the backend reports of
runner/backend_health.py, on a real SQLite database: what they hand the pages, beyond what the page tests see."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

import application
from access import api_tokens, policy
from access import credentials as logins
from access.credentials import credentials_for
from providers import registry
from runner import backend_health, health
from runner.health import Outcome
from services import conversation_view, library, settings
from storage import api_tokens as token_rows
from storage import credentials
from storage import health as health_store
from storage import repository as repo
from storage.db import get_engine, session
from storage.models import BackendHealth, utcnow
from views import health_badges

H, E = library.HIGHLIGHT_START, library.HIGHLIGHT_END


@pytest.fixture
def database(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The database get_engine() opens (the services open their own sessions), in single-user mode."""
    monkeypatch.setenv("CHATDECK_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CHATDECK_SECRET_KEY", "services-test-secret")
    monkeypatch.delenv("CHATDECK_TRUSTED_HEADER", raising=False)
    application.reset()
    yield get_engine()
    application.reset()


def user(engine: Engine, who: str = "local") -> int:
    with session(engine) as s:
        return repo.get_or_create_user(s, who).id


# --- services/library.py --------------------------------------------------------------------------------


def test_the_library_lists_frozen_views_of_the_owners_conversations_and_changes_only_theirs(database: Engine) -> None:
    owner, other = user(database), user(database, "someone@example.com")
    with session(database) as s:
        zebra = repo.create_conversation(s, owner, provider="allenai", model="olmo", title="Zebra facts").id
        lunch = repo.create_conversation(s, owner, provider="huggingface", model="llama", title="Lunch",
                                         system_prompt="Be brief").id
        theirs = repo.create_conversation(s, other, provider="allenai", model="olmo", title="Zebra too").id
    assert library.set_pinned(owner, zebra, True)

    groups, count = library.sidebar_groups(owner, archived=False, limit=50, tz=UTC)
    assert count == 2
    assert [(name, [c.title for c in items]) for name, items in groups] == [("Pinned", ["Zebra facts"]),
                                                                           ("Today", ["Lunch"])]
    view = groups[1][1][0]
    assert (view.id, view.owner_id, view.provider, view.model, view.pinned, view.archived) == (
        lunch, owner, "huggingface", "llama", False, False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.title = "changed"  # type: ignore[misc]
    assert not library.rename(owner, theirs, "mine now") and not library.delete(owner, theirs)
    assert not library.set_pinned(owner, theirs, True) and not library.set_archived(owner, theirs, True)
    untouched = conversation_view.conversation(other, theirs)
    assert untouched is not None and untouched.title == "Zebra too"

    found = library.search(owner, "zebra", limit=20)
    assert [hit.conversation_id for hit in found.hits] == [zebra]
    assert found.snippets == [f"{H}Zebra{E} facts"]  # a title-only match: the snippet is the title's

    assert library.set_archived(owner, lunch, True)
    assert library.rename(owner, lunch, "Dinner")
    archived, count = library.sidebar_groups(owner, archived=True, limit=50, tz=UTC)
    assert count == 1 and [c.title for _, items in archived for c in items] == ["Dinner"]
    assert library.delete(owner, lunch) and conversation_view.conversation(owner, lunch) is None


# --- access/credentials.py ------------------------------------------------------------------------------


@pytest.mark.parametrize("team", [False, True], ids=["single-user", "team"])
def test_has_login_says_whether_credentials_for_would_send_one(
    database: Engine, monkeypatch: pytest.MonkeyPatch, team: bool
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_server_token_value_123")
    if team:
        monkeypatch.setenv("CHATDECK_TRUSTED_HEADER", "X-Forwarded-Email")
    ann, bob = user(database, "ann@example.com"), user(database, "bob@example.com")
    with session(database) as s:
        credentials.save(s, bob, "huggingface", {"token": "bob-own-token-value"})
    for allowed in (None, False, True):  # the default for the mode, then an admin's choice either way
        if allowed is not None:
            policy.set_server_login(database, "huggingface", allowed)
        with session(database) as s:
            for owner in (ann, bob):
                saved = logins.saved_logins(s, owner)
                for name, info in registry.all_backends().items():
                    sent = credentials_for(s, owner, name)
                    assert logins.has_login(s, info, saved) == (sent is not None), (allowed, owner, name)
            expected = {"token": "hf_server_token_value_123"} if (not team if allowed is None else allowed) else None
            assert credentials_for(s, ann, "huggingface") == expected
            assert credentials_for(s, bob, "huggingface") == {"token": "bob-own-token-value"}  # their own first


# --- runner/backend_health.py and what the badges draw of it --------------------------------------------


def test_a_report_shows_a_wait_only_while_it_lasts_and_a_check_as_recent_for_a_minute(database: Engine) -> None:
    owner = user(database)
    with session(database) as s:
        health_store.record(s, owner, "allenai", Outcome(False, health.RATE_LIMITED, "Too many requests",
                                                         "Wait a minute.", retry_after=120), probe=True)
    report = backend_health.reports(owner)["allenai"]
    assert (report.state, report.observed, report.message, report.fix) == (
        health.RATE_LIMITED, True, "Too many requests", "Wait a minute.")
    assert report.rate_limited_until is not None and report.rate_limited_until > report.read_at
    assert report.recently_checked and report.last_failure_at is not None and report.last_success_at is None

    with session(database) as s:  # the wait is over and the check is older than a minute
        row = s.scalars(select(BackendHealth).where(BackendHealth.owner_id == owner)).one()
        row.retry_until = utcnow() - timedelta(seconds=1)
        row.checked_at = utcnow() - backend_health.CHECK_CACHE - timedelta(seconds=1)
    reports = backend_health.reports(owner)
    report = reports["allenai"]
    assert report.state == health.UNKNOWN and report.rate_limited_until is None and not report.recently_checked
    assert report.message == "Too many requests"  # still what was last seen
    assert not reports["huggingchat"].observed
    assert backend_health.states(owner) == {name: r.state for name, r in reports.items()}


def test_pickers_name_a_state_only_when_it_is_worth_knowing() -> None:
    info = registry.backend("allenai")
    assert health_badges.picker_label(info, health.READY) == info.display_name
    assert health_badges.picker_label(info, health.UNKNOWN) == info.display_name
    for state in set(health.LABELS) - {health.READY, health.UNKNOWN}:
        assert backend_health.worth_naming(state)
        assert health_badges.picker_label(info, state) == f"{info.display_name} · {health.LABELS[state]}"
        assert health.LABELS[state] in health_badges.badge(state)


# --- services/settings.py -------------------------------------------------------------------------------


def test_tokens_are_listed_with_their_state_and_never_their_value(database: Engine) -> None:
    owner = user(database)
    active = settings.issue_token(owner, "script", "1 day")
    revoked = settings.issue_token(owner, "old script", "30 days")
    with session(database) as s:
        token_rows.create(s, owner, name="long gone", expires_at=utcnow() - timedelta(minutes=1))
    [old] = [t for t in settings.tokens(owner) if t.name == "old script"]
    assert settings.revoke_token(owner, old.id)

    listed = settings.tokens(owner)
    assert {t.name: t.state for t in listed} == {"script": settings.ACTIVE, "old script": settings.REVOKED,
                                                 "long gone": settings.EXPIRED}
    assert all(active not in repr(t) and revoked not in repr(t) for t in listed)
    with session(database) as s:
        assert api_tokens.verify(s, active) == owner
        with pytest.raises(api_tokens.InvalidTokenError):
            api_tokens.verify(s, revoked)
