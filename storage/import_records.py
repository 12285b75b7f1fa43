"""What both import formats share (a Chatdeck export, storage/transfer.py; a ChatGPT export, storage/chatgpt.py):
the records an import writes, its limits, the one error it raises, and the checked readers of its fields.

Both format modules import this one and neither imports the other's parser: transfer.py picks the format and
calls chatgpt.parse, so the dependency runs one way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from storage.repository import TITLE_MAX_CHARS

MAX_CONVERSATIONS = 10_000
MAX_MESSAGES = 200_000  # in one file
MAX_MESSAGES_PER_CONVERSATION = 10_000
MAX_TEXT_CHARS = 1_000_000  # per message


class ImportProblem(ValueError):
    """The file cannot be imported; the message says why in plain words. Nothing was changed."""


@dataclass
class NewMessage:
    role: str
    content: str
    created_at: datetime
    reasoning: str = ""
    provider: str | None = None
    model: str | None = None
    status: str = "complete"
    error: str | None = None
    finish_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    attachments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class NewConversation:
    id: str
    title: str
    provider: str
    model: str
    created_at: datetime
    updated_at: datetime
    pinned: bool = False
    archived: bool = False
    messages: list[NewMessage] = field(default_factory=list)
    system_prompt: str = ""


def check_counts(in_conversation: int, total: int, where: str) -> None:
    if in_conversation > MAX_MESSAGES_PER_CONVERSATION:
        raise ImportProblem(f"{where} has more than {MAX_MESSAGES_PER_CONVERSATION} messages.")
    if total > MAX_MESSAGES:
        raise ImportProblem(f"The file holds more than {MAX_MESSAGES} messages; import fewer at once.")


def text(value: Any, where: str, name: str, max_chars: int = TITLE_MAX_CHARS, *, required: bool = False) -> str:
    """A string field, checked: ``None`` is "" unless ``required``."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ImportProblem(f'{where}: "{name}" must be text.')
    if len(value) > max_chars:
        raise ImportProblem(f'{where}: "{name}" is longer than {max_chars} characters.')
    return value.replace("\x00", "")  # PostgreSQL text cannot hold NUL


def timestamp(value: Any, where: str) -> datetime:
    """An ISO 8601 time (or seconds since 1970), timezone-aware UTC; a naive time is taken as UTC."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            moment = datetime.fromtimestamp(value, UTC)
        elif isinstance(value, str) and len(value) <= 40:
            moment = datetime.fromisoformat(value)
        else:
            raise TypeError
    except (TypeError, ValueError, OverflowError, OSError):
        raise ImportProblem(f"{where}: a time is missing or is not a valid date and time.") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
