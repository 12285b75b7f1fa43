"""The list of backends Chatdeck can talk to, and how to build a provider for one.

Configuration comes from the environment (names in the README); tests,
benchmarks and demo mode point the base URLs at the bundled simulators.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx

from providers import allenai
from providers.base import BackendInfo, Provider

BACKENDS: dict[str, BackendInfo] = {
    allenai.INFO.name: allenai.INFO,
}

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
    if name == allenai.INFO.name:
        return allenai.AllenAI(
            base_url=os.environ.get("CHATDECK_ALLENAI_URL", allenai.DEFAULT_URL),
            protocol=os.environ.get("CHATDECK_ALLENAI_PROTOCOL", "auto"),
            client=client,
        )
    raise KeyError(f"unknown backend {name!r}")
