"""Where a streaming block may be cut into pieces drawn as separate elements, so an update resends a bounded tail.

A live block (views/components.py) is resent whole on every update: a long paragraph costs the square of
its length. Cut into pieces, only the last piece is resent; the pieces are drawn in one container whose
CSS lets them flow as one paragraph. A cut is only made where both sides render alone exactly as they do
together: inside a plain paragraph (no line break, no list, heading, quote, table or code before it), at
a space followed by a letter, with every inline span closed (code, math, emphasis, strikethrough, link)
and outside any code fence. The cut falls between two updates (the text already sent stays in its
element; the next text starts a new one), so a cut costs no resend: once a piece holds ``size``
characters, an update holds back a trailing partial word (at most ``HOLD_MAX`` characters) so that it
ends at a space.

Pure text logic; the stored answer is drawn whole (one element per block) and never cut.
"""

from __future__ import annotations

import re

PIECE_SIZE = 60  # characters a piece holds before the next update may start a new one (about every update)
HOLD_MAX = 40  # characters of a partial word held back to end an update at a space (a longer run is sent)
CUT = None  # in ``feed``'s output: the text after this starts a new piece

_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.MULTILINE)
_LIST_START = re.compile(r"\d{1,9}[.)](\s|$)")
_WORD_UNDERSCORE = re.compile(r"(?<=[^\W_])_+(?=[^\W_])")  # snake_case: never emphasis
_RUNS = {mark: re.compile(re.escape(mark) + "+") for mark in "`$*~_"}


def can_cut(block: str, at: int) -> bool:
    """Whether ``block[:at]`` and ``block[at:]`` may be drawn as two elements flowing as one paragraph.

    ``block`` is the text drawn so far plus at least the first character after ``at``.
    """
    if at <= 0 or at >= len(block) or block[at - 1] != " " or not block[at].isalpha():
        return False
    start = block.rfind("\n\n", 0, at) + 2 if "\n\n" in block[:at] else 0
    paragraph = block[start:at]
    if "\n" in paragraph or not paragraph[:1].isalnum() or _LIST_START.match(paragraph):
        return False
    if len(_FENCE.findall(block[:start])) % 2:
        return False  # inside a fenced code block
    return spans_closed(paragraph)


def spans_closed(text: str) -> bool:
    """Whether every inline span opened in ``text`` is closed again (counted conservatively).

    Each delimiter (code, math, emphasis, strikethrough) must come in an even number of runs of an
    even number of characters in all ("**bold" is one run: open); brackets and parentheses must pair.
    """
    text = text.replace("\\\\", "").replace("\\$", "").replace("\\*", "").replace("\\_", "").replace("\\`", "")
    text = text.replace("\\~", "")
    if "|" in text:
        return False
    for runs in (_RUNS["`"].findall(text), _RUNS["$"].findall(text), _RUNS["*"].findall(text),
                 _RUNS["~"].findall(text), _RUNS["_"].findall(_WORD_UNDERSCORE.sub("", text))):
        if len(runs) % 2 or sum(map(len, runs)) % 2:
            return False
    return text.count("[") == text.count("]") and text.count("(") == text.count(")")


class PieceCutter:
    """Cuts one block's streamed text into pieces: ``feed`` per update, ``flush`` at the block's end.

    Both return the text to draw, with :data:`CUT` where a new piece starts. Joined (CUTs left out),
    everything returned is exactly the text fed.
    """

    def __init__(self, size: int = PIECE_SIZE) -> None:
        self.size = size
        self.block = ""  # the block's text returned so far
        self.piece = 0  # characters in the current piece
        self.held = ""

    def feed(self, text: str) -> list[str | None]:
        text = self.held + text
        self.held = ""
        if not text:
            return []
        out: list[str | None] = []
        if self.piece >= self.size and can_cut(self.block + text[0], len(self.block)):
            out.append(CUT)
            self.piece = 0
        if self.piece + len(text) >= self.size:  # end this update at a space, so the next one may cut
            space = text.rfind(" ") + 1
            if 0 < space < len(text) and len(text) - space <= HOLD_MAX:
                text, self.held = text[:space], text[space:]
        self.block += text
        self.piece += len(text)
        out.append(text)
        return out

    def flush(self) -> str:
        held, self.held = self.held, ""
        self.block += held
        self.piece += len(held)
        return held
