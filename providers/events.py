"""The values that cross the provider boundary: requests in, events out.

Everything here is a frozen dataclass holding plain data, so a request can be
built by the runner, a test or a benchmark alike, and an event stream can be
recorded, compared and replayed. Ids that belong to Chatdeck (conversation,
message, user) never appear here; only the backend's own ids do, inside
``state`` mappings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "error", "cancelled"]


@dataclass(frozen=True)
class Attachment:
    """A file the user attached to a message (images for vision models)."""

    name: str
    mime: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Options:
    """Sampling options; ``None`` means "the backend's default"."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    tool_servers: tuple[str, ...] = ()  # the backend's tool servers (MCP) the model may use, by name


@dataclass(frozen=True)
class ChatRequest:
    """One turn: the whole visible history (last item is the new user message),
    the options, and the backend state saved after the previous turn with this
    backend and model (empty on a first turn). ``system`` is the conversation's system prompt ("" for
    none): each backend sends it the way its protocol allows (``BackendInfo.system_prompt``), never as a
    message in ``messages``."""

    model: str
    messages: tuple[ChatMessage, ...]
    options: Options = Options()
    state: Mapping[str, Any] = field(default_factory=dict)
    system: str = ""


# --- events -----------------------------------------------------------------


@dataclass(frozen=True)
class TextDelta:
    """More answer text. With ``replace`` the backend rewrote its answer: ``text`` is the whole
    answer so far and replaces everything before it (rare; backends that resend cumulative text)."""

    text: str
    replace: bool = False


@dataclass(frozen=True)
class ReasoningDelta:
    """Reasoning ("thinking") text, or a status line about the reasoning."""

    text: str = ""
    status: str | None = None


@dataclass(frozen=True)
class Source:
    url: str
    title: str = ""


@dataclass(frozen=True)
class Sources:
    items: tuple[Source, ...]


@dataclass(frozen=True)
class Title:
    title: str


@dataclass(frozen=True)
class Image:
    """An image the backend generated. ``data`` is filled once downloaded; ``unavailable`` says why an
    image has no data although the backend sent some (refused at Chatdeck's image door)."""

    url: str
    mime: str = ""
    alt: str = ""
    data: bytes | None = field(default=None, repr=False)
    unavailable: str = ""


@dataclass(frozen=True)
class AnsweredBy:
    """Which model actually answered, when the backend's router picked one."""

    model: str
    route: str = ""
    provider: str = ""


@dataclass(frozen=True)
class Notice:
    """A quiet note for the user about how this reply came about (shown under it, not an error): e.g. the
    backend lost its side of the conversation and a new one was started with the history."""

    text: str


@dataclass(frozen=True)
class StateUpdate:
    """Backend ids to persist for the next turn (replaces the saved state)."""

    state: Mapping[str, Any]


@dataclass(frozen=True)
class Drift:
    """A line of the stream could not be read (not JSON, not UTF-8, over the line-size cap).

    Every backend handles it the same way (issue 13): the provider keeps reading and keeps all text it
    understood; the answer is marked "part of this answer could not be read" and the Backends page
    shows ``snippet`` (the start of the line, redacted before it is stored) for a bug report.
    A well-formed line of a kind the provider does not know is no drift: it is skipped silently.
    """

    what: str
    snippet: str = ""


@dataclass(frozen=True)
class Finished:
    """Always the last event of a stream, exactly once."""

    reason: FinishReason
    error: Exception | None = None
    usage: Mapping[str, int] | None = None


Event = TextDelta | ReasoningDelta | Sources | Title | Image | AnsweredBy | Notice | StateUpdate | Drift | Finished
