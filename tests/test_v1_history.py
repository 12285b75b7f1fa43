"""Recognising the continuation of a stored conversation (api/v1_history.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from api.v1_history import CANDIDATES, find_continuation
from api.v1_request import fold_system, parse, without_system
from runner.versions import SUPERSEDED
from storage import repository as repo


def _conversation(s: Any, owner: int, *messages: tuple[str, str]) -> str:
    conversation = repo.create_conversation(s, owner, provider="allenai", model="m").id
    for role, text in messages:
        repo.add_message(s, owner, conversation, role=role, content=text)
    return conversation


def test_the_whole_history_must_match_and_the_newest_match_wins(db: Any) -> None:
    with db() as s:
        owner = repo.get_or_create_user(s, "ann").id
        other = repo.get_or_create_user(s, "bob").id
        older = _conversation(s, owner, ("user", "Hi"), ("assistant", "Hello"))
        newer = _conversation(s, owner, ("user", "Hi"), ("assistant", "Hello"))
        longer = _conversation(s, owner, ("user", "Before"), ("assistant", "x"), ("user", "Hi"), ("assistant", "Hello"))
        _conversation(s, other, ("user", "Bob's"), ("assistant", "Secret"))
    with db() as s:
        assert find_continuation(s, owner, [("user", "Hi"), ("assistant", "Hello")]) == newer
        assert find_continuation(s, owner, [("user", "Before"), ("assistant", "x"), ("user", "Hi"),
                                            ("assistant", "Hello")]) == longer
        assert find_continuation(s, owner, [("user", "Hi"), ("assistant", "Hello there")]) is None
        assert find_continuation(s, owner, [("user", "Bob's"), ("assistant", "Secret")]) is None  # not hers
        assert find_continuation(s, owner, []) is None
        assert older != newer


def test_hidden_versions_and_empty_failed_replies_are_not_compared(db: Any) -> None:
    with db() as s:
        owner = repo.get_or_create_user(s, "ann").id
        conversation = _conversation(s, owner, ("user", "Q"))
        failed = repo.add_message(s, owner, conversation, role="assistant", content="", status="error")
        old = repo.add_message(s, owner, conversation, role="assistant", content="Old version")
        repo.update_message(s, old.id, extra={SUPERSEDED: True})
        repo.add_message(s, owner, conversation, role="assistant", content="Kept version")
        assert failed.id
    with db() as s:
        assert find_continuation(s, owner, [("user", "Q"), ("assistant", "Kept version")]) == conversation
        assert find_continuation(s, owner, [("user", "Q"), ("assistant", "Old version")]) is None


def test_only_the_most_recent_conversations_are_looked_at(db: Any) -> None:
    with db() as s:
        owner = repo.get_or_create_user(s, "ann").id
        _conversation(s, owner, ("user", "Old"), ("assistant", "Answer"))
        for n in range(CANDIDATES):
            _conversation(s, owner, ("user", f"Newer {n}"), ("assistant", "Answer"))
    with db() as s:
        assert find_continuation(s, owner, [("user", "Old"), ("assistant", "Answer")]) is None  # bounded
        assert find_continuation(s, owner, [("user", "Newer 0"), ("assistant", "Answer")]) is not None


def test_system_messages_fold_into_the_next_user_message_the_same_way_every_time() -> None:
    body = (b'{"model": "allenai/m", "messages": [{"role": "system", "content": "Be brief."}, '
            b'{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}, '
            b'{"role": "developer", "content": "Now French."}, {"role": "user", "content": "Again"}]}')
    request = parse(body)
    assert request.history == [("user", fold_system(["Be brief."], "Hi")), ("assistant", "Yo")]
    assert request.prompt == fold_system(["Now French."], "Again")
    assert request.prompt.startswith("[System instructions]\nNow French.\n[End of system instructions]\n\n")
    assert without_system(request.prompt) == "Again" and without_system("Plain") == "Plain"
