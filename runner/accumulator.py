"""Turns a stream of provider events into one assistant turn.

Pure: no clock, no I/O. The runner feeds it events and reads ``fields()`` to
save the turn (partial or final); the page renders the same fields.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from providers.events import (
    AnsweredBy,
    Drift,
    Event,
    Finished,
    Image,
    Notice,
    ReasoningDelta,
    Source,
    Sources,
    StateUpdate,
    TextDelta,
    Title,
)

# Message status values stored with every message (storage checks the same set).
STREAMING = "streaming"
COMPLETE = "complete"
PARTIAL = "partial"  # stopped early by something outside the backend (a server restart)
ERROR = "error"
CANCELLED = "cancelled"

INTERRUPTED = "Interrupted: the server stopped while this reply was being written."
UNREADABLE = "Part of this answer could not be read."  # shown under an answer with Drift (issue 13)


@dataclass
class Accumulator:
    text: str = ""
    reasoning: str = ""
    reasoning_status: str | None = None
    sources: list[Source] = field(default_factory=list)
    title: str | None = None
    images: list[Image] = field(default_factory=list)
    images_b64: list[str | None] = field(default_factory=list)  # each image's bytes, encoded once on arrival
    answered_by: AnsweredBy | None = None
    notices: list[str] = field(default_factory=list)
    state: dict[str, Any] | None = None
    drift: Drift | None = None  # the first line of the answer that could not be read
    drift_count: int = 0
    finished: Finished | None = None

    def apply(self, event: Event) -> None:
        if self.finished is not None:
            raise ValueError(f"event after Finished: {event!r}")
        match event:
            case TextDelta(text=text, replace=True):
                self.text = text
            case TextDelta(text=text):
                self.text += text
            case ReasoningDelta(text=text, status=status):
                self.reasoning += text
                if status is not None:
                    self.reasoning_status = status
            case Sources(items=items):
                known = {s.url for s in self.sources}
                self.sources.extend(s for s in items if s.url not in known)
            case Title(title=title):
                self.title = title
            case Image():
                self.images.append(event)
                self.images_b64.append(base64.b64encode(event.data).decode() if event.data else None)
            case AnsweredBy():
                self.answered_by = event
            case Notice(text=text):
                self.notices.append(text)
            case StateUpdate(state=state):
                self.state = dict(state)
            case Drift():
                self.drift = self.drift or event
                self.drift_count += 1
            case Finished():
                self.finished = event

    @property
    def status(self) -> str:
        if self.finished is None:
            return STREAMING
        return {"stop": COMPLETE, "length": COMPLETE, "error": ERROR, "cancelled": CANCELLED}[self.finished.reason]

    @property
    def error_text(self) -> str | None:
        if self.finished is None:
            return None
        if self.finished.reason == "cancelled":
            return "Stopped before the answer was complete."
        if self.finished.error is not None:
            return self.finished.error.message or self.finished.error.exception
        if self.finished.reason == "error":
            return "The backend reported an error."
        return None

    def fields(self) -> dict[str, Any]:
        """The message columns this turn fills, for storage."""
        extra: dict[str, Any] = {}
        if self.sources:
            extra["sources"] = [{"url": s.url, "title": s.title} for s in self.sources]
        if self.title:
            extra["title"] = self.title
        if self.images:
            extra["images"] = [
                {"url": i.url, "mime": i.mime, "alt": i.alt} | ({"data_b64": data} if data else {})
                | ({"unavailable": i.unavailable} if i.unavailable else {})
                for i, data in zip(self.images, self.images_b64, strict=True)
            ]
        if self.answered_by:
            a = self.answered_by
            extra["answered_by"] = {"model": a.model, "route": a.route, "provider": a.provider}
        if self.notices:
            extra["notices"] = list(self.notices)
        if self.reasoning_status:
            extra["reasoning_status"] = self.reasoning_status
        if self.drift_count:  # the snippet goes to the Backends page (redacted), not into the message
            extra["unreadable"] = {"lines": self.drift_count, "note": UNREADABLE}
        if self.finished is not None and self.finished.usage:
            extra["usage"] = dict(self.finished.usage)
        return {
            "content": self.text,
            "reasoning": self.reasoning,
            "status": self.status,
            "finish_reason": self.finished.reason if self.finished else None,
            "error": self.error_text,
            "extra": extra,
        }
