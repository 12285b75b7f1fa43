"""The list of backends Chatdeck can talk to, and how to build a provider for one.

Each backend module offers ``INFO`` (a :class:`BackendInfo`) and a factory
``create(client, credentials) -> Provider`` that reads its own configuration
(base URL and the like) from the environment; tests, benchmarks and demo mode
point those URLs at the bundled simulators. Adding a backend is one module and
one line in ``_BACKENDS``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

import httpx

from providers import allenai
from providers.base import BackendInfo, Provider

Factory = Callable[[httpx.AsyncClient | None, Mapping[str, str] | None], Provider]


def _allenai(client: httpx.AsyncClient | None, _credentials: Mapping[str, str] | None) -> Provider:
    return allenai.AllenAI(
        base_url=os.environ.get("CHATDECK_ALLENAI_URL", allenai.DEFAULT_URL),
        protocol=os.environ.get("CHATDECK_ALLENAI_PROTOCOL", "auto"),
        client=client,
    )


_BACKENDS: list[tuple[BackendInfo, Factory]] = [
    (allenai.INFO, _allenai),
]

BACKENDS: dict[str, BackendInfo] = {info.name: info for info, _ in _BACKENDS}
_FACTORIES: dict[str, Factory] = {info.name: factory for info, factory in _BACKENDS}

DEFAULT_BACKEND = allenai.INFO.name  # needs no account, so a fresh install can chat at once


def backend(name: str) -> BackendInfo:
    try:
        return BACKENDS[name]
    except KeyError:
        raise KeyError(f"unknown backend {name!r}") from None


def create(
    name: str, client: httpx.AsyncClient | None = None, credentials: Mapping[str, str] | None = None
) -> Provider:
    """A provider for ``name`` configured from the environment, using ``client`` if given.

    ``credentials`` are the user's (or the server's) login values for backends that need one,
    keyed by the names in ``BackendInfo.credential_fields``.
    """
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise KeyError(f"unknown backend {name!r}") from None
    return factory(client, credentials)
