"""Hugging Face Inference (the router at router.huggingface.co/v1), or any OpenAI-compatible server.

Protocol (shared/protocols/README.md, "Hugging Face Inference"): ``GET /models`` lists models;
``POST /chat/completions`` with ``"stream": true`` answers Server-Sent Events parsed by
providers/openai_wire.py. On the router, model ids are ``publisher/name``, optionally with a routing
suffix (``:fastest``, ``:cheapest`` or an inference provider's name); other servers' ids are free-form
(llama-server's ``/models/x.gguf``, Ollama's ``llama3.2:1b``), so an id is sent exactly as listed.

When ``CHATDECK_HF_URL`` points anywhere but Hugging Face, the backend is named after what it is
(:func:`info_for`: "OpenAI-compatible server at <host>", its key optional). Errors that concern one
request (HTTP 400/413/422, an unknown model) are :class:`RequestError`s: they leave the backend's state
alone; an unknown model's error lists the models the server offers.

Stateless: every turn sends the whole visible history; the only state kept per conversation
is the model id. The token is ``HF_TOKEN`` for the whole server or a user's own from Settings.

The same ``OpenAICompatible`` class serves the "custom endpoints" an admin adds (Ollama, vLLM,
TGI, llama.cpp): providers/custom_endpoints.py makes one a backend of its own.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, suppress
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from providers import endpoint_urls
from providers.base import DEFAULT_TIMEOUT, BackendInfo, CredentialField, ModelInfo, new_client
from providers.errors import (
    CredentialsError,
    HTTPStatusError,
    ProviderError,
    RequestError,
    UnexpectedResponseError,
    UnknownModelError,
    raise_for_status,
    secrets_withheld,
    server_message,
    transport_errors,
)
from providers.events import ChatMessage, ChatRequest, Event, StateUpdate
from providers.lines import ERROR_BODY_BYTES, MAX_BODY_BYTES, read_capped
from providers.openai_wire import parse_completion, parse_stream

DEFAULT_URL = "https://router.huggingface.co/v1"
DISPLAY_NAME = "Hugging Face"
URL_ENV = "CHATDECK_HF_URL"
# "auto" (Hugging Face when the URL's host is huggingface.co's), "huggingface" (a proxy or a simulator of
# the router) or "openai" (any other OpenAI-compatible server)
KIND_ENV = "CHATDECK_HF_KIND"
HF_HOSTS = ("huggingface.co", "hf.co")
REQUEST_STATUSES = (400, 413, 422)  # a refusal of this one request, not a sign of the server's health
# an error message saying the model does not exist (LiteLLM's "Invalid model name passed in model=…", the
# router's "The requested model 'x' does not exist"); not vLLM's "This model's maximum context length is …"
NO_SUCH_MODEL = re.compile(r"(?i)(invalid|unknown|no such)\s+model|model\b.{0,80}\b(does not exist|not found)")
LIST_TIMEOUT = 10.0  # seconds for the model list fetched to explain an unknown model

# "publisher/name" with an optional ":suffix" (":fastest", ":cheapest", a provider such as ":together")
MODEL_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,127}(:[A-Za-z0-9][\w.-]{0,63})?")

INFO = BackendInfo(
    name="huggingface",
    display_name=DISPLAY_NAME,
    needs_credentials=True,
    fallback_models=[
        ModelInfo("openai/gpt-oss-120b", "gpt-oss 120B", reasoning=True),
        ModelInfo("openai/gpt-oss-20b", "gpt-oss 20B", reasoning=True),
        ModelInfo("meta-llama/Llama-3.3-70B-Instruct", "Llama 3.3 70B Instruct"),
        ModelInfo("meta-llama/Llama-3.1-8B-Instruct", "Llama 3.1 8B Instruct"),
        ModelInfo("Qwen/Qwen2.5-72B-Instruct", "Qwen 2.5 72B Instruct"),
        ModelInfo("deepseek-ai/DeepSeek-R1", "DeepSeek R1", reasoning=True),
        ModelInfo("google/gemma-3-27b-it", "Gemma 3 27B", vision=True),
    ],
    description="Open models through Hugging Face's Inference Providers router (OpenAI-compatible); needs a token.",
    credential_fields=(
        CredentialField(
            "token", "Hugging Face token", "HF_TOKEN",
            help="A token with the \"Make calls to Inference Providers\" permission (starts with hf_).",
        ),
    ),
    setup_help=(
        "Create a token at https://huggingface.co/settings/tokens (a fine-grained token with "
        "**Make calls to Inference Providers**, or a read token) and paste it here. Usage is billed "
        "to your account's credits."
    ),
    system_prompt="message",
    state_travels=True,  # stateless: the only state is the model name, nobody's id
    rest_api=True,  # seed 002's endpoint is /api/ai/huggingface/{publisher}/{model}/chat
    model_ids=MODEL_ID.pattern,  # the router's ids; another server (info_for) takes any free-form id
)
is_listed = BackendInfo.is_listed  # (the rule is on the description, where api/chat.py reaches it)


def is_model_id(model: str) -> bool:
    """Whether ``model`` has the ``publisher/name[:suffix]`` shape of a Hugging Face model id."""
    return MODEL_ID.fullmatch(model) is not None


def is_hugging_face(base_url: str) -> bool:
    """Whether ``base_url`` is on Hugging Face's own hosts (the router or the Inference API)."""
    host = (urlsplit(base_url).hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in HF_HOSTS)


def host_of(base_url: str) -> str:
    """The host (and port) a URL names, never its login or path."""
    parts = urlsplit(base_url)
    host = parts.hostname or base_url
    with suppress(ValueError):
        if parts.port:
            return f"{host}:{parts.port}"
    return host


@functools.lru_cache(maxsize=16)
def info_for(base_url: str, kind: str = "auto") -> BackendInfo:
    """The backend as its URL makes it: Hugging Face's router, or an OpenAI-compatible server named after its host.

    ``kind`` is ``CHATDECK_HF_KIND``: "huggingface" or "openai" decide it; anything else decides by the host.
    """
    if kind == "huggingface" or (kind != "openai" and is_hugging_face(base_url)):
        return INFO
    name = f"OpenAI-compatible server at {host_of(base_url)}"
    return replace(
        INFO,
        display_name=name,
        needs_credentials=False,  # llama-server and Ollama take no key; LiteLLM and vLLM may ask for one
        fallback_models=[ModelInfo("default", "default (the server's own model)")],
        model_ids="",  # free-form: llama-server's /models/x.gguf, Ollama's llama3.2:1b
        description=f"The OpenAI-compatible server {URL_ENV} points at ({host_of(base_url)}): llama.cpp, "
                    "LiteLLM, Ollama, vLLM or the like. A key is needed only if the server asks for one.",
        credential_fields=(
            CredentialField("token", "API key", "HF_TOKEN",
                            help="The server's API key, sent as a Bearer token (only if it asks for one)."),
        ),
        setup_help=(
            "Paste the key this server expects, if any: LiteLLM's master key or a virtual key, the value of "
            "vLLM's or llama-server's `--api-key`. A server started without keys (llama-server, Ollama) needs none."
        ),
    )


def configured_info() -> BackendInfo:
    """The backend as CHATDECK_HF_URL and CHATDECK_HF_KIND make it (another server is named after its host)."""
    return info_for(os.environ.get(URL_ENV, DEFAULT_URL), os.environ.get(KIND_ENV, "auto").strip().lower())


def create(client: httpx.AsyncClient | None, credentials: Mapping[str, str] | None) -> OpenAICompatible:
    """The registry's factory: the server at CHATDECK_HF_URL, the token from ``credentials``."""
    return OpenAICompatible(
        # never a user:password@ to send or show
        base_url=endpoint_urls.from_environment(os.environ.get(URL_ENV, DEFAULT_URL), URL_ENV),
        token=(credentials or {}).get("token"),
        client=client,
        display_name=configured_info().display_name,
    )


class OpenAICompatible:
    """One OpenAI-compatible chat-completions server (a :class:`providers.base.Backend`)."""

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_URL,
        token: str | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        name: str = INFO.name,
        display_name: str = DISPLAY_NAME,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.display_name = display_name
        self._token = token or None
        self._client = client
        self._timeout = timeout

    @property
    def secrets(self) -> tuple[str, ...]:
        """The token: what no error may repeat, even when the server quotes it back."""
        return (self._token,) if self._token else ()

    def _headers(self, accept: str) -> dict[str, str]:
        headers = {"Accept": accept}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        options = request.options
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": "system", "content": request.system.strip()}] if request.system.strip() else [],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        body["messages"] += [_wire_message(m) for m in request.messages if m.content or m.attachments]
        for key, value in (("temperature", options.temperature), ("top_p", options.top_p),
                           ("max_tokens", options.max_tokens)):
            if value is not None:
                body[key] = value
        return body

    async def events(self, request: ChatRequest) -> AsyncIterator[Event]:
        url = self.base_url + "/chat/completions"
        async with AsyncExitStack() as stack:
            client = self._client
            if client is None:
                client = await stack.enter_async_context(new_client(self._timeout))
            response = await stack.enter_async_context(
                client.stream("POST", url, json=self._body(request), headers=self._headers("text/event-stream"),
                              timeout=self._timeout)
            )
            await self._raise_for_status(response, request.model)
            yield StateUpdate({"model": request.model})
            content_type = response.headers.get("content-type", "").lower()
            if "text/event-stream" in content_type:
                async for event in parse_stream(self.display_name, response.aiter_bytes()):
                    yield event
            elif "json" in content_type:
                for event in parse_completion(self.display_name, await self._json(response)):
                    yield event
            else:
                await self._unexpected(response, content_type)

    async def _raise_for_status(self, response: httpx.Response, model: str) -> None:
        """Error statuses as ProviderErrors whose message says what to do about them.

        400, 413 and 422 are this request's own problem (:class:`RequestError`); a 404, or a 400 that
        speaks of the model (LiteLLM's "Invalid model name"), is an unknown model when the server's list
        does not hold it, or, with no list to tell, when its message says so (:class:`UnknownModelError`,
        listing what it offers). A 404 that does not speak of a model is an HTTPStatusError: a wrong URL.
        """
        status = response.status_code
        if status not in (401, 402, 404, *REQUEST_STATUSES):
            await raise_for_status(response, self.display_name)
            return
        body, _ = await read_capped(response.aiter_bytes(), ERROR_BODY_BYTES)
        message = server_message(body, response.headers.get("content-type", ""))
        if status == 401:
            raise CredentialsError(
                f"{self.display_name} rejected the token (HTTP 401: {message}); check the token in Settings",
                backend=self.display_name,
            )
        if status == 402:
            hint = "out of credits for this model; add credits or pick another model"
            raise HTTPStatusError(status, f"{hint}: {message}", backend=self.display_name)
        if status == 404 or (status == 400 and "model" in message.lower()):
            offered = await self._offered()
            unknown = NO_SUCH_MODEL.search(message) is not None if offered is None else not is_listed(model, offered)
            if unknown:
                raise UnknownModelError(status, model, offered or (), message, backend=self.display_name)
        if status == 404 and "model" not in message.lower():  # the route itself is missing: a wrong URL
            raise HTTPStatusError(status, f"not found: {message} (is the URL the server's /v1?)",
                                  backend=self.display_name)
        hints = {404: f"model {model!r} is not available", 413: "the request is too large for this server",
                 422: "the server refused the request as invalid"}
        text = f"{hints[status]}: {message}" if status in hints else message
        raise RequestError(status, text, backend=self.display_name)

    async def _offered(self) -> list[str] | None:
        """The ids the server lists now, or None when it does not say (explains an unknown model)."""
        try:
            return [m.id for m in await self.list_models(httpx.Timeout(LIST_TIMEOUT))]
        except ProviderError:
            return None

    async def _json(self, response: httpx.Response) -> Any:
        body, longer = await read_capped(response.aiter_bytes(), MAX_BODY_BYTES)
        if longer:
            raise UnexpectedResponseError(f"{self.display_name} sent an answer over {MAX_BODY_BYTES:,} bytes",
                                          backend=self.display_name, snippet=body[:200].decode("utf-8", "replace"))
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise UnexpectedResponseError(
                f"{self.display_name} protocol changed: the answer is not JSON", backend=self.display_name
            ) from exc

    async def _unexpected(self, response: httpx.Response, content_type: str) -> None:
        snippet = (await read_capped(response.aiter_bytes(), 500))[0].decode("utf-8", "replace")
        what = f"an HTML page ({content_type})" if "html" in content_type else (content_type or "no content type")
        raise UnexpectedResponseError(
            f"{self.display_name} answered HTTP {response.status_code} with {what} instead of an event stream",
            backend=self.display_name,
            snippet=snippet,
        )

    async def list_models(self, limit: httpx.Timeout | None = None) -> list[ModelInfo]:
        """``GET /models``: the OpenAI ``{"data": [{"id": ...}]}`` list (vision from its input modalities)."""
        limit = limit or self._timeout
        async with secrets_withheld(self.secrets), transport_errors(self.display_name), AsyncExitStack() as stack:
            client = self._client
            if client is None:
                client = await stack.enter_async_context(new_client(limit))
            response = await client.get(self.base_url + "/models", headers=self._headers("application/json"),
                                        timeout=limit)
            if response.status_code == 401:
                raise CredentialsError(f"{self.display_name} rejected the token (HTTP 401)", backend=self.display_name)
            await raise_for_status(response, self.display_name)
        try:
            data = response.json()
        except (ValueError, RecursionError):
            data = None
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise UnexpectedResponseError(
                f"{self.display_name} protocol changed: the model list has no data array", backend=self.display_name
            )
        return [info for item in items if isinstance(item, dict) and (info := _model_info(item))]


def _wire_message(message: ChatMessage) -> dict[str, Any]:
    """A message as the API wants it; images as ``image_url`` data-URL parts."""
    images = [a for a in message.attachments if a.mime.startswith("image/")]
    if not images:
        return {"role": message.role, "content": message.content}
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content else []
    for image in images:
        url = f"data:{image.mime};base64,{base64.b64encode(image.data).decode('ascii')}"
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return {"role": message.role, "content": parts}


def _model_info(item: dict[str, Any]) -> ModelInfo | None:
    model_id = item.get("id")
    if not isinstance(model_id, str) or not model_id:
        return None
    architecture = item.get("architecture")
    if not isinstance(architecture, dict):
        architecture = {}
    modalities = architecture.get("input_modalities")
    vision = isinstance(modalities, list) and "image" in modalities
    return ModelInfo(model_id, vision=vision)
