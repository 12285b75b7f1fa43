"""How much and how long one reply may take, for every backend alike (issue 14).

* **Reply cap**: answer and reasoning text *together* may hold at most ``max_chars`` characters
  (``CHATDECK_MAX_REPLY_CHARS``, default 1,000,000). The delta that crosses the cap is cut to fit, the
  backend's connection is closed, and the reply finishes as ``"length"`` with the note
  "Answer cut at N characters" (an ``ErrorInfo`` of kind "reply_cut" in ``Finished.error``; the status stays
  complete).
* **Idle deadline**: a reply ends with "no answer from X for N s" when no *content* (answer or reasoning
  text, sources, images) has arrived for ``idle`` seconds (``CHATDECK_IDLE_TIMEOUT``, default 120).
  Keep-alives, status lines and ids do not reset it, so a backend that only says "still here" is timed out.
* **Overall deadline**: a reply ends with "X took longer than N" after ``overall`` seconds
  (``CHATDECK_REPLY_TIMEOUT``, default 900), however busily it streams.

The runner (runner/runner.py) applies these in one place, between every provider and the run; a
provider's own HTTP timeouts still catch a backend that sends nothing at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from providers.errors import ProviderError, UnavailableError
from providers.events import (
    AnsweredBy,
    Drift,
    ErrorInfo,
    Event,
    Finished,
    Image,
    ReasoningDelta,
    Sources,
    StateUpdate,
    TextDelta,
    Title,
)

MAX_REPLY_CHARS = 1_000_000
IDLE_TIMEOUT = 120.0
REPLY_TIMEOUT = 900.0


@dataclass(frozen=True)
class Bounds:
    max_chars: int = MAX_REPLY_CHARS
    idle: float = IDLE_TIMEOUT
    overall: float = REPLY_TIMEOUT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Bounds:
        """The bounds this server is configured with (unset or empty variables keep the defaults)."""
        return cls(
            max_chars=int(environ.get("CHATDECK_MAX_REPLY_CHARS") or MAX_REPLY_CHARS),
            idle=float(environ.get("CHATDECK_IDLE_TIMEOUT") or IDLE_TIMEOUT),
            overall=float(environ.get("CHATDECK_REPLY_TIMEOUT") or REPLY_TIMEOUT),
        )

    def idle_error(self, backend: str) -> UnavailableError:
        return UnavailableError(f"no answer from {backend} for {duration(self.idle)}", backend=backend)

    def overall_error(self, backend: str) -> ProviderError:
        return ProviderError(f"{backend} took longer than {duration(self.overall)} to answer", backend=backend)


def duration(seconds: float) -> str:
    """``90 s``, ``15 min``: how a person would say a configured time."""
    if seconds >= 120 and seconds % 60 == 0:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:g} s"


def is_content(event: Event) -> bool:
    """Whether ``event`` is something of the answer itself (what resets the idle deadline)."""
    match event:
        case TextDelta(text=text, replace=replace):
            return bool(text) or replace
        case ReasoningDelta(text=text):
            return bool(text)
        case Sources() | Image():
            return True
    return False


class ReplyCap:
    """Counts the characters a reply holds and cuts what crosses the cap.

    Answer and reasoning text count together. The small events around them (sources, titles, status
    lines, ids, unreadable-line marks) have a budget of their own (the cap, and never less than the
    default cap, so a small cap never starves them), so a backend that floods those instead of text is
    bounded as well: once they fill it, the reply ends like a full one.
    """

    def __init__(self, limit: int, other_limit: int | None = None) -> None:
        self.limit = limit
        self.other_limit = max(limit, MAX_REPLY_CHARS) if other_limit is None else other_limit
        self.text = 0
        self.reasoning = 0
        self.other = 0

    def admit(self, event: Event) -> tuple[Event | None, bool]:
        """``event`` as it may be kept (cut to fit, or None when nothing of it fits) and whether the cap is reached.

        A delta that exactly fills the cap is not yet "reached": the answer may end right there.
        """
        match event:
            case TextDelta(text=text, replace=True):
                room = max(0, self.limit - self.reasoning)
                self.text = min(len(text), room)
                return TextDelta(text[:room], replace=True), len(text) > room
            case TextDelta(text=text):
                kept, full = self._take(text)
                self.text += len(kept)
                return (TextDelta(kept) if kept else None), full
            case ReasoningDelta(text=text, status=status) if text:
                kept, full = self._take(text)
                self.reasoning += len(kept)
                return (ReasoningDelta(kept, status) if kept or status else None), full
            case Finished():
                return event, False
        size = _size(event)
        if self.other + size > self.other_limit:
            return None, True
        self.other += size
        return event, False

    def _take(self, text: str) -> tuple[str, bool]:
        room = max(0, self.limit - self.text - self.reasoning)
        return text[:room], len(text) > room

    def note(self) -> ErrorInfo:
        """The note on a reply stopped at the cap (carried by ``Finished("length")``, shown under the answer)."""
        return ErrorInfo("reply_cut", f"Answer cut at {self.limit:,} characters (this server's limit for one reply).")


def _size(event: Event) -> int:
    """The characters an event other than answer or reasoning text brings (an image's bytes are not counted)."""
    match event:
        case ReasoningDelta(status=status):
            return len(status or "")
        case Sources(items=items):
            return sum(len(source.url) + len(source.title) for source in items)
        case Image(url=url, mime=mime, alt=alt):
            return len(url) + len(mime) + len(alt)
        case Drift(what=what, snippet=snippet):
            return len(what) + len(snippet)
        case Title(title=title):
            return len(title)
        case AnsweredBy(model=model, route=route, provider=provider):
            return len(model) + len(route) + len(provider)
        case StateUpdate(state=state):
            return len(repr(dict(state)))
    return 0
