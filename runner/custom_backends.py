"""The custom OpenAI-compatible endpoints from storage, as dynamic backends of the registry.

``install(engine)`` makes providers.registry list them (one bounded query, cached by the registry
for ``DYNAMIC_TTL`` seconds); Settings calls ``registry.refresh()`` after an admin changes them.
Each endpoint is a backend named ``custom-<slug>`` served by ``OpenAICompatible``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import httpx
from sqlalchemy.engine import Engine

from providers import registry
from providers.base import BackendInfo, Provider
from providers.huggingface import OpenAICompatible, endpoint_info
from storage import endpoints
from storage.db import session
from storage.secrets import SecretKeyError

log = logging.getLogger(__name__)


def _factory(name: str, display_name: str, base_url: str, api_key: str | None) -> registry.Factory:
    def create(client: httpx.AsyncClient | None, _credentials: Mapping[str, str] | None) -> Provider:
        return OpenAICompatible(base_url=base_url, token=api_key, client=client, name=name, display_name=display_name)

    return create


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


_installed: Engine | None = None


def install(engine: Engine) -> None:
    """Make the registry list the endpoints stored in ``engine``'s database (once per engine)."""
    global _installed
    if _installed is not engine or registry.dynamic_source_installed() is False:
        registry.set_dynamic_source(lambda: load(engine))
        _installed = engine
