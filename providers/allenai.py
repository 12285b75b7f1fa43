"""Ai2 Playground (olmo-api.allen.ai): anonymous chat with the Olmo / Tülu / Molmo models.

The Playground has shipped three chat routes in turn (shared/protocols/allenai-current.md,
observed-servers.md, web-backends.md §2), newest first:

* ``v5``: ``POST /v5/threads/chat``, compact JSON lines typed by ``type``; models ``/v5/models/``;
* ``v4-threads``: ``POST /v4/threads/`` (the Flask API of 2025 to early 2026), sorted-key lines,
  type-less thread snapshots; models ``/v4/models/``;
* ``v4-message``: the seed's ``POST /v4/message/stream``, a head message, chunks, a final message.

``auto`` tries them in that order, moving on when a route answers 404/405, and remembers per
base URL, in a :class:`RouteMemory` (the application's, shared by its providers), which one answered:
the next conversation with that server goes straight there (and detection starts again should that
route vanish). A conversation keeps the route its state names. The identity is an anonymous uuid sent as
``X-Anonymous-User-ID``; only that id may continue a thread, so it is kept in the
conversation state with the parent id.

This module holds ``INFO``, the ``AllenAI`` provider (building the requests, checking the
response, listing models) and the per-base-URL memory. The pure parsers of the JSON-lines
bodies are in providers/allenai_lines.py (``V5Parser``, ``V4MessageParser``, ``parse_stream``)
and providers/allenai_threads.py (``V4ThreadsParser``).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx

from providers.allenai_lines import DISPLAY_NAME, V4MessageParser, V5Parser, as_str, dicts_of, drift, parse_stream
from providers.allenai_threads import V4ThreadsParser
from providers.base import (
    DEFAULT_TIMEOUT,
    BackendInfo,
    ModelInfo,
    format_prompt,
    guarded,
    last_user_message,
    new_attachments,
    new_client,
    with_system,
)
from providers.errors import ProviderError, UnexpectedResponseError, raise_for_status, transport_errors
from providers.events import Attachment, ChatRequest, Event, Options
from providers.lines import ERROR_BODY_BYTES, read_capped

DEFAULT_URL = "https://olmo-api.allen.ai"
GENERATIONS = ("v5", "v4-threads", "v4-message")  # newest first: the order ``auto`` tries them in
PROTOCOLS = ("auto", *GENERATIONS)
CHAT_PATHS = {"v5": "/v5/threads/chat", "v4-threads": "/v4/threads/", "v4-message": "/v4/message/stream"}
PARSERS: dict[str, type[V5Parser | V4ThreadsParser | V4MessageParser]] = {
    "v5": V5Parser, "v4-threads": V4ThreadsParser, "v4-message": V4MessageParser,
}
GONE = (404, 405)  # what a server answers on a chat route it does not have
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/136.0.0.0 Safari/537.36"
JSONL_TYPES = ("jsonl", "ndjson", "json-lines", "jsonlines", "json-seq")

# fmt: off
# The seed's model → host map (the v4 protocol wants a ``host`` field; later servers ignore it).
MODEL_HOSTS = {
    "tulu3-405b": "inferd", "OLMo-2-1124-13B-Instruct": "modal", "tulu-3-1-8b": "modal",
    "Llama-3-1-Tulu-3-70B": "modal", "olmoe-0125": "modal", "olmo-2-0325-32b-instruct": "modal",
    "mm-olmo-uber-model-v4-synthetic": "modal",
}

INFO = BackendInfo(
    name="allenai",
    display_name=DISPLAY_NAME,
    needs_credentials=False,
    fallback_models=[
        # the web client's featured models today (allenai-current.md §4), then the seed's
        ModelInfo("olmo-3.1-32b-instruct", "Olmo 3.1 32B Instruct"),
        ModelInfo("olmo-3.1-32b-think", "Olmo 3.1 32B Think", reasoning=True),
        ModelInfo("molmo2-8b", "Molmo 2 8B", vision=True),
        ModelInfo("tulu3-405b", "Tülu 3 405B"),
        ModelInfo("OLMo-2-1124-13B-Instruct", "OLMo 2 13B Instruct"),
        ModelInfo("tulu-3-1-8b", "Tülu 3.1 8B"),
        ModelInfo("Llama-3-1-Tulu-3-70B", "Llama 3.1 Tülu 3 70B"),
        ModelInfo("olmoe-0125", "OLMoE 0125"),
        ModelInfo("olmo-2-0325-32b-instruct", "OLMo 2 32B Instruct"),
        ModelInfo("mm-olmo-uber-model-v4-synthetic", "Molmo (OLMo 4 synthetic)", vision=True),
    ],
    aliases={  # the seed's (web-backends.md §2.6)
        "tulu-3-405b": "tulu3-405b", "olmo-1-7b": "olmoe-0125", "olmo-2-13b": "OLMo-2-1124-13B-Instruct",
        "olmo-2-32b": "olmo-2-0325-32b-instruct", "tulu-3-1-8b": "tulu-3-1-8b", "tulu-3-70b": "Llama-3-1-Tulu-3-70B",
        "llama-3.1-405b": "tulu3-405b", "llama-3.1-8b": "tulu-3-1-8b", "llama-3.1-70b": "Llama-3-1-Tulu-3-70B",
        "olmo-4-synthetic": "mm-olmo-uber-model-v4-synthetic",
    },
    description="Ai2's open models (Olmo, Tülu, Molmo) through the Playground API; no account needed.",
)
# fmt: on


# --- which chat route each server answered on ------------------------------------------------------


class RouteMemory:
    """Which generation's chat route answered at each base URL, found by ``auto``.

    The application holds one for its providers (the registry passes it to each Ai2 provider it builds),
    so a new conversation goes straight to the route that answered before. Thread-safe: the runner's
    loop and the model catalogue may ask at once.
    """

    def __init__(self) -> None:
        self._routes: dict[str, str] = {}  # base URL -> the generation whose chat route answered there
        self._lock = threading.Lock()

    def get(self, base_url: str) -> str | None:
        """The generation that answered at ``base_url``, if ``auto`` found one."""
        with self._lock:
            return self._routes.get(base_url.rstrip("/"))

    def remember(self, base_url: str, protocol: str | None) -> None:
        """Remember (``None``: forget) the generation that answered at ``base_url``."""
        with self._lock:
            if protocol is None:
                self._routes.pop(base_url.rstrip("/"), None)
            else:
                self._routes[base_url.rstrip("/")] = protocol


class AllenAI:
    name = INFO.name

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_URL,
        protocol: str = "auto",
        client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        routes: RouteMemory | None = None,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown Ai2 Playground protocol {protocol!r} (expected one of {', '.join(PROTOCOLS)})")
        self.base_url = base_url.rstrip("/")
        self.protocol = protocol
        self._client = client
        self._timeout = timeout
        self.routes = routes if routes is not None else RouteMemory()  # shared by the application's providers
        self._anonymous_id = str(uuid.uuid4())  # only for listing models

    def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        return guarded(DISPLAY_NAME, self._events(request))

    def _candidates(self, state: Mapping[str, Any]) -> tuple[list[str], bool]:
        """The routes to try in order, and whether this turn may detect (and remember) one.

        An explicit protocol, or the one a conversation already uses, is the only candidate;
        otherwise the route remembered for this server comes first, then the rest, newest first.
        """
        if self.protocol != "auto":
            return [self.protocol], False
        if state.get("protocol") in GENERATIONS:
            return [state["protocol"]], False
        known = self.routes.get(self.base_url)
        return ([known] if known else []) + [p for p in GENERATIONS if p != known], True

    async def _events(self, request: ChatRequest) -> AsyncIterator[Event]:
        state = request.state or {}
        anonymous_id = as_str(state.get("anonymous_user_id")) or str(uuid.uuid4())
        parent = as_str(state.get("parent")) or None
        # a new thread gets the history, and the system prompt marked "System:" (the Playground takes no system role)
        first = format_prompt(with_system(request.messages, request.system))
        content = last_user_message(request.messages) if parent else first
        model = INFO.resolve_model(request.model)
        turn = _Turn(model, content, parent, request.options, new_attachments(request.messages))
        headers = {"Accept": "application/json, */*", "User-Agent": USER_AGENT, "X-Anonymous-User-ID": anonymous_id}
        candidates, detecting = self._candidates(state)
        async with AsyncExitStack() as stack:
            client = self._client
            if client is None:
                client = await stack.enter_async_context(new_client(self._timeout))
            for protocol in candidates:
                response = await stack.enter_async_context(self._post(client, protocol, turn, headers))
                if response.status_code not in GONE or protocol == candidates[-1]:
                    break
                await read_capped(response.aiter_bytes(), ERROR_BODY_BYTES)  # a short body, read: the connection stays
            if detecting:
                self.routes.remember(self.base_url, None if response.status_code in GONE else protocol)
            await _check_stream_response(response)
            parser = PARSERS[protocol]({"anonymous_user_id": anonymous_id})
            try:
                async for event in parse_stream(parser, response.aiter_bytes()):
                    yield event
            except (ProviderError, httpx.HTTPError):
                if update := parser.fail_state():
                    yield update
                raise

    def _post(
        self, client: httpx.AsyncClient, protocol: str, turn: _Turn, headers: dict[str, str]
    ) -> AbstractAsyncContextManager[httpx.Response]:
        """The streaming POST, always real multipart (plain fields as parts without a filename)."""
        files: list[tuple[str, Any]] = [(name, (None, value)) for name, value in turn.fields(protocol)]
        files += [("files", (a.name or "file", a.data, a.mime)) for a in turn.attachments]
        url = self.base_url + CHAT_PATHS[protocol]
        return client.stream("POST", url, files=files, headers=headers, timeout=self._timeout)

    async def list_models(self) -> list[ModelInfo]:
        """Visible, non-deprecated models: ``GET /v5/models/``, or ``/v4/models/`` for both v4 generations.

        In ``auto`` mode the remembered route decides; with none, v5 is asked first.
        """
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT, "X-Anonymous-User-ID": self._anonymous_id}
        protocol = self.protocol if self.protocol != "auto" else (self.routes.get(self.base_url) or "v5")
        snake = protocol != "v5"
        async with transport_errors(DISPLAY_NAME), AsyncExitStack() as stack:
            client = self._client
            if client is None:
                client = await stack.enter_async_context(new_client(self._timeout))
            path = "/v4/models/" if snake else "/v5/models/"
            response = await client.get(self.base_url + path, headers=headers, timeout=self._timeout)
            if not snake and self.protocol == "auto" and response.status_code in GONE:
                snake = True  # a v4 server of either generation
                response = await client.get(self.base_url + "/v4/models/", headers=headers, timeout=self._timeout)
            await raise_for_status(response, DISPLAY_NAME)
        try:
            data = response.json()
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, list):
            raise drift(f"the model list is not a JSON array ({response.headers.get('content-type')})")
        return [info for item in dicts_of(data) if (info := _model_info(item, snake=snake))]


@dataclass(frozen=True)
class _Turn:
    """What one request sends, whichever protocol carries it."""

    model: str
    content: str
    parent: str | None
    options: Options
    attachments: list[Attachment]

    def fields(self, protocol: str) -> list[tuple[str, str]]:
        if protocol == "v5":
            fields = [("role", "user"), ("model", self.model), ("content", self.content)]
            names = ("temperature", "topP", "maxTokens")
        elif protocol == "v4-threads":  # camelCase like v5; ``role`` defaults to user, ``host`` is ignored
            fields = [("model", self.model), ("content", self.content)]
            names = ("temperature", "topP", "maxTokens")
        else:
            host = MODEL_HOSTS.get(self.model, "inferd")
            fields = [("model", self.model), ("host", host), ("content", self.content), ("private", "true")]
            names = ("temperature", "top_p", "max_tokens")
        fields += [("parent", self.parent)] if self.parent else []
        values = (self.options.temperature, self.options.top_p, self.options.max_tokens)
        return fields + [(name, str(value)) for name, value in zip(names, values, strict=True) if value is not None]


async def _check_stream_response(response: httpx.Response) -> None:
    """Error statuses become ProviderErrors; anything but a 200 JSON-lines body is drift."""
    await raise_for_status(response, DISPLAY_NAME)
    content_type = response.headers.get("content-type", "").lower()
    if response.status_code == 200 and any(kind in content_type for kind in JSONL_TYPES):
        return
    snippet = b""
    async for chunk in response.aiter_bytes():
        snippet += chunk
        if len(snippet) >= 500:
            break
    what = f"an HTML page ({content_type})" if "html" in content_type else (content_type or "no content type")
    raise UnexpectedResponseError(
        f"{DISPLAY_NAME} answered HTTP {response.status_code} with {what} instead of a JSON-lines stream",
        backend=DISPLAY_NAME,
        snippet=snippet.decode("utf-8", "replace"),
    )


def _model_info(item: dict[str, Any], *, snake: bool) -> ModelInfo | None:
    def get(camel: str, snake_case: str) -> Any:
        return item.get(snake_case if snake else camel)

    model_id = item.get("id")
    if not isinstance(model_id, str) or not model_id:
        return None
    if get("isVisible", "is_visible") is False or get("isDeprecated", "is_deprecated") is True:
        return None
    vision = get("acceptsFiles", "accepts_files") is True or get("promptType", "prompt_type") == "multi_modal"
    return ModelInfo(model_id, as_str(item.get("name")), vision=vision, reasoning=get("canThink", "can_think") is True)
