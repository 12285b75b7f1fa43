r"""Math in answers (markup/math_markdown.py), through the functions the pages draw with.

A table of answers and the markdown Streamlit gets for them: each notation, mixed, inside code, prices,
brackets escaped in prose, and unterminated delimiters. The same table is streamed piece by piece the
way live_text feeds it (one character at a time, and in uneven pieces): the pieces join into exactly
the stored rendering, and nothing is sent that a later piece would have to take back.
"""

from __future__ import annotations

import random

import pytest

from markup import math_markdown as mm
from markup.math_markdown import MathStream, export_markdown, math_markdown
from views.components import block_markdown
from views.live_text import reasoning_markdown

# (answer as received, markdown drawn for it)
TABLE = [
    # the notations
    (r"Euler: \(e^{i\pi} + 1 = 0\).", r"Euler: $e^{i\pi} + 1 = 0$."),
    (r"where \( x \) is the input", r"where $x$ is the input"),
    (r"triangle \(ABC\), \(log n\) steps, the point \(x, y\)", r"triangle $ABC$, $log n$ steps, the point $x, y$"),
    ("The formula:\n\\[\nE = mc^2\n\\]\nwhere", "The formula:\n$$\nE = mc^2\n$$\nwhere"),
    ("\\[ a^2 + b^2 = c^2 \\]", "$$\na^2 + b^2 = c^2\n$$"),
    ("so \\[x^2\\] holds", "so $$\\displaystyle x^2$$ holds"),  # display math inside a line
    ("- item\n  \\[\n  a^2\n  \\]\n  after", "- item\n  $$\n  a^2\n  $$\n  after"),  # in a list item
    ("> \\[ a_1 \\]\n> quoted", "> $$\n> a_1\n> $$\n> quoted"),  # in a block quote
    ("$x^2$ and $$\\sum_i i$$", "$x^2$ and $$\\sum_i i$$"),
    ("$$\nE = mc^2\n$$", "$$\nE = mc^2\n$$"),
    # mixed, and math with prices around it
    (r"both \(a\) and $b$ and \[c^2\]", r"both $a$ and $b$ and $$\displaystyle c^2$$"),
    (r"mixed \(x^2\) and it costs $5 and $10", r"mixed $x^2$ and it costs \$5 and \$10"),
    # prices
    ("it costs $5 and $10", r"it costs \$5 and \$10"),
    ("from $5-$10 a month", r"from \$5-\$10 a month"),
    ("$2 \\times 3 = 6$ but $5 for" + " " * 40 + "this$", "$2 \\times 3 = 6$ but \\$5 for" + " " * 40 + "this\\$"),
    ("$ 5 $", r"\$ 5 \$"),
    ("US$100, or $", r"US\$100, or \$"),
    (r"already escaped \$5", r"already escaped \$5"),
    ("$$ alone", r"\$\$ alone"),
    ("$$$x$$$", r"\$\$\$x\$\$\$"),
    # inside code: untouched
    ("`\\(x\\)` and `$5 and $x$`", "`\\(x\\)` and `$5 and $x$`"),
    ("```\n\\(x\\) costs $5\n```\nafter \\(y\\)", "```\n\\(x\\) costs $5\n```\nafter $y$"),
    ("~~~tex\n\\[x\\]\n~~~", "~~~tex\n\\[x\\]\n~~~"),
    ("``code with ` and \\(x\\)``", "``code with ` and \\(x\\)``"),
    ("an unclosed ` then \\(x\\)", "an unclosed ` then $x$"),
    # backslash-escaped brackets that are not math
    (r"see \[1\] and \[2\]", r"see \[1\] and \[2\]"),
    (r"\[link text\](http://example.org)", r"\[link text\](http://example.org)"),
    (r"array a\[i\] and file\(s\)", r"array a\[i\] and file\(s\)"),
    (r"an aside \(see above\)", r"an aside \(see above\)"),
    (r"!\[alt\](x.png)", r"!\[alt\](x.png)"),
    (r"a literal \\(x\\)", r"a literal \\(x\\)"),  # an escaped backslash, then a parenthesis
    # unterminated (as a finished answer: the delimiter is text)
    (r"unterminated \(x + y", r"unterminated \(x + y"),
    ("unterminated \\[x^2\n\nnext paragraph \\]", "unterminated \\[x^2\n\nnext paragraph \\]"),
    ("unterminated $x and more", r"unterminated \$x and more"),
    ("unterminated $$\nE", "unterminated \\$\\$\nE"),
    # what KaTeX and the safety layer need
    (r"\(a<b\)", r"$a\lt b$"),
    (r"\(x\)2", "$$x$$2"),  # Streamlit reads "$x$2" as a price
    (r"\(\text{costs \$5}\)", r"$$\text{costs \$5}$$"),  # a dollar inside: one "$" would end too early
    ("no math at all", "no math at all"),
]


@pytest.mark.parametrize(("answer", "expected"), TABLE)
def test_stored_answers_are_drawn_with_their_math(answer: str, expected: str) -> None:
    assert block_markdown(answer) == expected


def _streamed(answer: str, sizes: list[int]) -> tuple[str, list[str]]:
    stream, sent, at, i = MathStream(), [], 0, 0
    while at < len(answer):
        size = sizes[i % len(sizes)]
        sent.append(stream.feed(answer[at:at + size]))
        at, i = at + size, i + 1
    sent.append(stream.flush())
    return "".join(sent), sent


@pytest.mark.parametrize(("answer", "expected"), TABLE)
def test_streamed_answers_join_into_the_stored_rendering(answer: str, expected: str) -> None:
    for sizes in ([1], [2, 5, 1], [3], [7, 1, 1, 4]):
        joined, _ = _streamed(answer, sizes)
        assert joined == math_markdown(answer), sizes
    assert math_markdown(answer) == block_markdown(answer)  # nothing in the table is touched by safe_markdown


def test_an_unterminated_formula_is_held_back_until_it_closes() -> None:
    """While ``\\(`` waits for its ``\\)`` nothing of it is drawn (so the rest cannot jump or turn into math)."""
    stream = MathStream()
    assert stream.feed("Before \\(x +") == "Before "
    assert stream.feed(" y") == ""
    assert stream.feed("\\) after, it costs $5") == "$x + y$ after, it costs "
    assert stream.feed(" and more") == ""  # "$5 and more$" would still be a formula...
    assert stream.feed(" " * mm.PRICE_REACH) == "\\$5 and more" + " " * mm.PRICE_REACH  # ...but not this far


def test_an_unterminated_formula_is_released_as_text_at_a_blank_line_or_the_limit() -> None:
    stream = MathStream()
    assert stream.feed("open \\(x") == "open "
    assert stream.feed("\n\nnext") == "\\(x\n\nnext"
    stream = MathStream()
    assert stream.feed("a $") == "a "
    assert stream.feed("x" * (mm.INLINE_MAX + 1)) == "\\$" + "x" * (mm.INLINE_MAX + 1)
    assert stream.flush() == ""


def test_random_texts_stream_into_the_stored_rendering() -> None:
    """Fragments of every construct in random order and random pieces: never a different result."""
    fragments = ["a", " ", "\n", "\n\n", "$", "$$", "\\(", "\\)", "\\[", "\\]", "`", "```", "~~~", "x^2", "5",
                 "(", "\\", "<b", "  ", ">", "!"]
    rng = random.Random(20)
    for _ in range(1500):
        answer = "".join(rng.choice(fragments) for _ in range(rng.randint(0, 40)))
        joined, _ = _streamed(answer, [rng.randint(1, 6) for _ in range(5)])
        assert joined == math_markdown(answer), repr(answer)


def test_reasoning_is_drawn_with_its_math_and_holds_an_open_formula_while_live() -> None:
    assert reasoning_markdown("so \\(x\\)", "Done.") == "so $x$\n\n*Done\\.*"
    assert reasoning_markdown("so \\(x", None, final=False) == "so "
    assert reasoning_markdown("so \\(x", None) == "so \\(x"


def test_export_keeps_the_tex_and_writes_dollars() -> None:
    assert export_markdown(r"\(a<b\) and so \[x^2\] and $5") == r"$a<b$ and so $$x^2$$ and \$5"
    assert export_markdown("\\[\nE = mc^2\n\\]") == "$$\nE = mc^2\n$$"
    assert export_markdown("plain") == "plain"
