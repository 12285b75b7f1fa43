"""What every backend module provides, and the pieces two or more of them share."""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import httpx

from providers.errors import (
    ProviderError,
    error_info,
    info_without_secrets,
    redact_secrets,
    transport_errors,
    without_secrets,
)
from providers.events import Attachment, ChatMessage, ChatRequest, Drift, Event, Finished
from providers.lines import LineTally, capped_lines

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=10.0)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verified TLS context for the process: loading the CA bundle costs tens of milliseconds."""
    return httpx.create_ssl_context()


def new_client(timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> httpx.AsyncClient:
    """A client for one call (backends with a login get no shared client, so cookies never mix).

    It reuses the process's TLS context, so building it costs a millisecond, not a CA-bundle load.
    """
    return httpx.AsyncClient(timeout=timeout, verify=tls_context())


@dataclass(frozen=True)
class ModelInfo:
    id: str
    name: str = ""
    vision: bool = False
    reasoning: bool = False

    @property
    def label(self) -> str:
        return self.name or self.id


class Provider(Protocol):
    """One backend. ``stream`` never raises: errors arrive as ``Finished(reason="error")``.

    A provider with a login also has ``secrets``: the login values it sends, which no error it reports
    (from ``stream``, ``list_models`` or ``check``) may contain.
    """

    name: str

    def stream(self, request: ChatRequest) -> AsyncIterator[Event]: ...

    async def list_models(self) -> list[ModelInfo]: ...


async def guarded(
    backend: str, events: AsyncIterator[Event], secrets: Iterable[str] = ()
) -> AsyncIterator[Event]:
    """Wrap a provider's raw event generator so the contract holds.

    The raw generator may raise ProviderError (or an httpx transport error);
    it may end without a Finished event. The wrapped stream ends with exactly
    one Finished, carrying the error's record (``ErrorInfo``) when there was one, without ``secrets``
    (the provider's login values) even where the backend's own words repeated
    them (a Drift's snippet too). Events after a Finished from the raw generator are a bug and are dropped.
    """
    finished: Finished | None = None
    secrets = tuple(secrets)
    try:
        async with transport_errors(backend):
            async for event in events:
                if isinstance(event, Finished):
                    if event.error is not None:
                        event = replace(event, error=info_without_secrets(event.error, secrets))
                    finished = event
                    break
                if isinstance(event, Drift) and secrets:
                    event = Drift(event.what, redact_secrets(event.snippet, secrets))
                yield event
    except ProviderError as exc:
        if not exc.backend:
            exc.backend = backend
        finished = Finished("error", error=error_info(without_secrets(exc, secrets)))  # the record, once scrubbed
    finally:
        await events.aclose()  # type: ignore[attr-defined]
    yield finished or Finished("stop")


class JsonLines:
    """Reads a JSON-lines body: one object per ``\\n``-terminated line, each line's size capped.

    ``lines()`` yields ``(line_number, object)``; blank lines are skipped. A line that cannot be read
    (not UTF-8 JSON, not an object, longer than ``providers.lines.MAX_LINE_BYTES``) is yielded as
    ``(line_number, Drift)`` for the provider to pass on: reading goes on (the drift policy in
    providers/lines.py). A body whose every line was unreadable raises UnexpectedResponseError at its end.
    """

    def __init__(self, backend: str, *, limit: int | None = None) -> None:
        self.backend = backend
        self.limit = limit
        self.tally = LineTally(backend)

    async def lines(self, byte_chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[int, dict[str, Any] | Drift]]:
        number = 0
        async for raw in capped_lines(byte_chunks, self.limit):
            number += 1
            if isinstance(raw, Drift):
                yield number, self.tally.drift(raw)
            elif raw.strip():
                yield number, self.tally.json_object(raw)
        self.tally.check_end()


@dataclass(frozen=True)
class CredentialField:
    """One value a user pastes in Settings to log in to a backend."""

    name: str  # key in the credentials mapping the provider receives
    label: str
    env: str  # the environment variable that sets it for the whole server
    help: str = ""
    multiline: bool = False


@dataclass
class BackendInfo:
    """What the registry knows of a backend, without talking to it."""

    name: str
    display_name: str
    needs_credentials: bool
    fallback_models: list[ModelInfo]
    aliases: dict[str, str] = field(default_factory=dict)
    status: str = "working"  # working | experimental | disabled
    description: str = ""
    credential_fields: tuple[CredentialField, ...] = ()
    setup_help: str = ""  # where a user finds the credential values (Markdown)
    tool_servers: bool = False  # the backend lists tool servers (MCP) a request may select: Options.tool_servers
    # How a conversation's system prompt (ChatRequest.system) reaches the backend, one of SYSTEM_PROMPT_WAYS:
    # "message" (a system message in every request), "preprompt" (the backend's own per-conversation system
    # prompt, set when its conversation is created), "prepended" (no such thing in the protocol: the text goes
    # before the first prompt of the backend's chat as a "System:" line).
    system_prompt: str = "prepended"
    # Whether a conversation's saved backend state may be copied into another user's conversation ("continue as
    # my copy"). Not for backends whose ids belong to the login or anonymous id that created them (Ai2 threads,
    # HuggingChat and HailuoAI chats): a copy sends the history as its first turn instead. The OpenAI-compatible
    # backends keep no ids at all (only the model), so theirs may travel.
    state_travels: bool = False

    @property
    def system_prompt_help(self) -> str:
        """How this backend receives a system prompt, in words for the UI."""
        return SYSTEM_PROMPT_WAYS.get(self.system_prompt, SYSTEM_PROMPT_WAYS["prepended"])

    def resolve_model(self, model: str) -> str:
        return self.aliases.get(model, model)

    def server_credentials(self) -> dict[str, str] | None:
        """The whole server's login from the environment, when every value is set."""
        values = {f.name: os.environ.get(f.env, "").strip() for f in self.credential_fields}
        return values if values and all(values.values()) else None


SYSTEM_PROMPT_WAYS = {
    "message": "sent as a system message with every request",
    "preprompt": "set as the backend conversation's own system prompt when Chatdeck creates it",
    "prepended": "this backend has no system prompt: it is put before the first message of each new backend "
                 "chat, marked \"System:\"",
}


# --- prompt formatting as the seeds do it (web-backends.md §4.1, §4.2) -------------


def with_system(messages: tuple[ChatMessage, ...] | list[ChatMessage], system: str) -> list[ChatMessage]:
    """The history with the system prompt as a leading system message (for :func:`format_prompt`, which
    marks it ``System:``), or unchanged when there is none."""
    return [ChatMessage("system", system.strip()), *messages] if system.strip() else list(messages)


def format_prompt(messages: tuple[ChatMessage, ...] | list[ChatMessage]) -> str:
    """The whole history as one prompt: ``Role: text`` lines and a final ``Assistant:``.

    A single message is sent as its bare text.
    """
    if len(messages) <= 1:
        return messages[0].content if messages else ""
    lines = [f"{m.role.capitalize()}: {m.content}" for m in messages if m.content.strip()]
    return "\n".join(lines) + "\nAssistant:"


def last_user_message(messages: tuple[ChatMessage, ...] | list[ChatMessage]) -> str:
    """The trailing run of user messages (skipping trailing non-user ones), joined by newlines."""
    collected: list[str] = []
    for message in reversed(messages):
        if message.role != "user":
            if collected:
                break
            continue
        collected.append(message.content.strip())
    return "\n".join(reversed(collected))


def new_attachments(messages: tuple[ChatMessage, ...] | list[ChatMessage]) -> list[Attachment]:
    """Attachments of the trailing run of user messages (the ones this turn sends)."""
    found: list[Attachment] = []
    for message in reversed(messages):
        if message.role != "user":
            if found:
                break
            continue
        found[:0] = message.attachments
    return found
