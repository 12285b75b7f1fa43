r"""Math in answers: ``\(…\)`` and ``\[…\]`` made into the ``$…$`` / ``$$…$$`` Streamlit renders with KaTeX.

Models write math in two notations. Streamlit's markdown knows only dollars; a ``\(`` reaches it as a
backslash escape and shows as "(", the formula as plain text. This module rewrites answer text before it
is drawn, so every notation renders, and so nothing that is not math does:

* ``\(x\)`` becomes ``$x$`` and ``\[x\]`` display math (``$$`` lines of their own when the brackets
  stand on their own lines, else inline ``$$\displaystyle …$$``), unless the bracket is one a model
  escaped in prose (``\[1\]``, ``\[link\](url)``, ``file\(s\)``, ``\(see above\)``);
* ``$…$`` stays math only by Pandoc's rule (no space inside the dollars, the closing one not followed by
  a digit) and ``$$…$$`` only when closed; every other dollar is escaped (``\$``), so "it costs $5 and
  $10" stays a price even in an answer where Streamlit switches math on (it then reads any ``$``
  pair as math);
* nothing changes inside code spans and fenced code.

For drawing, a ``<`` inside math becomes ``\lt``: the tag breaker of markup/safe_markdown.py, which runs
after this module and stays the security boundary, would otherwise put an invisible space into
``a<b``. KaTeX runs with Streamlit's defaults (``trust`` off), so ``\href``, ``\url`` and
``\includegraphics`` render as error text and load nothing (tests/test_browser_math.py checks it).

Every decision looks ahead only a bounded way (a closing delimiter on the same line or paragraph, at
most ``INLINE_MAX`` or ``DISPLAY_MAX`` characters on), so a streamed answer is converted by
:class:`MathStream` piece by piece, holding back only text still undecided: what it sends is never
taken back, an unterminated ``\(`` cannot turn the rest of the answer into math, and the pieces join
into exactly what :func:`math_markdown` makes of the whole text. This module renders nothing.
"""

from __future__ import annotations

import re

INLINE_MAX = 300  # characters an inline formula may hold; a lone "$" or "\(" decides within this many
PRICE_REACH = 40  # ...but a "$" before a digit ("$5") is a price unless its formula closes this soon
DISPLAY_MAX = 4000  # the same for display math
CODE_SPAN_MAX = 1000  # a backtick that opens no code span within this many characters is text

_SPECIAL = re.compile(r"[\\`$\n]")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_MAYBE_FENCE = re.compile(r" {0,3}(?:`{0,2}|~{0,2})")  # a line begun like this may still open a fence
_MAYBE_CLOSE = re.compile(r" {0,3}(?:`*|~*)[ \t]*")  # ...or close one
_BACKTICKS = re.compile(r"`+")
_DOLLARS = re.compile(r"\$+")
_TEX_TOKEN = re.compile(r"\\|\n|\$+")  # what matters while looking for the end of a formula
_TEX_SIGNAL = re.compile(r"\\[A-Za-z]|[\^_=+<>{}|]")  # a command or an operator: this is math
# Words: "\(see above\)" is an escaped parenthesis; "\(x, y\)", "\(ABC\)" and "\(log n\)" are math.
_PROSE = re.compile(r"[A-Za-z]{3,}[^A-Za-z]+[A-Za-z]{3,}")
_SPACES = re.compile(r"[ \t]*")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_HOLD = -1


def math_markdown(text: str, *, final: bool = True) -> str:
    """Answer markdown with its math in the dollar notation Streamlit renders, for drawing.

    ``final=False`` (a text still arriving) returns only the part already decided.
    """
    if "$" not in text and "\\(" not in text and "\\[" not in text:
        return text
    scan = _Scan(text, drawing=True)
    scan.run(final)
    return "".join(scan.out)


def export_markdown(text: str) -> str:
    """The same conversion for a Markdown file: math as ``$…$``/``$$…$$`` that other viewers render,
    its TeX untouched."""
    if "$" not in text and "\\(" not in text and "\\[" not in text:
        return text
    scan = _Scan(text, drawing=False)
    scan.run(True)
    return "".join(scan.out)


class MathStream:
    """:func:`math_markdown` for a block that arrives in pieces (st.write_stream only appends).

    ``feed`` returns what can be drawn now; ``flush`` ends the block (anything unterminated is text).
    """

    def __init__(self) -> None:
        self._scan = _Scan("", drawing=True)

    def feed(self, piece: str) -> str:
        self._scan.text += piece
        return self._take(final=False)

    def flush(self) -> str:
        out = self._take(final=True)
        self._scan = _Scan("", drawing=True)
        return out

    def _take(self, final: bool) -> str:
        self._scan.run(final)
        out = "".join(self._scan.out)
        self._scan.out.clear()
        return out


class _Scan:
    """A left-to-right pass that stops where the text so far cannot decide (unless ``final``)."""

    def __init__(self, text: str, *, drawing: bool) -> None:
        self.text = text
        self.drawing = drawing
        self.pos = 0
        self.fence: str | None = None  # the opening run of the fenced code block we are in
        self.out: list[str] = []
        self.final = False

    def run(self, final: bool) -> None:
        self.final = final
        while self.pos < len(self.text):
            at_line_start = self.pos == 0 or self.text[self.pos - 1] == "\n"
            if self.fence is not None:
                done = self._fenced(at_line_start)
            else:
                opened = self._fence_open() if at_line_start else None
                done = self._inline() if opened is None else opened
            if not done:
                return

    def _copy(self, end: int) -> None:
        self.out.append(self.text[self.pos:end])
        self.pos = end

    def _emit(self, text: str, pos: int) -> bool:
        self.out.append(text)
        self.pos = pos
        return True

    # Code: fenced blocks and code spans are copied as they are.

    def _fence_open(self) -> bool | None:
        """At a line start: True if a fence opened (line copied), False to wait, None if no fence."""
        t = self.text
        eol = t.find("\n", self.pos)
        line = t[self.pos:] if eol == -1 else t[self.pos:eol]
        opener = _FENCE.match(line)
        if eol == -1 and not self.final:
            return False if opener or _MAYBE_FENCE.fullmatch(line) else None
        if opener is None or (opener.group(1)[0] == "`" and "`" in line[opener.end():]):
            return None
        self.fence = opener.group(1)
        self._copy(len(t) if eol == -1 else eol + 1)
        return True

    def _fenced(self, at_line_start: bool) -> bool:
        t = self.text
        eol = t.find("\n", self.pos)
        end = len(t) if eol == -1 else eol + 1
        if at_line_start and self.fence is not None:
            line = t[self.pos:end].rstrip("\n")
            if eol == -1 and not self.final and _MAYBE_CLOSE.fullmatch(line):
                return False
            closer = _FENCE.match(line)
            if (eol != -1 or self.final) and closer and closer.group(1)[0] == self.fence[0] \
                    and len(closer.group(1)) >= len(self.fence) and not line[closer.end():].strip():
                self.fence = None
        self._copy(end)
        return True

    def _inline(self) -> bool:
        found = _SPECIAL.search(self.text, self.pos)
        if found is None:
            self._copy(len(self.text))
            return True
        self._copy(found.start())
        char = self.text[self.pos]
        if char == "\n":
            self._copy(self.pos + 1)
            return True
        if char == "`":
            return self._code_span()
        if char == "\\":
            return self._backslash()
        return self._dollars()

    def _code_span(self) -> bool:
        t, pos = self.text, self.pos
        run = _BACKTICKS.match(t, pos).end() - pos  # type: ignore[union-attr]
        if pos + run == len(t) and not self.final:
            return False
        limit = min(len(t), pos + run + CODE_SPAN_MAX)
        blank = _BLANK_LINE.search(t, pos + run, limit)  # a code span ends with its paragraph
        for found in _BACKTICKS.finditer(t, pos + run, blank.start() if blank else limit):
            if found.end() == len(t) and not self.final:
                return False  # the closing run may still grow
            if len(found.group()) == run and (found.end() < limit or found.end() == len(t)):
                self._copy(found.end())
                return True
        if blank is None and self._undecided(pos + run, limit, CODE_SPAN_MAX):
            return False
        self._copy(pos + run)  # no closing run: the backticks are text
        return True

    # Math.

    def _backslash(self) -> bool:
        t, pos = self.text, self.pos
        if pos + 1 == len(t):
            if not self.final:
                return False
            self._copy(pos + 1)
            return True
        if t[pos + 1] in "([":
            converted = self._bracketed(inline=t[pos + 1] == "(")
            if converted is not None:
                return converted
        self._copy(pos + 2)  # an escape pair (so "\$" and "\`" stay escapes), or a bracket that is not math
        return True

    def _bracketed(self, *, inline: bool) -> bool | None:
        r"""``\(…\)`` or ``\[…\]`` at pos: True if converted, False to wait, None if it is not math."""
        t, pos = self.text, self.pos
        if pos > 0 and (t[pos - 1].isalnum() or (not inline and t[pos - 1] == "!")):
            return None  # "file\(s\)", "a\[i\]", "!\[alt\]": brackets escaped in prose
        start = pos + 2
        cap = INLINE_MAX if inline else DISPLAY_MAX
        end = self._closing(start, "\\)" if inline else "\\]", cap)
        if end is None or end == _HOLD:
            return False if end == _HOLD else None
        body, after = t[start:end], end + 2
        if after == len(t) and not self.final:
            return False  # what follows decides: "\[text\](url)" is an escaped link; "$x$2" needs "$$"
        if not _looks_like_math(body, inline=inline) or (not inline and t[after:after + 1] == "("):
            return None
        if inline:
            return self._emit(self._inline_math(body.replace("\n", " ").strip(), after), after)
        return self._display(body, after)

    def _display(self, body: str, after: int) -> bool:
        t = self.text
        prefix = t[t.rfind("\n", 0, self.pos) + 1:self.pos]
        rest = _SPACES.match(t, after).end()  # type: ignore[union-attr]
        if rest == len(t) and not self.final and not prefix.strip(" \t>"):
            return False  # is the formula the last thing on its line?
        inner = self._tex(body.strip())
        if prefix.strip(" \t>") or (rest < len(t) and t[rest] != "\n"):
            shown = ("\\displaystyle " + inner) if self.drawing else inner  # a formula within a line
            return self._emit(self._inline_math(shown, after, double=True), after)
        fence = "$" * max(2, _longest_dollar_run(inner) + 1)
        return self._emit(f"{fence}\n{prefix}{inner}\n{prefix}{fence}", rest)

    def _dollars(self) -> bool:
        t, pos = self.text, self.pos
        run = _DOLLARS.match(t, pos).end() - pos  # type: ignore[union-attr]
        if pos + run == len(t) and not self.final:
            return False
        if run == 1:
            return self._dollar_inline()
        if run == 2:
            end = self._closing(pos + 2, "$$", DISPLAY_MAX)
            if end == _HOLD:
                return False
            if end is not None and t[pos + 2:end].strip():
                return self._emit(f"$${self._tex(t[pos + 2:end])}$$", end + 2)
        return self._emit("\\$" * run, pos + run)  # a price, or a dollar sign that opens nothing

    def _dollar_inline(self) -> bool:
        """``$…$`` by Pandoc's rule: no space after the opening dollar or before the closing one, the
        closing one not followed by a digit (so "$5 and $10" is two prices), and near if it opens on a digit."""
        t, pos = self.text, self.pos
        if pos + 1 < len(t) and not t[pos + 1].isspace():
            reach = PRICE_REACH if t[pos + 1].isdigit() else INLINE_MAX  # (so a price holds little back)
            end = self._closing(pos + 1, "$", reach, one_line=True)
            if end == _HOLD or (end is not None and end + 1 == len(t) and not self.final):
                return False
            if end is not None and not t[end - 1].isspace() and not t[end + 1:end + 2].isdigit():
                return self._emit(self._inline_math(t[pos + 1:end], end + 1), end + 1)
        return self._emit("\\$", pos + 1)

    def _closing(self, start: int, closer: str, cap: int, *, one_line: bool = False) -> int | None:
        """Where ``closer`` ends the formula begun at ``start``, None if nothing does, or ``_HOLD``.

        TeX's backslash pairs (``\\$``, ``\\\\``) are skipped; a formula never crosses a blank line.
        """
        t = self.text
        limit = min(len(t), start + cap)
        at = start
        while (token := _TEX_TOKEN.search(t, at, limit)) is not None:
            at = token.end()
            if token.group() == "\\":
                if at == len(t):
                    return None if self.final else _HOLD
                if t[token.start():at + 1] == closer:
                    return token.start()
                at += 1
            elif token.group() == "\n":
                if one_line:
                    return None
                blank = _SPACES.match(t, at).end()  # type: ignore[union-attr]
                if blank == len(t) and not self.final:
                    return _HOLD
                if blank < len(t) and t[blank] == "\n":
                    return None
            elif closer[0] == "$":
                if len(token.group()) >= len(closer):
                    return token.start()
                if token.end() == len(t) and not self.final:
                    return _HOLD  # "$" may yet become "$$"
        return _HOLD if self._undecided(start, limit, cap) else None

    def _undecided(self, start: int, limit: int, cap: int) -> bool:
        """Whether text still to come could change the answer for what began at ``start``."""
        return not self.final and limit - start < cap

    def _inline_math(self, body: str, after: int, *, double: bool = False) -> str:
        """``$body$``, with two dollars where one would not do: a dollar inside, or a digit after
        (Streamlit only switches math on for a "$x$" not followed by a digit)."""
        tex = self._tex(body)
        size = _longest_dollar_run(tex) + 1
        if double or size > 1 or self.text[after:after + 1].isdigit():
            size = max(size, 2)
        return f"{'$' * size}{tex}{'$' * size}"

    def _tex(self, body: str) -> str:
        return body.replace("<", "\\lt ") if self.drawing else body


def _looks_like_math(body: str, *, inline: bool) -> bool:
    text = body.strip()
    if not text:
        return False
    if _TEX_SIGNAL.search(text) or (not inline and "\n" in text):
        return True
    return inline and not _PROSE.search(text)


def _longest_dollar_run(text: str) -> int:
    return max((len(m.group()) for m in _DOLLARS.finditer(text)), default=0)
