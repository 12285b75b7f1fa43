"""Inline ``<think>`` reasoning (providers/huggingchat_think.py and its use in the stream parser).

The splitter must give the same answer and reasoning however the text is cut into tokens (tags split at
any character), keep text before ``<think>`` as answer, take several blocks, and treat an unclosed block
as reasoning to the end; the tags never reach the answer.
"""

from __future__ import annotations

import itertools
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from providers.events import Event, ReasoningDelta, TextDelta
from providers.huggingchat_think import ThinkSplitter, split_think
from providers.huggingchat_wire import StreamParser
from simulators.huggingchat_wire import padded


def fed(tokens: list[str]) -> tuple[str, str]:
    splitter = ThinkSplitter()
    pieces = [p for token in tokens for p in splitter.feed(token)] + splitter.finish()
    return "".join(t for k, t in pieces if k == "answer"), "".join(t for k, t in pieces if k == "reasoning")


def cuts(text: str, positions: list[int]) -> list[str]:
    points = sorted({p % (len(text) + 1) for p in positions})
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


# Text built from tags, tag fragments, angle brackets and plain characters: the hard cases.
ATOMS = st.sampled_from(["<think>", "</think>", "<", ">", "/", "<th", "think", "</", "a", "b", " ", "\n", "x<y"])
TEXTS = st.lists(ATOMS, max_size=30).map("".join)


@settings(max_examples=400, deadline=None)
@given(TEXTS, st.lists(st.integers(min_value=0, max_value=400), max_size=40))
def test_any_split_into_tokens_gives_the_same_result_as_the_whole_text(text: str, positions: list[int]) -> None:
    assert fed(cuts(text, positions)) == split_think(text)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_one_character_at_a_time_gives_the_same_result(text: str) -> None:
    assert fed(list(text)) == split_think(text)


WORDS = st.text(alphabet="abcdefgh.,!?xyz", min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), WORDS), max_size=8), st.booleans(),
       st.lists(st.integers(min_value=0, max_value=200), max_size=20))
def test_blocks_come_apart_exactly_and_the_tags_never_show(
    segments: list[tuple[bool, str]], close_last: bool, positions: list[int]
) -> None:
    """Answer and reasoning segments in any order: each lands on its side, without a trace of a tag."""
    text, answer, reasoning = "", "", ""
    for index, (thinking, words) in enumerate(segments):
        last = index == len(segments) - 1
        if thinking:
            text += "<think>" + words + ("</think>" if close_last or not last else "")
            reasoning += words
        else:
            text += words
            answer += words
    assert fed(cuts(text, positions)) == (answer, reasoning)


def test_examples() -> None:
    assert split_think("<think>\nLet me see.\n</think>\n\nParis.") == ("Paris.", "Let me see.\n")
    assert split_think("Sure: <think>hmm</think>yes") == ("Sure: yes", "hmm")
    assert split_think("<think>a</think>b<think>c</think>d") == ("bd", "ac")
    assert split_think("<think>never closed, the reply was cut") == ("", "never closed, the reply was cut")
    assert split_think("a < b and </think> stays") == ("a < b and </think> stays", "")
    assert split_think("ends with <thi") == ("ends with <thi", "")  # not a tag after all
    assert split_think("<think>ends with </thi") == ("", "ends with </thi")
    assert fed(["<", "th", "ink", ">", "deep", "</th", "ink>", "Answer"]) == ("Answer", "deep")
    assert fed(["<think", ">x</", "think", ">"]) == ("", "x")


def parser_events(tokens: list[str], final: str | None) -> list[Event]:
    parser = StreamParser(file_url=lambda sha: sha)
    events: list[Event] = []
    for token in tokens:
        events += parser.feed(json.loads(json.dumps({"type": "stream", "token": padded(token)})))
    if final is not None:
        events += parser.feed({"type": "finalAnswer", "text": final, "interrupted": False})
    return events


def texts(events: list[Event]) -> tuple[str, str]:
    return ("".join(e.text for e in events if isinstance(e, TextDelta)),
            "".join(e.text for e in events if isinstance(e, ReasoningDelta)))


def test_the_stream_parser_turns_inline_think_into_reasoning_and_the_final_answer_adds_nothing_twice() -> None:
    tokens = ["<thi", "nk>\nThe user", " greets.", "</thi", "nk>\n\n", "Hello", "!"]
    whole = "".join(tokens)
    assert texts(parser_events(tokens, whole)) == ("Hello!", "The user greets.")
    # finalAnswer carrying what the stream did not: only the rest is added, split the same way
    assert texts(parser_events(tokens[:3], whole)) == ("Hello!", "The user greets.")
    # a finalAnswer that contradicts the stream leaves the streamed answer as it is
    assert texts(parser_events(tokens, "Something else entirely, longer than the stream.")) == ("Hello!",
                                                                                                "The user greets.")
    # a reply cut off while thinking: everything is reasoning, no raw tag anywhere
    answer, reasoning = texts(parser_events(["<think>", "still going"], "<think>still going"))
    assert (answer, reasoning) == ("", "still going")


def test_a_held_back_tag_beginning_comes_out_at_flush() -> None:
    parser = StreamParser(file_url=lambda sha: sha)
    assert texts(parser.feed({"type": "stream", "token": "x <th"})) == ("x ", "")
    assert texts(parser.flush()) == ("<th", "")
