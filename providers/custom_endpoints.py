"""The OpenAI-compatible servers an admin adds (Ollama, vLLM, TGI, llama.cpp), each a backend of its own.

:func:`endpoint` is the whole surface: from what storage keeps of one endpoint (slug, name, URL, models, key) it
gives the registry's ``(BackendInfo, factory)``. The backend is named ``custom-<slug>`` and served by
providers/openai_compatible.py, its host checked before every request (link-local and cloud-metadata addresses
are refused, see providers/endpoint_urls.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlsplit

import httpx

from providers import endpoint_urls
from providers.base import Backend, BackendInfo, Factory, ModelInfo
from providers.errors import secrets_withheld
from providers.events import ChatRequest, Event
from providers.openai_compatible import OpenAICompatible

CUSTOM_PREFIX = "custom-"  # backend names of admin-added endpoints: "custom-<slug>"


def endpoint_info(slug: str, display_name: str, base_url: str, models: list[str]) -> BackendInfo:
    """A custom OpenAI-compatible endpoint as a backend of its own (named ``custom-<slug>``)."""
    fallback = [ModelInfo(m) for m in models] or [ModelInfo("default", "default (the server's own model)")]
    return BackendInfo(
        name=CUSTOM_PREFIX + slug,
        display_name=display_name,
        needs_credentials=False,  # the key, if any, is the server's, set by an admin
        fallback_models=fallback,
        description="An OpenAI-compatible server added by an admin.",  # never its URL: hosts are for admins
        system_prompt="message",
        state_travels=True,
    )


def endpoint(
    slug: str, display_name: str, base_url: str, models: list[str], api_key: str | None
) -> tuple[BackendInfo, Factory]:
    """One stored endpoint as the registry's ``(info, factory)``; the factory ignores users' credentials (the
    key, if any, is the endpoint's own)."""
    info = endpoint_info(slug, display_name, base_url, models)

    def create(client: httpx.AsyncClient | None, _credentials: Mapping[str, str] | None) -> Backend:
        inner = OpenAICompatible(base_url=base_url, token=api_key, client=client, name=info.name,
                                 display_name=info.display_name)
        return AddressChecked(inner, base_url)

    return info, create


class AddressChecked:
    """An endpoint's backend that checks the endpoint's host before every request
    (:func:`providers.endpoint_urls.ensure_allowed`): saved URLs were checked when saved, but a name can
    resolve elsewhere since. A refusal is the request's error, naming the endpoint and not its host."""

    def __init__(self, inner: OpenAICompatible, base_url: str) -> None:
        self.inner, self.base_url = inner, base_url
        self.name, self.display_name = inner.name, inner.display_name
        # Errors are shown to users who are not admins: a server's own words that quote its URL lose it.
        self._hidden = (base_url, urlsplit(base_url).netloc)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The key, and the endpoint's URL and host: what no error may repeat."""
        return (*self.inner.secrets, *self._hidden)

    async def events(self, request: ChatRequest) -> AsyncIterator[Event]:
        await endpoint_urls.ensure_allowed(self.base_url, self.display_name)
        async for event in self.inner.events(request):
            yield event

    async def list_models(self) -> list[ModelInfo]:
        async with secrets_withheld(self._hidden):
            await endpoint_urls.ensure_allowed(self.base_url, self.display_name)
            return await self.inner.list_models()
