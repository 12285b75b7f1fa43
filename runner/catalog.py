"""Each backend's model list, fetched in the background and cached with a time limit.

Pages read ``models()`` on every rerun, so it never waits on the network: it
returns the cached list (or the backend's built-in fallback list) at once and,
when the cache is stale, schedules a refresh on the runner's loop. A reply that
failed for an unknown model and a "Check now" refresh it at once (``refresh_soon``):
the server's models changed, so the list cannot wait for its time limit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from providers import registry
from providers.base import ModelInfo, Provider

log = logging.getLogger(__name__)

TTL = 600.0  # seconds a fetched list is trusted
RETRY_AFTER = 60.0  # seconds before a failed fetch is tried again


@dataclass
class _Entry:
    models: list[ModelInfo]
    fetched_at: float
    live: bool  # from the backend (True) or the built-in fallback (False)
    error: str | None = None
    tool_servers: tuple[str, ...] = ()  # for backends with BackendInfo.tool_servers


class ModelCatalog:
    def __init__(self, loop: asyncio.AbstractEventLoop, provider: Callable[[str], Provider]) -> None:
        self._loop = loop
        self._provider = provider
        self._entries: dict[str, _Entry] = {}
        self._pending: dict[str, concurrent.futures.Future[None]] = {}  # fetches under way
        self._thinks: set[tuple[str, str]] = set()  # (backend, model) seen sending reasoning
        self._lock = threading.Lock()

    def models(self, backend: str) -> list[ModelInfo]:
        """The best list known now; never blocks."""
        with self._lock:
            entry = self._entries.get(backend)
            stale = entry is None or time.monotonic() - entry.fetched_at > (TTL if entry.live else RETRY_AFTER)
            if stale and backend not in self._pending:
                self._pending[backend] = asyncio.run_coroutine_threadsafe(self._refresh(backend), self._loop)
            thinks = {model for name, model in self._thinks if name == backend}
        models = entry.models if entry is not None and entry.models else registry.backend(backend).fallback_models
        return [replace(m, reasoning=True) if m.id in thinks and not m.reasoning else m for m in models]

    def tool_servers(self, backend: str) -> list[str]:
        """The tool servers (MCP) the backend listed with its models; never blocks (``models`` refreshes)."""
        with self._lock:
            entry = self._entries.get(backend)
            return list(entry.tool_servers) if entry is not None else []

    def learn_reasoning(self, backend: str, model: str) -> None:
        """``model`` sent reasoning: treat it as a reasoning model from now on, whatever its list says
        (some backends' lists do not know which models think)."""
        with self._lock:
            self._thinks.add((backend, model))

    def is_live(self, backend: str) -> bool:
        with self._lock:
            entry = self._entries.get(backend)
            return bool(entry and entry.live)

    def idle(self) -> bool:
        """No model list is being fetched right now."""
        with self._lock:
            return not self._pending

    def refresh_soon(self, backend: str, older_than: float = 0.0) -> concurrent.futures.Future[None] | None:
        """Fetch the list again in the background now if it is ``older_than`` seconds old or more; the fetch
        (or the one already under way) to wait for, if wanted; None when the list is younger."""
        with self._lock:
            if backend in self._pending:
                return self._pending[backend]
            entry = self._entries.get(backend)
            if entry is not None and time.monotonic() - entry.fetched_at < older_than:
                return None
            future = asyncio.run_coroutine_threadsafe(self._refresh(backend), self._loop)
            self._pending[backend] = future
            return future

    def refresh_now(self, backend: str, timeout: float = 15.0) -> list[ModelInfo]:
        """Fetch the list and wait for it (for an explicit "refresh" action, not for reruns)."""
        asyncio.run_coroutine_threadsafe(self._refresh(backend), self._loop).result(timeout)
        return self.models(backend)

    async def _refresh(self, backend: str) -> None:
        try:
            provider = self._provider(backend)
            models = await provider.list_models()
            entry = _Entry(models, time.monotonic(), live=bool(models), tool_servers=await _tool_servers(provider))
        except Exception as exc:  # any failure keeps the fallback list; the reason is kept for the UI
            log.info("model list of %s unavailable: %s", backend, exc)
            entry = _Entry([], time.monotonic(), live=False, error=str(exc))
        with self._lock:
            self._entries[backend] = entry
            self._pending.pop(backend, None)


async def _tool_servers(provider: Provider) -> tuple[str, ...]:
    """The provider's tool servers, where it lists some (``list_tool_servers``); none when that fails."""
    lister = getattr(provider, "list_tool_servers", None)
    if lister is None:
        return ()
    try:
        return tuple(await lister())
    except Exception as exc:  # the models are still good; only the tools are missing
        log.info("tool servers of %s unavailable: %s", getattr(provider, "name", "?"), exc)
        return ()
