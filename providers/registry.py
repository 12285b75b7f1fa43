"""The list of backends Chatdeck can talk to, and how to build a provider for one.

Each backend module offers ``INFO`` (a :class:`BackendInfo`) and a factory
``create(client, credentials) -> Provider`` that reads its own configuration
(base URL and the like) from the environment; tests, benchmarks and demo mode
point those URLs at the bundled simulators. Adding a backend is one module and
one line in ``_BACKENDS``.

A :class:`Registry` is one view of them: the built-in backends, plus the dynamic ones (the custom
OpenAI-compatible endpoints an admin adds) from the ``dynamic`` source it is built with, cached for
:data:`DYNAMIC_TTL` seconds (:meth:`Registry.refresh` reloads them at once), with the backends an
admin switched off (the ``disabled`` source) given ``status="disabled"``. It also holds what its
providers remember between requests (the Ai2 routes). The application (application.py) builds one
with its sources; ``BACKENDS`` holds the built-in backends only.

The module-level :func:`all_backends`, :func:`backend`, :func:`create` and :func:`refresh` ask the
running application's registry, or :data:`BUILT_IN` (no dynamic backends, none disabled) when no
application runs in this process (provider tests, tools).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from functools import partial

import httpx

from providers import allenai, endpoint_urls, hailuo, huggingchat, huggingface
from providers.base import BackendInfo, Provider

Factory = Callable[[httpx.AsyncClient | None, Mapping[str, str] | None], Provider]


def _allenai(client: httpx.AsyncClient | None, _credentials: Mapping[str, str] | None,
             routes: allenai.RouteMemory | None = None) -> Provider:
    return allenai.AllenAI(
        base_url=os.environ.get("CHATDECK_ALLENAI_URL", allenai.DEFAULT_URL),
        protocol=os.environ.get("CHATDECK_ALLENAI_PROTOCOL", "auto"),
        client=client,
        routes=routes,
    )


def _huggingface_info() -> BackendInfo:
    """The Hugging Face backend as CHATDECK_HF_URL makes it (another server is named after its host)."""
    return huggingface.info_for(os.environ.get(huggingface.URL_ENV, huggingface.DEFAULT_URL),
                                os.environ.get(huggingface.KIND_ENV, "auto").strip().lower())


def _huggingface(client: httpx.AsyncClient | None, credentials: Mapping[str, str] | None) -> Provider:
    return huggingface.OpenAICompatible(
        base_url=endpoint_urls.from_environment(os.environ.get(huggingface.URL_ENV, huggingface.DEFAULT_URL),
                                                "CHATDECK_HF_URL"),  # never a user:password@ to send or show
        token=(credentials or {}).get("token"),
        client=client,
        display_name=_huggingface_info().display_name,
    )


_BACKENDS: list[tuple[BackendInfo, Factory]] = [
    (allenai.INFO, _allenai),
    (huggingface.INFO, _huggingface),
    (hailuo.INFO, hailuo.create),
    (huggingchat.INFO, huggingchat.create),
]

BACKENDS: dict[str, BackendInfo] = {info.name: info for info, _ in _BACKENDS}  # as first configured
_CONFIGURED: dict[str, Callable[[], BackendInfo]] = {huggingface.INFO.name: _huggingface_info}  # read at each call
_FACTORIES: dict[str, Factory] = {info.name: factory for info, factory in _BACKENDS}

DEFAULT_BACKEND = allenai.INFO.name  # needs no account, so a fresh install can chat at once


log = logging.getLogger(__name__)

DynamicSource = Callable[[], list[tuple[BackendInfo, Factory]]]  # the dynamic backends, loaded
DisabledSource = Callable[[], Collection[str]]  # the names of the backends an admin switched off (it caches)
DYNAMIC_TTL = 30.0  # seconds a loaded list of dynamic backends is trusted (other processes may change it)


class Registry:
    """The backends as one application sees them (see the module's docstring). Thread-safe."""

    def __init__(self, dynamic: DynamicSource | None = None, disabled: DisabledSource | None = None, *,
                 ai2_routes: allenai.RouteMemory | None = None) -> None:
        """``ai2_routes``: which Ai2 chat route answered at each base URL, shared by the Ai2 providers this
        registry builds (``None``: each provider remembers for itself)."""
        self._dynamic_source = dynamic
        self._disabled_source = disabled
        self._dynamic_lock = threading.Lock()
        self._dynamic: dict[str, tuple[BackendInfo, Factory]] = {}
        self._dynamic_loaded_at = float("-inf")
        self.ai2_routes = ai2_routes
        self._factories: dict[str, Factory] = {**_FACTORIES, allenai.INFO.name: partial(_allenai, routes=ai2_routes)}

    def refresh(self) -> None:
        """Reload the dynamic backends now (after an admin changed them)."""
        with self._dynamic_lock:
            self._dynamic_loaded_at = float("-inf")
        self._dynamic_backends()

    def _dynamic_backends(self) -> dict[str, tuple[BackendInfo, Factory]]:
        """The dynamic backends, reloaded from the source at most every DYNAMIC_TTL seconds."""
        with self._dynamic_lock:
            if self._dynamic_source is not None and time.monotonic() - self._dynamic_loaded_at > DYNAMIC_TTL:
                try:
                    entries = self._dynamic_source()
                    self._dynamic = {info.name: (info, factory) for info, factory in entries
                                     if info.name not in BACKENDS}
                except Exception:  # a failed load keeps the last known list
                    log.exception("could not load the custom backends")
                self._dynamic_loaded_at = time.monotonic()
            return dict(self._dynamic)

    def _disabled(self) -> Collection[str]:
        if self._disabled_source is None:
            return ()
        try:
            return self._disabled_source()
        except Exception:  # a failed read disables nothing; the runner checks again before sending
            log.exception("could not read which backends are disabled")
            return ()

    def all_backends(self) -> dict[str, BackendInfo]:
        """Every backend a user can pick: the built-in ones, then the dynamic ones."""
        disabled = self._disabled()
        every = {**_builtin(), **{name: info for name, (info, _) in self._dynamic_backends().items()}}
        return {name: _as_disabled(info, disabled) for name, info in every.items()} if disabled else every

    def backend(self, name: str) -> BackendInfo:
        if name in BACKENDS:
            info = _CONFIGURED[name]() if name in _CONFIGURED else BACKENDS[name]
            return _as_disabled(info, self._disabled())
        try:
            return _as_disabled(self._dynamic_backends()[name][0], self._disabled())
        except KeyError:
            raise KeyError(f"unknown backend {name!r}") from None

    def create(
        self, name: str, client: httpx.AsyncClient | None = None, credentials: Mapping[str, str] | None = None
    ) -> Provider:
        """A provider for ``name`` configured from the environment, using ``client`` if given.

        ``credentials`` are the user's (or the server's) login values for backends that need one,
        keyed by the names in ``BackendInfo.credential_fields``.
        """
        factory = self._factories.get(name) or self._dynamic_backends().get(name, (None, None))[1]
        if factory is None:
            raise KeyError(f"unknown backend {name!r}")
        return factory(client, credentials)


def _as_disabled(info: BackendInfo, disabled: Collection[str]) -> BackendInfo:
    return replace(info, status="disabled") if info.name in disabled and info.status != "disabled" else info


def _builtin() -> dict[str, BackendInfo]:
    """The built-in backends as their configuration describes them now."""
    return {name: _CONFIGURED[name]() if name in _CONFIGURED else info for name, info in BACKENDS.items()}


# The view when no application runs: built-in backends only, none disabled, no memory shared between providers.
BUILT_IN = Registry()


def current() -> Registry:
    """The running application's registry, else :data:`BUILT_IN` (never builds an application)."""
    from application import running

    app = running()
    return app.registry if app is not None else BUILT_IN


# --- the current registry's view, for callers that do not hold one -------------------------------------


def all_backends() -> dict[str, BackendInfo]:
    return current().all_backends()


def backend(name: str) -> BackendInfo:
    return current().backend(name)


def create(
    name: str, client: httpx.AsyncClient | None = None, credentials: Mapping[str, str] | None = None
) -> Provider:
    return current().create(name, client, credentials)


def refresh() -> None:
    """Reload the current registry's dynamic backends now (after an admin changed them)."""
    current().refresh()
