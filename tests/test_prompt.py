"""format_prompt / last_user_message as the seeds do them (web-backends.md §4.1, §4.2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers.base import format_prompt, last_user_message
from providers.events import ChatMessage


def msgs(*pairs: tuple[str, str]) -> tuple[ChatMessage, ...]:
    return tuple(ChatMessage(role, content) for role, content in pairs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        (msgs(("user", "Hi")), "Hi"),
        (msgs(("system", "Be brief."), ("user", "Hello")), "System: Be brief.\nUser: Hello\nAssistant:"),
        (
            msgs(("user", "Hi"), ("assistant", "Hello!"), ("user", "What is 2+2?")),
            "User: Hi\nAssistant: Hello!\nUser: What is 2+2?\nAssistant:",
        ),
        # whitespace-only messages are dropped (§4.1 example 4, with the image part left out)
        (msgs(("user", "Hi"), ("assistant", "   "), ("user", "Look")), "User: Hi\nUser: Look\nAssistant:"),
        # multi-line content is inserted verbatim, not stripped
        (msgs(("user", "a\nb"), ("user", "c")), "User: a\nb\nUser: c\nAssistant:"),
        (msgs(("user", " padded ")), " padded "),  # a single message is its bare, unstripped text
        (msgs(("user", "  x  "), ("user", "y")), "User:   x  \nUser: y\nAssistant:"),
        ((), ""),  # the seed raised IndexError here; Chatdeck sends an empty prompt
    ],
)
def test_format_prompt(messages: tuple[ChatMessage, ...], expected: str) -> None:
    assert format_prompt(messages) == expected


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        (msgs(("user", "A"), ("assistant", "x"), ("user", " B "), ("user", "C")), "B\nC"),
        (msgs(("user", "Q"), ("assistant", "ans")), "Q"),
        (msgs(("user", "A"), ("user", "")), "A\n"),
        ((), ""),
        (msgs(("system", "S"), ("user", "only")), "only"),
        (msgs(("user", "old"), ("assistant", "x"), ("user", "new"), ("system", "late")), "new"),
        (msgs(("assistant", "hello")), ""),
    ],
)
def test_last_user_message(messages: tuple[ChatMessage, ...], expected: str) -> None:
    assert last_user_message(messages) == expected


roles = st.sampled_from(["system", "user", "assistant"])
texts = st.text(st.characters(codec="utf-8"), max_size=20)


@given(st.lists(st.tuples(roles, texts), min_size=2, max_size=6))
def test_format_prompt_shape(pairs: list[tuple[str, str]]) -> None:
    prompt = format_prompt(msgs(*pairs))
    kept = [f"{role.capitalize()}: {text}" for role, text in pairs if text.strip()]
    assert prompt == "\n".join(kept) + "\nAssistant:"


@given(st.lists(st.tuples(roles, texts), max_size=6))
def test_last_user_message_is_the_trailing_user_run(pairs: list[tuple[str, str]]) -> None:
    result = last_user_message(msgs(*pairs))
    trimmed = list(pairs)
    while trimmed and trimmed[-1][0] != "user":
        trimmed.pop()
    run: list[str] = []
    while trimmed and trimmed[-1][0] == "user":
        run.insert(0, trimmed.pop()[1].strip())
    assert result == "\n".join(run)
