"""What every backend module provides, and the pieces two or more of them share."""

from __future__ import annotations

import functools
import os
import re
import ssl
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
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
from providers.paced_reads import paced_transport

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=10.0)
MODEL_ID_MAX = 255  # characters of a model id (what storage keeps)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verified TLS context for the process: loading the CA bundle costs tens of milliseconds."""
    return httpx.create_ssl_context()


def new_client(timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> httpx.AsyncClient:
    """A client for one call (backends with a login get no shared client, so cookies never mix).

    It reuses the process's TLS context, so building it costs a millisecond, not a CA-bundle load.
    Its reads are paced when many backend connections are open (providers/paced_reads.py).
    """
    return httpx.AsyncClient(timeout=timeout, verify=tls_context(), transport=paced_transport(tls_context()))


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
    """One backend as its callers use it. ``stream`` never raises: errors arrive as ``Finished(reason="error")``.

    A provider with a login also has ``secrets``: the login values it sends, which no error it reports
    (from ``stream``, ``list_models`` or ``check``) may contain.
    """

    name: str

    def stream(self, request: ChatRequest) -> AsyncIterator[Event]: ...

    async def list_models(self) -> list[ModelInfo]: ...


class Backend(Protocol):
    """What a backend module's ``create`` builds: ``events`` may raise (ProviderError, httpx transport errors) and
    may end without a Finished; :class:`Guarded` (applied once, by ``registry.create``) makes it a Provider.

    ``secrets`` are the login values it sends (empty without a login); ``display_name`` names it in errors.
    Optional extras (``check``, ``list_tool_servers``) are reached through the Guarded wrapper as they are.
    """

    name: str
    display_name: str

    @property
    def secrets(self) -> tuple[str, ...]: ...

    def events(self, request: ChatRequest) -> AsyncIterator[Event]: ...

    async def list_models(self) -> list[ModelInfo]: ...


# A backend module's ``create``: an HTTP client to use (or None: one per call) and the login values keyed by the
# names in ``BackendInfo.credential_fields`` (or None); it reads its own settings (base URL) from the environment.
Factory = Callable[[httpx.AsyncClient | None, Mapping[str, str] | None], Backend]


class Guarded:
    """A :class:`Backend` as a :class:`Provider`: its events through :func:`guarded`, everything else as it is."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.name = backend.name

    @property
    def secrets(self) -> tuple[str, ...]:
        return self.backend.secrets

    def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        return guarded(self.backend.display_name, self.backend.events(request), self.backend.secrets)

    async def list_models(self) -> list[ModelInfo]:
        return await self.backend.list_models()

    def __getattr__(self, attribute: str) -> Any:  # check(), list_tool_servers(), base_url, ...
        if attribute == "backend":  # not set yet (a copy being built): no recursion
            raise AttributeError(attribute)
        return getattr(self.backend, attribute)


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
    # Whether the backend's chats are linear on the server: a request can only add to the end of a chat, never
    # branch from an earlier message, so a new version of a turn (regenerate, edit) starts a new backend chat with
    # the visible history as its first prompt (see :meth:`branch_state`).
    linear_chats: bool = False
    # The state keys that continue a conversation from one message: the first names the backend's conversation,
    # the others the message to branch from. A new version sent with the first but without all the others would
    # continue from the conversation's last message (the old answer), so it starts a new conversation instead.
    branch_keys: tuple[str, ...] = ()
    seed: int = 0  # place among the design card's backends, the compare page's first columns (1 first); 0: not one
    rest_api: bool = False  # answers seed 002's REST endpoint (api/chat.py); one built-in backend does
    model_ids: str = ""  # a regex every model id matches in full; "": any free-form id (see accepts_model_id)

    @property
    def system_prompt_help(self) -> str:
        """How this backend receives a system prompt, in words for the UI."""
        return SYSTEM_PROMPT_WAYS.get(self.system_prompt, SYSTEM_PROMPT_WAYS["prepended"])

    def resolve_model(self, model: str) -> str:
        return self.aliases.get(model, model)

    def branch_state(self, before: Mapping[str, Any]) -> dict[str, Any]:
        """The backend state a new version of a turn is sent with, given the state the turn was sent with:
        nothing (a new backend chat) where the backend cannot branch from it, else that state as it is."""
        if self.linear_chats:
            return {}
        first, *others = self.branch_keys or ("",)
        if first and before.get(first) and not all(before.get(key) for key in others):
            return {}
        return dict(before)

    def accepts_model_id(self, model: str) -> bool:
        """Whether ``model`` has a shape this backend takes: its ``model_ids`` pattern, else any free-form id
        (1 to MODEL_ID_MAX printable characters, not only blanks)."""
        if self.model_ids:
            return re.fullmatch(self.model_ids, model) is not None
        return 0 < len(model) <= MODEL_ID_MAX and model.isprintable() and bool(model.strip())

    @staticmethod
    def is_listed(model: str, ids: Iterable[str]) -> bool:
        """Whether ``model`` names one of ``ids``: exactly (``llama3.2:1b``), or a ``publisher/name`` id with a
        routing suffix after the last colon (``openai/gpt-oss-120b:cheapest``, Hugging Face's router)."""
        known = set(ids)
        base = model.rsplit(":", 1)[0]
        return model in known or (base != model and "/" in base and base in known)

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
