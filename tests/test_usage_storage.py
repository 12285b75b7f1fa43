"""Admin storage on SQLite and PostgreSQL: app settings, users with their activity, rate-limit overrides,
recent replies (what the rate limit counts) and usage per day, user and backend; and the limit itself."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import application
from access import limits, policy
from access.limits import RateLimitedError
from storage import app_settings, usage
from storage import repository as repo
from storage.models import Message, utcnow
from tests.db_fixtures import SessionFactory


@pytest.fixture(autouse=True)
def fresh_policy() -> None:
    application.reset()


def user(s: Session, name: str, *, seen: datetime | None = None) -> int:
    u = repo.get_or_create_user(s, name, name.title())
    if seen is not None:
        u.email, u.last_seen_at = f"{name}@example.com", seen
    s.flush()
    return u.id


def reply(s: Session, owner: int, conversation_id: str, *, provider: str = "allenai", at: datetime | None = None,
          finish: str | None = "stop", status: str = "complete") -> int:
    """An exchange as the runner makes it: the user's message, then a reply that streamed and finished."""
    repo.add_message(s, owner, conversation_id, role="user", content="question", provider=provider)
    message = repo.add_message(s, owner, conversation_id, role="assistant", content="", provider=provider,
                               status="streaming")
    if status != "streaming":
        repo.update_message(s, message.id, content="answer", status=status, finish_reason=finish)
    if at is not None:
        s.execute(update(Message).where(Message.conversation_id == conversation_id, Message.id >= message.id - 1)
                  .values(created_at=at))
    return message.id


def chat(s: Session, owner: int, provider: str = "allenai") -> str:
    return repo.create_conversation(s, owner, provider=provider, model="m").id


def test_app_settings_are_stored_replaced_and_removed(db: SessionFactory) -> None:
    with db() as s:
        assert app_settings.load_all(s) == {}
        app_settings.put(s, "backend_disabled:hailuo", True)
        app_settings.put(s, "rate_limit", 5)
    with db() as s:
        app_settings.put(s, "rate_limit", 7)
        assert app_settings.load_all(s) == {"backend_disabled:hailuo": True, "rate_limit": 7}
        assert app_settings.remove(s, "rate_limit") and not app_settings.remove(s, "rate_limit")
        with pytest.raises(ValueError, match="1 to 64"):
            app_settings.put(s, "x" * 65, 1)
    with db() as s:
        assert app_settings.load_all(s) == {"backend_disabled:hailuo": True}


def test_users_are_listed_with_their_replies_in_the_period(db: SessionFactory) -> None:
    now = utcnow()
    with db() as s:
        ann = user(s, "ann", seen=now - timedelta(minutes=5))
        bob = user(s, "bob", seen=now - timedelta(days=2))
        never = user(s, "rest-only")
        c = chat(s, ann)
        for _ in range(3):
            reply(s, ann, c)
        reply(s, ann, c, status="streaming")  # still being written: it counts
        reply(s, ann, c, finish=None, status="partial")  # cut off by a restart: it counts
        # History the REST API appended: assistant messages no backend was asked for, not counted.
        repo.add_message(s, ann, c, role="assistant", content="old answer", provider="huggingface")
        old = chat(s, bob)
        reply(s, bob, old, at=now - timedelta(days=40))  # before the period
        reply(s, bob, chat(s, bob), provider="hailuo")
        assert usage.set_rate_limit(s, bob, 3)
    with db() as s:
        rows = usage.list_users(s, since=now - timedelta(days=30))
    assert [r.id for r in rows] == [ann, bob, never]  # most recently seen first, never seen last
    by_id = {r.id: r for r in rows}
    assert by_id[ann].replies == 5 and by_id[bob].replies == 1 and by_id[never].replies == 0
    assert by_id[ann].label == "ann@example.com" and by_id[never].label == "Rest-Only"
    assert by_id[bob].rate_limit == 3 and by_id[ann].rate_limit is None
    with db() as s:
        assert usage.list_users(s, since=now - timedelta(days=30), limit=1)[0].id == ann


def test_rate_limit_overrides(db: SessionFactory) -> None:
    with db() as s:
        ann = user(s, "ann")
        assert usage.user_rate_limit(s, ann) is None
        assert usage.set_rate_limit(s, ann, 0)  # 0: no limit for this user
        assert usage.user_rate_limit(s, ann) == 0
        assert usage.set_rate_limit(s, ann, None)
        assert usage.user_rate_limit(s, ann) is None
        assert not usage.set_rate_limit(s, 999_999, 5)
        with pytest.raises(ValueError, match="0 to"):
            usage.set_rate_limit(s, ann, -1)


def test_recent_reply_times_are_the_newest_replies_of_the_window(db: SessionFactory) -> None:
    now = utcnow()
    with db() as s:
        ann, bob = user(s, "ann"), user(s, "bob")
        long_chat = chat(s, ann)
        for i in range(usage.MAX_PAGE + 30):  # older than the window, then more than a page of fresh messages
            repo.add_message(s, ann, long_chat, role="user", content=f"old {i}")
        s.execute(update(Message).where(Message.conversation_id == long_chat)
                  .values(created_at=now - timedelta(minutes=5)))
        reply(s, ann, long_chat, at=now - timedelta(seconds=50))
        for i in range(usage.MAX_PAGE + 10):  # a REST history appended after it, in the window
            repo.add_message(s, ann, long_chat, role="assistant", content=f"history {i}")
        reply(s, ann, long_chat, at=now - timedelta(seconds=10))
        other = chat(s, ann, "huggingface")
        reply(s, ann, other, at=now - timedelta(seconds=90))  # before the window
        reply(s, ann, other, at=now - timedelta(seconds=30))
        reply(s, bob, chat(s, bob), at=now - timedelta(seconds=5))  # another user's
    with db() as s:
        times = usage.recent_reply_times(s, ann, since=now - timedelta(minutes=1), limit=10)
        assert [round((now - t).total_seconds()) for t in times] == [10, 30, 50]
        assert len(usage.recent_reply_times(s, ann, since=now - timedelta(minutes=1), limit=2)) == 2
        assert usage.recent_reply_times(s, ann, since=now - timedelta(minutes=1), limit=0) == []


def test_usage_per_day_user_and_backend(db: SessionFactory) -> None:
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    late = (today - timedelta(days=2)).replace(hour=23, minute=59, second=30)
    with db() as s:
        ann, bob = user(s, "ann", seen=today), user(s, "bob")
        c = chat(s, ann)
        reply(s, ann, c, at=late)
        reply(s, ann, c, at=late + timedelta(minutes=1))  # past midnight UTC: the next day
        reply(s, ann, c, provider="hailuo", at=late + timedelta(minutes=2))
        d = chat(s, bob)
        reply(s, bob, d, at=today - timedelta(hours=1))
        reply(s, bob, d, at=today - timedelta(days=20))  # outside a 7-day period
    with db() as s:
        rows = usage.usage(s, since=today - timedelta(days=7))
    day1, day2, day3 = late.date(), late.date() + timedelta(days=1), (today - timedelta(hours=1)).date()
    assert all(isinstance(r.day, date) for r in rows)
    assert [(r.day, r.user, r.provider, r.replies) for r in rows] == [
        (day1, "ann@example.com", "allenai", 1),
        (day2, "ann@example.com", "allenai", 1),
        (day2, "ann@example.com", "hailuo", 1),
        (day3, "Bob", "allenai", 1),
    ]
    with db() as s:
        assert usage.usage(s, since=today + timedelta(days=1)) == []


def test_the_limit_counts_the_last_minute_and_says_when_a_slot_frees(
    db: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(policy.ENV_RATE_LIMIT, "3")
    now = utcnow()
    with db() as s:
        ann = user(s, "ann")
        c = chat(s, ann)
        for seconds in (50, 20, 5):
            reply(s, ann, c, at=now - timedelta(seconds=seconds))
    with db() as s:
        with pytest.raises(RateLimitedError) as refused:
            limits.check(s, ann, now=now)
        assert (refused.value.limit, refused.value.sent, refused.value.retry_after) == (3, 3, 10)
        assert str(refused.value) == "You have sent 3 messages in the last minute (your limit). Try again in 10 s."
        limits.check(s, ann, now=now + timedelta(seconds=11))  # the oldest left the window
        with pytest.raises(RateLimitedError) as two:  # two at once need two slots: the second frees later
            limits.check(s, ann, replies=2, now=now + timedelta(seconds=11))
        assert two.value.retry_after == 29 and "needs 2 replies" in str(two.value)
        with pytest.raises(RateLimitedError, match="more than your limit of 3") as never:
            limits.check(s, ann, replies=4, now=now + timedelta(hours=1))
        assert never.value.retry_after is None
        usage.set_rate_limit(s, ann, 4)  # the user's own limit wins over the default
        limits.check(s, ann, now=now)
        usage.set_rate_limit(s, ann, 0)  # no limit at all
        limits.check(s, ann, replies=100, now=now)


def test_the_default_limit_comes_from_the_environment_then_from_the_admin(
    db: SessionFactory, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(policy.ENV_RATE_LIMIT, raising=False)
    assert policy.current(engine).rate_limit == policy.DEFAULT_RATE_LIMIT
    monkeypatch.setenv(policy.ENV_RATE_LIMIT, "0")
    policy.invalidate()
    assert policy.current(engine).rate_limit == 0
    monkeypatch.setenv(policy.ENV_RATE_LIMIT, "lots")  # unreadable: the default, with a warning
    policy.invalidate()
    assert policy.current(engine).rate_limit == policy.DEFAULT_RATE_LIMIT
    policy.set_rate_limit(engine, 2)
    current = policy.current(engine)
    assert (current.rate_limit, current.rate_limit_from_env) == (2, False)
    policy.set_rate_limit(engine, None)
    assert policy.current(engine).rate_limit_from_env
