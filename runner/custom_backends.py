"""The custom OpenAI-compatible endpoints from storage, as dynamic backends of the registry.

``load(engine)`` lists them (one bounded query): the application (application.py) builds its registry with
it as the dynamic source, which the registry caches for ``DYNAMIC_TTL`` seconds; Settings calls
``registry.refresh()`` after an admin changes them.
Each endpoint becomes a backend through providers/custom_endpoints.py (named ``custom-<slug>``, its host
checked before every request).
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine

from providers.base import BackendInfo, Factory
from providers.custom_endpoints import endpoint
from storage import endpoints
from storage.db import session
from storage.secrets import SecretKeyError

log = logging.getLogger(__name__)


def load(engine: Engine) -> list[tuple[BackendInfo, Factory]]:
    """Every stored endpoint as ``(info, factory)`` (one query)."""
    loaded = []
    with session(engine) as s:
        for stored in endpoints.list_endpoints(s):
            try:
                key = endpoints.api_key(stored)
            except SecretKeyError:
                log.warning("the API key of endpoint %r cannot be decrypted; using none", stored.slug)
                key = None
            loaded.append(endpoint(stored.slug, stored.display_name, stored.base_url, list(stored.models), key))
    return loaded
