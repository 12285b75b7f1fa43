"""The process-wide memory of stored messages' drawn markup (markup/text_cache.py, views.components)."""

from __future__ import annotations

from bench.texts import CODE, SENTENCES
from markup.text_cache import TextCache
from views import components


def test_a_text_drawn_again_is_not_transformed_again() -> None:
    seen: list[str] = []

    def transform(text: str) -> list[str]:
        seen.append(text)
        return [text.upper()]

    cache = TextCache(transform)
    assert cache("one") == ("ONE",)
    assert cache("two") == ("TWO",)
    assert cache("one") == ("ONE",)
    assert seen == ["one", "two"]


def test_the_least_recently_drawn_text_is_dropped_beyond_the_budget() -> None:
    seen: list[str] = []

    def transform(text: str) -> list[str]:
        seen.append(text)
        return [text]

    cache = TextCache(transform, budget=80)  # each 5-character text holds 10 characters (text and result)
    for text in ("aaaaa", "bbbbb", "ccccc", "ddddd", "eeeee", "fffff", "ggggg", "hhhhh"):
        cache(text)
    cache("aaaaa")  # now the most recent: "bbbbb" is the oldest
    cache("iiiii")  # 90 characters: one text must go
    assert len(cache) == 8
    seen.clear()
    cache("aaaaa")
    cache("bbbbb")
    assert seen == ["bbbbb"]


def test_a_text_too_large_for_the_budget_is_transformed_every_time() -> None:
    seen: list[str] = []

    def transform(text: str) -> list[str]:
        seen.append(text)
        return [text]

    cache = TextCache(transform, budget=100)
    cache("x" * 20)  # 40 characters held would be more than an eighth of 100
    cache("x" * 20)
    assert len(seen) == 2
    assert len(cache) == 0


def test_stored_blocks_are_the_blocks_as_drawn_without_the_cache() -> None:
    answer = "\n\n".join([" ".join(SENTENCES[:6]) + " with $x^2 + y_i$ and <b>html</b>",
                          CODE, "| a | b |\n|---|---|\n| $1$ | ![i](https://example.com/x.png) |"] * 3)
    expected = tuple(components.block_markdown(block) for block in components.split_blocks(answer))
    assert len(expected) > 1
    assert components.stored_blocks(answer) == expected
    assert components.stored_blocks(answer) == expected  # the remembered copy
