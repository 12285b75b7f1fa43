"""The custom OpenAI-compatible endpoints from storage, as dynamic backends of the registry.

``load(engine)`` lists them (one bounded query): the application (application.py) builds its registry with
it as the dynamic source, which the registry caches for ``DYNAMIC_TTL`` seconds; Settings calls
``registry.refresh()`` after an admin changes them.
Each endpoint is a backend named ``custom-<slug>`` served by ``OpenAICompatible``, its host checked
before every request (link-local and cloud-metadata addresses are refused, see providers/endpoint_urls.py).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlsplit

import httpx
from sqlalchemy.engine import Engine

from providers import endpoint_urls, registry
from providers.base import BackendInfo, ModelInfo, Provider, guarded
from providers.errors import secrets_withheld
from providers.events import ChatRequest, Event
from providers.huggingface import OpenAICompatible, endpoint_info
from storage import endpoints
from storage.db import session
from storage.secrets import SecretKeyError

log = logging.getLogger(__name__)


def _factory(name: str, display_name: str, base_url: str, api_key: str | None) -> registry.Factory:
    def create(client: httpx.AsyncClient | None, _credentials: Mapping[str, str] | None) -> Provider:
        return AddressChecked(
            OpenAICompatible(base_url=base_url, token=api_key, client=client, name=name, display_name=display_name),
            base_url,
        )

    return create


class AddressChecked:
    """An endpoint's provider that checks the endpoint's host before every request
    (:func:`providers.endpoint_urls.ensure_allowed`): saved URLs were checked when saved, but a name can
    resolve elsewhere since. A refusal is the request's error, naming the endpoint and not its host."""

    def __init__(self, inner: OpenAICompatible, base_url: str) -> None:
        self.inner, self.base_url = inner, base_url
        self.name, self.display_name = inner.name, inner.display_name
        # Errors are shown to users who are not admins: a server's own words that quote its URL lose it.
        self._hidden = (base_url, urlsplit(base_url).netloc)

    @property
    def secrets(self) -> tuple[str, ...]:
        return self.inner.secrets

    def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        return guarded(self.display_name, self._events(request), (*self.secrets, *self._hidden))

    async def _events(self, request: ChatRequest) -> AsyncIterator[Event]:
        await endpoint_urls.ensure_allowed(self.base_url, self.display_name)
        async for event in self.inner.stream(request):
            yield event

    async def list_models(self) -> list[ModelInfo]:
        async with secrets_withheld(self._hidden):
            await endpoint_urls.ensure_allowed(self.base_url, self.display_name)
            return await self.inner.list_models()


def load(engine: Engine) -> list[tuple[BackendInfo, registry.Factory]]:
    """Every stored endpoint as ``(info, factory)`` (one query)."""
    loaded = []
    with session(engine) as s:
        for endpoint in endpoints.list_endpoints(s):
            try:
                key = endpoints.api_key(endpoint)
            except SecretKeyError:
                log.warning("the API key of endpoint %r cannot be decrypted; using none", endpoint.slug)
                key = None
            info = endpoint_info(endpoint.slug, endpoint.display_name, endpoint.base_url, list(endpoint.models))
            loaded.append((info, _factory(info.name, info.display_name, endpoint.base_url, key)))
    return loaded
