"""Hugging Face Inference (the router at router.huggingface.co/v1), or any OpenAI-compatible server.

Protocol (shared/protocols/README.md, "Hugging Face Inference"): ``GET /models`` lists models;
``POST /chat/completions`` with ``"stream": true`` answers Server-Sent Events parsed by
providers/openai_sse.py. Model ids are ``publisher/name``, optionally with a routing suffix
(``:fastest``, ``:cheapest`` or an inference provider's name) that the router understands.

Stateless: every turn sends the whole visible history; the only state kept per conversation
is the model id. The token is ``HF_TOKEN`` for the whole server or a user's own from Settings.

The same ``OpenAICompatible`` class serves the "custom endpoints" an admin adds (Ollama, vLLM,
TGI, llama.cpp): :func:`endpoint_info` describes one as a backend of its own.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx

from providers.base import DEFAULT_TIMEOUT, BackendInfo, CredentialField, ModelInfo, guarded, new_client
from providers.errors import (
    CredentialsError,
    HTTPStatusError,
    UnexpectedResponseError,
    raise_for_status,
    secrets_withheld,
    server_message,
    transport_errors,
)
from providers.events import ChatMessage, ChatRequest, Event, StateUpdate
from providers.lines import ERROR_BODY_BYTES, MAX_BODY_BYTES, read_capped
from providers.openai_sse import parse_completion, parse_stream

DEFAULT_URL = "https://router.huggingface.co/v1"
DISPLAY_NAME = "Hugging Face"
CUSTOM_PREFIX = "custom-"  # backend names of admin-added endpoints: "custom-<slug>"

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
)


def is_model_id(model: str) -> bool:
    """Whether ``model`` has the ``publisher/name[:suffix]`` shape of a Hugging Face model id."""
    return MODEL_ID.fullmatch(model) is not None


def endpoint_info(slug: str, display_name: str, base_url: str, models: list[str]) -> BackendInfo:
    """A custom OpenAI-compatible endpoint as a backend of its own (named ``custom-<slug>``)."""
    fallback = [ModelInfo(m) for m in models] or [ModelInfo("default", "default (the server's own model)")]
    return BackendInfo(
        name=CUSTOM_PREFIX + slug,
        display_name=display_name,
        needs_credentials=False,  # the key, if any, is the server's, set by an admin
        fallback_models=fallback,
        description=f"An OpenAI-compatible server at {base_url}, added by an admin.",
    )


class OpenAICompatible:
    """One OpenAI-compatible chat-completions server. ``stream`` never raises."""

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

    def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        return guarded(self.display_name, self._events(request), self.secrets)

    def _headers(self, accept: str) -> dict[str, str]:
        headers = {"Accept": accept}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        options = request.options
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [_wire_message(m) for m in request.messages if m.content or m.attachments],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        for key, value in (("temperature", options.temperature), ("top_p", options.top_p),
                           ("max_tokens", options.max_tokens)):
            if value is not None:
                body[key] = value
        return body

    async def _events(self, request: ChatRequest) -> AsyncIterator[Event]:
        url = self.base_url + "/chat/completions"
        async with AsyncExitStack() as stack:
            client = self._client or await stack.enter_async_context(new_client(self._timeout))
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
        """Error statuses as ProviderErrors whose message says what to do about them."""
        status = response.status_code
        if status not in (401, 402, 404, 422):
            await raise_for_status(response, self.display_name)
            return
        body, _ = await read_capped(response.aiter_bytes(), ERROR_BODY_BYTES)
        message = server_message(body, response.headers.get("content-type", ""))
        if status == 401:
            raise CredentialsError(
                f"{self.display_name} rejected the token (HTTP 401: {message}); check the token in Settings",
                backend=self.display_name,
            )
        hint = {
            402: "out of credits for this model; add credits or pick another model",
            404: f"unknown model {model!r} (or not served by any provider)",
            422: "the server refused the request as invalid",
        }[status]
        raise HTTPStatusError(status, f"{hint}: {message}", backend=self.display_name)

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

    async def list_models(self) -> list[ModelInfo]:
        """``GET /models``: the OpenAI ``{"data": [{"id": ...}]}`` list (vision from its input modalities)."""
        async with secrets_withheld(self.secrets), transport_errors(self.display_name), AsyncExitStack() as stack:
            client = self._client or await stack.enter_async_context(new_client(self._timeout))
            response = await client.get(self.base_url + "/models", headers=self._headers("application/json"),
                                        timeout=self._timeout)
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
    architecture = item.get("architecture") if isinstance(item.get("architecture"), dict) else {}
    modalities = architecture.get("input_modalities")
    vision = isinstance(modalities, list) and "image" in modalities
    return ModelInfo(model_id, vision=vision)
