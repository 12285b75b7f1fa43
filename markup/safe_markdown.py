"""Making text from outside (backends, uploads, imports, admins' URLs) safe to draw as Streamlit markdown.

A markdown image in an answer is fetched by the browser the moment it is drawn, so a backend (or a
prompt injection in what it read) could send the conversation to any host without a click. Three
pure functions close that, and every page draws outside text through one of them:

* ``outside_markdown``: markdown that is meant to be formatted (answers, reasoning): every image that
  is not a ``data:`` image becomes a link naming its host (or, where that cannot be done reliably,
  a ``!`` followed by a plain link), and raw HTML tags are broken so they can only ever be text;
* ``plain``: text that is not markdown at all (titles, model names, captions, file names, error
  text): every markdown character is escaped, so it shows literally, widget labels included;
* ``source_link``: a link from a title and a URL: http/https only, encoded so it cannot break out.

Security does not depend on guessing the markdown parser's view of code blocks: an image needs the
two characters ``![`` side by side, and no ``![`` survives except a ``data:`` image whose whole
syntax was matched strictly. Code detection here only decides cosmetics (an invisible zero-width
space instead of a rewritten link inside code). Streamlit itself shows raw HTML as text unless
``unsafe_allow_html`` is on, which Chatdeck never does for outside text; breaking tags is a second
fence. This module renders nothing.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from urllib.parse import quote, urlsplit

ZWSP = "\u200b"  # invisible: separates characters that would otherwise form markdown syntax
CODE_SPAN_LINE_MAX = 2000  # longer lines get no inline-code detection (it is cosmetic, see _CodeRanges)
IMAGE_MARK = "\U0001f5bc\ufe0f"  # the framed-picture emoji, before a link that was an image

# A data: image kept as an image: its alt text holds nothing that could make the parser read the
# brackets differently (brackets, backslash escapes, code spans, HTML), its URL ends at the first ")".
_DATA_IMAGE = re.compile(r"!\[[^\[\]\\`<>\n]*\]\(data:image/[\w.+-]+(?:;[\w=.+-]+)*,[\w+/=%.-]*\)")
# An inline image whose alt and URL are simple enough to rewrite as a link naming its host.
_INLINE_IMAGE = re.compile(r'!\[([^\[\]\\`<>\n]*)\]\([ \t]*<?([^\s()<>\\`\[\]"]+)>?(?:[ \t]+"[^"\\\n]*")?[ \t]*\)')
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")  # a tag, comment, declaration or autolink could start here
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)[^`].*?\1")
# The ASCII punctuation that means something to Streamlit's markdown (CommonMark, GFM, math, directives,
# entities); quotes, "?", "/", "@", "%" and the like are left as they are, so widget values read naturally.
_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=^])")
_URL_SAFE = ":/?#@$&*+,;=%~-._"  # kept as they are; everything else (quotes, parens, brackets) is encoded
_NETLOC = re.compile(r"(?:[\w.~%!$&'*+,;=:-]+@)?(?:[A-Za-z0-9._~%-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")


def outside_markdown(text: str) -> str:
    """Markdown from outside, with remote images made into links and HTML tags broken.

    Safe on any prefix of a streamed answer as well: an image still being written cannot
    become an image once its closing ``)`` arrives, because each update is sanitised whole.
    """
    if "![" not in text and "<" not in text:
        return text
    broken = _break_html(text, _CodeRanges(text))
    return _neutralise_images(broken, _CodeRanges(broken))  # (an invisible space moves no code boundary)


def plain(text: str | None, *, one_line: bool = True) -> str:
    """Text shown literally in any markdown place (st.markdown, captions, alerts, widget labels).

    ``one_line`` folds line breaks into spaces (titles, names); otherwise they are kept as hard breaks.
    """
    value = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    escaped = _PUNCTUATION.sub(r"\\\1", value)
    if one_line:
        return " ".join(escaped.split("\n"))
    return "  \n".join(escaped.split("\n"))


def safe_url(url: str | None) -> str | None:
    """``url`` encoded for a markdown link if it is a plain http(s) URL with a host, else None."""
    if not url or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return None
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or not _NETLOC.fullmatch(parts.netloc):
        return None
    rest = url[len(parts.scheme) + 3 + len(parts.netloc):]
    return f"{parts.scheme}://{quote(parts.netloc, safe=':@[]%')}{quote(rest, safe=_URL_SAFE)}"


def host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def source_link(title: str | None, url: str | None) -> str:
    """A source as a markdown link, or as plain text when its URL is not a plain http(s) URL."""
    label = plain(title or url or "source")
    target = safe_url(url)
    if target is None:
        return label
    return f"[{label}]({target})"


def _neutralise_images(text: str, code: _CodeRanges) -> str:
    out: list[str] = []
    pos = 0
    for found in re.finditer(r"!\[", text):
        start = found.start()
        if start < pos:  # inside an image already rewritten
            continue
        out.append(text[pos:start])
        if kept := _DATA_IMAGE.match(text, start):
            out.append(kept.group())
            pos = kept.end()
            continue
        inline = None if start in code else _INLINE_IMAGE.match(text, start)
        if inline is not None:
            out.append(_image_link(inline.group(1), inline.group(2)))
            pos = inline.end()
            continue
        out.append("!" + ZWSP + "[")  # reference-style images, odd syntax, code: only the image is undone
        pos = start + 2
    out.append(text[pos:])
    return "".join(out)


def _image_link(alt: str, url: str) -> str:
    """What an inline remote image becomes: a link that names the host (nothing is loaded until clicked)."""
    label = plain(alt.strip() or "image")
    url = url.replace(ZWSP, "")  # "<url>": the tag breaker has been through it
    target = safe_url(url)
    if target is None:
        return f"{IMAGE_MARK} {label} (image not shown)"
    return f"{IMAGE_MARK} [{label} (image from {plain(host_of(url))})]({target})"


def _break_html(text: str, code: _CodeRanges) -> str:
    return _HTML_START.sub(lambda m: m.group() if m.start() in code else "<" + ZWSP, text)


class _CodeRanges:
    """Where a text is probably code (fenced blocks, one-line code spans), as sorted ranges: cosmetic only."""

    def __init__(self, text: str) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        if "`" not in text and "~~~" not in text:
            return
        offset = 0
        fence: str | None = None
        for line in text.split("\n"):
            end = offset + len(line)
            opener = _FENCE.match(line)
            if fence is not None:
                self._add(offset, end + 1)
                if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence) \
                        and not line[opener.end():].strip():
                    fence = None
            elif opener and not (opener.group(1)[0] == "`" and "`" in line[opener.end():]):
                fence = opener.group(1)
                self._add(offset, end + 1)
            elif len(line) <= CODE_SPAN_LINE_MAX:  # (a lazy match with a back-reference: up to length squared)
                for span in _CODE_SPAN.finditer(line):
                    self._add(offset + span.start(), offset + span.end())
            offset = end + 1

    def _add(self, start: int, end: int) -> None:
        self.starts.append(start)
        self.ends.append(end)

    def __contains__(self, index: int) -> bool:
        at = bisect_right(self.starts, index) - 1
        return at >= 0 and index < self.ends[at]


class StreamNeutraliser:
    """``outside_markdown``'s guarantee for text drawn while it streams in (st.write_stream appends pieces).

    The rewrite must be prefix-stable: what was sent is never taken back, so only the two-character
    rules apply (``![`` and ``<`` + letter get an invisible space between). A piece ending in ``!`` or
    ``<`` is held back until the next character shows whether it starts an image or a tag. The
    stored answer, drawn once the reply is over, gets the full ``outside_markdown`` treatment.
    """

    def __init__(self) -> None:
        self.held = ""

    def feed(self, piece: str) -> str:
        out = _STREAM_RULE.sub(lambda m: m.group(1) + ZWSP, self.held + piece)
        # A final "!" or "<" has not been judged yet (the rule looks one character ahead): hold it back.
        cut = len(out) - 1 if out.endswith(("!", "<")) else len(out)
        self.held = out[cut:]
        return out[:cut]

    def flush(self) -> str:
        held, self.held = self.held, ""
        return held


_STREAM_RULE = re.compile(r"(!(?=\[)|<(?=[A-Za-z/!?]))")
