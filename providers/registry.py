"""The list of backends Chatdeck can talk to, and how to build a provider for one.

Each backend module offers ``INFO`` (a :class:`BackendInfo`) and a factory
``create(client, credentials) -> Provider`` that reads its own configuration
(base URL and the like) from the environment; tests, benchmarks and demo mode
point those URLs at the bundled simulators. Adding a backend is one module and
one line in ``_BACKENDS``.

Besides these built-in backends there are dynamic ones (the custom OpenAI-compatible endpoints an
admin adds): a source installed with :func:`set_dynamic_source` lists them, and the registry
caches that list for :data:`DYNAMIC_TTL` seconds (:func:`refresh` reloads it at once). ``BACKENDS``
holds the built-in backends only; :func:`all_backends`, :func:`backend` and :func:`create` see both.

Backends an admin switched off come from another installed source (:func:`set_disabled_source`, see
access/policy.py): :func:`all_backends` and :func:`backend` give them ``status="disabled"``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace

import httpx

from providers import allenai, endpoint_urls, hailuo, huggingchat, openai_compatible
from providers.base import BackendInfo, Provider

Factory = Callable[[httpx.AsyncClient | None, Mapping[str, str] | None], Provider]


def _allenai(client: httpx.AsyncClient | None, _credentials: Mapping[str, str] | None) -> Provider:
    return allenai.AllenAI(
        base_url=os.environ.get("CHATDECK_ALLENAI_URL", allenai.DEFAULT_URL),
        protocol=os.environ.get("CHATDECK_ALLENAI_PROTOCOL", "auto"),
        client=client,
    )


def _huggingface_info() -> BackendInfo:
    """The Hugging Face backend as CHATDECK_HF_URL makes it (another server is named after its host)."""
    return openai_compatible.info_for(os.environ.get(openai_compatible.URL_ENV, openai_compatible.DEFAULT_URL),
                                      os.environ.get(openai_compatible.KIND_ENV, "auto").strip().lower())


def _huggingface(client: httpx.AsyncClient | None, credentials: Mapping[str, str] | None) -> Provider:
    return openai_compatible.OpenAICompatible(
        base_url=endpoint_urls.from_environment(
            os.environ.get(openai_compatible.URL_ENV, openai_compatible.DEFAULT_URL), "CHATDECK_HF_URL"
        ),  # never a user:password@ to send or show
        token=(credentials or {}).get("token"),
        client=client,
        display_name=_huggingface_info().display_name,
    )


_BACKENDS: list[tuple[BackendInfo, Factory]] = [
    (allenai.INFO, _allenai),
    (openai_compatible.INFO, _huggingface),
    (hailuo.INFO, hailuo.create),
    (huggingchat.INFO, huggingchat.create),
]

BACKENDS: dict[str, BackendInfo] = {info.name: info for info, _ in _BACKENDS}  # as first configured
# read at each call
_CONFIGURED: dict[str, Callable[[], BackendInfo]] = {openai_compatible.INFO.name: _huggingface_info}
_FACTORIES: dict[str, Factory] = {info.name: factory for info, factory in _BACKENDS}

DEFAULT_BACKEND = allenai.INFO.name  # needs no account, so a fresh install can chat at once


log = logging.getLogger(__name__)

# --- dynamic backends (custom endpoints) ------------------------------------------------------------

DynamicSource = Callable[[], list[tuple[BackendInfo, Factory]]]
DYNAMIC_TTL = 30.0  # seconds a loaded list of dynamic backends is trusted (other processes may change it)

_dynamic_lock = threading.Lock()
_dynamic_source: DynamicSource | None = None
_dynamic: dict[str, tuple[BackendInfo, Factory]] = {}
_dynamic_loaded_at = float("-inf")


def set_dynamic_source(source: DynamicSource | None) -> None:
    """Install the function that lists the dynamic backends (``None`` removes them all)."""
    global _dynamic_source, _dynamic_loaded_at
    with _dynamic_lock:
        _dynamic_source = source
        _dynamic.clear()
        _dynamic_loaded_at = float("-inf")


def dynamic_source_installed() -> bool:
    return _dynamic_source is not None


def refresh() -> None:
    """Reload the dynamic backends now (after an admin changed them)."""
    global _dynamic_loaded_at
    with _dynamic_lock:
        _dynamic_loaded_at = float("-inf")
    _dynamic_backends()


def _dynamic_backends() -> dict[str, tuple[BackendInfo, Factory]]:
    """The dynamic backends, reloaded from the source at most every DYNAMIC_TTL seconds."""
    global _dynamic, _dynamic_loaded_at
    with _dynamic_lock:
        if _dynamic_source is not None and time.monotonic() - _dynamic_loaded_at > DYNAMIC_TTL:
            try:
                entries = _dynamic_source()
                _dynamic = {info.name: (info, factory) for info, factory in entries if info.name not in BACKENDS}
            except Exception:  # a failed load keeps the last known list
                log.exception("could not load the custom backends")
            _dynamic_loaded_at = time.monotonic()
        return dict(_dynamic)


# --- backends an admin switched off -----------------------------------------------------------------

DisabledSource = Callable[[], Collection[str]]

_disabled_source: DisabledSource | None = None


def set_disabled_source(source: DisabledSource | None) -> None:
    """Install the function naming the backends an admin disabled (it caches; ``None``: none are).

    :func:`all_backends` and :func:`backend` then give those backends ``status="disabled"``.
    """
    global _disabled_source
    _disabled_source = source


def _disabled() -> Collection[str]:
    source = _disabled_source
    if source is None:
        return ()
    try:
        return source()
    except Exception:  # a failed read disables nothing; the runner checks again before sending
        log.exception("could not read which backends are disabled")
        return ()


def _as_disabled(info: BackendInfo, disabled: Collection[str]) -> BackendInfo:
    return replace(info, status="disabled") if info.name in disabled and info.status != "disabled" else info


def _builtin() -> dict[str, BackendInfo]:
    """The built-in backends as their configuration describes them now."""
    return {name: _CONFIGURED[name]() if name in _CONFIGURED else info for name, info in BACKENDS.items()}


def all_backends() -> dict[str, BackendInfo]:
    """Every backend a user can pick: the built-in ones, then the dynamic ones."""
    disabled = _disabled()
    every = {**_builtin(), **{name: info for name, (info, _) in _dynamic_backends().items()}}
    return {name: _as_disabled(info, disabled) for name, info in every.items()} if disabled else every


def backend(name: str) -> BackendInfo:
    if name in BACKENDS:
        info = _CONFIGURED[name]() if name in _CONFIGURED else BACKENDS[name]
        return _as_disabled(info, _disabled())
    try:
        return _as_disabled(_dynamic_backends()[name][0], _disabled())
    except KeyError:
        raise KeyError(f"unknown backend {name!r}") from None


def create(
    name: str, client: httpx.AsyncClient | None = None, credentials: Mapping[str, str] | None = None
) -> Provider:
    """A provider for ``name`` configured from the environment, using ``client`` if given.

    ``credentials`` are the user's (or the server's) login values for backends that need one,
    keyed by the names in ``BackendInfo.credential_fields``.
    """
    factory = _FACTORIES.get(name) or _dynamic_backends().get(name, (None, None))[1]
    if factory is None:
        raise KeyError(f"unknown backend {name!r}")
    return factory(client, credentials)
