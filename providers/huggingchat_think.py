"""Inline ``<think>…</think>`` reasoning, split from the answer while it streams.

chat-ui turns an OpenAI-compatible upstream's ``reasoning`` deltas into text wrapped in ``<think>`` tags
inside the answer's ``stream`` tokens and ``finalAnswer.text`` (shared/protocols/observed-servers.md). The
tags can be split across tokens at any character, a model may think several times, and a reply cut off
while thinking never closes its tag. :class:`ThinkSplitter` is a small state machine: fed the raw text
piece by piece, it gives ``(kind, text)`` pieces, ``kind`` being ``"answer"`` or ``"reasoning"``, and the
same result for any way of cutting the same text into pieces. The tags themselves never come out.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["answer", "reasoning"]
OPEN, CLOSE = "<think>", "</think>"


def _partial_tag(text: str, tag: str) -> int:
    """The length of the longest end of ``text`` that is a proper beginning of ``tag`` (0 if none)."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class ThinkSplitter:
    """Raw text in, answer and reasoning pieces out; a possible tag's beginning is held back until known.

    Whitespace right after a tag (the ``\\n`` models write after ``<think>`` and ``</think>``) is dropped,
    so the answer does not start with blank lines.
    """

    def __init__(self) -> None:
        self.inside = False  # in a <think> block
        self.saw_reasoning = False
        self._held = ""  # the end of the text so far that may be the beginning of a tag
        self._after_tag = False  # drop whitespace until the next non-blank character

    def feed(self, text: str) -> list[tuple[Kind, str]]:
        pieces: list[tuple[Kind, str]] = []
        buffer, self._held = self._held + text, ""
        while buffer:
            tag = CLOSE if self.inside else OPEN
            found = buffer.find(tag)
            if found >= 0:
                self._emit(pieces, buffer[:found])
                buffer = buffer[found + len(tag) :]
                self.inside = not self.inside
                self.saw_reasoning = self.saw_reasoning or self.inside
                self._after_tag = True
                continue
            held = _partial_tag(buffer, tag)
            self._emit(pieces, buffer[: len(buffer) - held])
            self._held = buffer[len(buffer) - held :]
            break
        return pieces

    def finish(self) -> list[tuple[Kind, str]]:
        """The text held back at the end: not a tag after all (an unclosed block stays reasoning)."""
        pieces: list[tuple[Kind, str]] = []
        self._emit(pieces, self._held)
        self._held = ""
        return pieces

    def _emit(self, pieces: list[tuple[Kind, str]], text: str) -> None:
        if self._after_tag:
            text = text.lstrip()
            self._after_tag = not text
        if not text:
            return
        kind: Kind = "reasoning" if self.inside else "answer"
        if pieces and pieces[-1][0] == kind:
            pieces[-1] = (kind, pieces[-1][1] + text)
        else:
            pieces.append((kind, text))


def split_think(text: str) -> tuple[str, str]:
    """``(answer, reasoning)`` of a whole text at once."""
    splitter = ThinkSplitter()
    pieces = splitter.feed(text) + splitter.finish()
    return (
        "".join(t for k, t in pieces if k == "answer"),
        "".join(t for k, t in pieces if k == "reasoning"),
    )
