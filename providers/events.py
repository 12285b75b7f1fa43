"""The values that cross the provider boundary: requests in, events out.

Everything here is a frozen dataclass holding plain data, so a request can be
built by the runner, a test or a benchmark alike, and an event stream can be
recorded, compared and replayed. Ids that belong to Chatdeck (conversation,
message, user) never appear here; only the backend's own ids do, inside
``state`` mappings.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
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


ErrorKind = Literal[
    "credentials",  # missing, expired or rejected login (CredentialsError)
    "http_status",  # the backend answered with an error status (HTTPStatusError)
    "request",  # ... about this one request (RequestError)
    "unknown_model",  # ... which named a model the server does not have (UnknownModelError)
    "unavailable",  # unreachable, timed out, overloaded, no answer in time (UnavailableError)
    "unexpected_response",  # an answer of a shape the client does not know (UnexpectedResponseError)
    "provider",  # any other ProviderError
    "internal",  # not a ProviderError: something failed inside Chatdeck
    "reply_cut",  # the note on a reply stopped at the reply cap (with Finished("length"))
]


@dataclass(frozen=True)
class ErrorInfo:
    """Why a reply failed (or was cut), as plain data: what the runner, health, pages and HTTP answers read.

    Built from a provider's exception in one place (``providers.errors.error_info``), after the provider's
    login values were removed from it. ``status`` is set for the HTTP kinds only (http_status, request,
    unknown_model); ``retry_after`` (seconds) for a 429 that said when to retry; ``snippet`` for an
    unexpected response; ``about_backend`` is false when the error concerns the request, not the backend's
    health. ``exception`` names the class it was made from (for logs and tests; no reader branches on it).
    ``str()`` of a record is its message, as it was of the exception.
    """

    kind: ErrorKind
    message: str
    exception: str = ""
    backend: str = ""
    status: int | None = None
    retry_after: float | None = None
    snippet: str = ""
    about_backend: bool = True

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Finished:
    """Always the last event of a stream, exactly once."""

    reason: FinishReason
    error: ErrorInfo | None = None
    usage: Mapping[str, int] | None = None


Event = TextDelta | ReasoningDelta | Sources | Title | Image | AnsweredBy | Notice | StateUpdate | Drift | Finished


# --- events as records ------------------------------------------------------------
#
# Every event becomes a plain JSON-able dict with a ``kind`` field, and back, exactly:
# ``from_record(to_record(e)) == e``. The rules: tuples become lists, mappings dicts; an image's bytes
# become base64 text under ``data_b64`` (absent when the image has no data); a Finished's error is its
# ErrorInfo's fields as a dict (or None). StateUpdate.state and Finished.usage must hold JSON values,
# as they do when stored.

KINDS: dict[str, type[Any]] = {
    "text": TextDelta, "reasoning": ReasoningDelta, "sources": Sources, "title": Title, "image": Image,
    "answered_by": AnsweredBy, "notice": Notice, "state": StateUpdate, "drift": Drift, "finished": Finished,
}
_KIND_OF = {cls: kind for kind, cls in KINDS.items()}


def to_record(event: Event) -> dict[str, Any]:
    """``event`` as a plain JSON-able dict with a ``kind`` field (the rules above)."""
    record: dict[str, Any] = {"kind": _KIND_OF[type(event)]}
    match event:
        case Sources(items=items):
            record["items"] = [{"url": s.url, "title": s.title} for s in items]
        case Image(url=url, mime=mime, alt=alt, data=data, unavailable=unavailable):
            record |= {"url": url, "mime": mime, "alt": alt, "unavailable": unavailable}
            if data is not None:
                record["data_b64"] = base64.b64encode(data).decode()
        case StateUpdate(state=state):
            record["state"] = dict(state)
        case Finished(reason=reason, error=error, usage=usage):
            record["reason"] = reason
            record["error"] = None if error is None else asdict(error)
            record["usage"] = None if usage is None else dict(usage)
        case _:
            record |= vars(event)  # the other events hold only strings, booleans and None
    return record


def from_record(record: Mapping[str, Any]) -> Event:
    """The event a :func:`to_record` dict stands for; KeyError or TypeError for a record of no known shape."""
    fields = {key: value for key, value in record.items() if key != "kind"}
    cls = KINDS[record["kind"]]
    if cls is Sources:
        return Sources(tuple(Source(**item) for item in fields["items"]))
    if cls is Image:
        data_b64 = fields.pop("data_b64", None)
        return Image(**fields, data=None if data_b64 is None else base64.b64decode(data_b64))
    if cls is Finished:
        error = fields["error"]
        return Finished(fields["reason"], error=None if error is None else ErrorInfo(**error),
                        usage=fields["usage"])
    event: Event = cls(**fields)
    return event
