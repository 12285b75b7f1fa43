"""The list of backends Chatdeck can talk to, and how to build a provider for one.

Each backend module offers ``INFO`` (a :class:`BackendInfo`: what the rest of Chatdeck may know of the
backend, as data) and a factory ``create(client, credentials) -> Backend`` that reads its own configuration
(base URL and the like) from the environment; tests, benchmarks and demo mode point those URLs at the bundled
simulators. :func:`create` wraps what it builds in ``Guarded`` (the Provider contract). Adding a backend is one
module, one simulator and one line in ``_BACKENDS``.

Besides these built-in backends there are dynamic ones (the custom OpenAI-compatible endpoints an
admin adds): a source installed with :func:`set_dynamic_source` lists them, and the registry
caches that list for :data:`DYNAMIC_TTL` seconds (:func:`refresh` reloads it at once). ``BACKENDS``
holds the built-in backends only; :func:`all_backends`, :func:`backend` and :func:`create` see both.

Backends an admin switched off come from another installed source (:func:`set_disabled_source`, see
access/policy.py): :func:`all_backends` and :func:`backend` give them ``status="disabled"``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import replace

import httpx

from providers import allenai, hailuo, huggingchat, openai_compatible
from providers.base import BackendInfo, Factory, Guarded, Provider

_BACKENDS: list[tuple[BackendInfo, Factory]] = [
    (allenai.INFO, allenai.create),
    (openai_compatible.INFO, openai_compatible.create),
    (hailuo.INFO, hailuo.create),
    (huggingchat.INFO, huggingchat.create),
]

BACKENDS: dict[str, BackendInfo] = {info.name: info for info, _ in _BACKENDS}  # as first configured
# descriptions that depend on the configuration, read at each call (CHATDECK_HF_URL names another server)
_CONFIGURED: dict[str, Callable[[], BackendInfo]] = {openai_compatible.INFO.name: openai_compatible.configured_info}
_FACTORIES: dict[str, Factory] = {info.name: factory for info, factory in _BACKENDS}

DEFAULT_BACKEND = allenai.INFO.name  # needs no account, so a fresh install can chat at once


def seed_first(names: Iterable[str]) -> list[str]:
    """``names`` with the design card's backends first (in their ``seed`` order), then the rest as given."""
    names = list(names)
    seeds = sorted((info.seed, name) for name, info in BACKENDS.items() if info.seed and name in names)
    first = [name for _, name in seeds]
    return first + [name for name in names if name not in first]


def rest_backend() -> str:
    """The backend that answers seed 002's REST endpoint (api/chat.py): the one whose description says so."""
    return next(name for name, info in BACKENDS.items() if info.rest_api)


log = logging.getLogger(__name__)

# --- dynamic backends (custom endpoints) ------------------------------------------------------------

DynamicSource = Callable[[], list[tuple[BackendInfo, Factory]]]  # e.g. providers.custom_endpoints.endpoint's
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
    keyed by the names in ``BackendInfo.credential_fields``. The backend the module's ``create`` builds is
    wrapped here, once, in :class:`providers.base.Guarded`: its ``stream`` never raises and ends with one Finished.
    """
    factory = _FACTORIES.get(name) or _dynamic_backends().get(name, (None, None))[1]
    if factory is None:
        raise KeyError(f"unknown backend {name!r}")
    return Guarded(factory(client, credentials))
