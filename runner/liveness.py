"""Which "streaming" replies still have a writer, when several processes share one database.

A reply is saved as ``streaming`` before it is generated and finished by the runner that writes it. If
that process dies, the reply would stay ``streaming`` for ever; but another replica's runner may be
writing any streaming reply it sees, so "interrupt every streaming reply at start-up" is wrong once
replicas share a database. Instead, each runner:

- touches the replies it is writing every ``heartbeat`` seconds, also when no token arrived (a slow
  reasoning model), so their ``updated_at`` stays recent;
- sweeps, at start and every ``sweep_interval`` seconds, the replies nobody has touched for
  ``stale_after`` seconds, marking them interrupted with their text kept (never its own replies).

The sweep reads the partial index of streaming messages (migration 0008), so it costs the same however
many messages there are. Replicas' clocks must agree to well within ``stale_after`` (use NTP).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from datetime import timedelta

from sqlalchemy.engine import Engine

from runner.saving import write_in_thread
from storage import liveness
from storage.db import session

log = logging.getLogger(__name__)

HEARTBEAT = 10.0  # seconds between touches of the replies a runner is writing
STALE_AFTER = 60.0  # seconds without a touch after which a streaming reply has no writer
SWEEP_INTERVAL = 30.0  # seconds between sweeps


class Liveness:
    """The heartbeat and the sweep of one runner, run as a task on the runner's loop."""

    def __init__(
        self,
        engine: Engine,
        writing: Callable[[], Collection[int]],
        *,
        heartbeat: float = HEARTBEAT,
        stale_after: float = STALE_AFTER,
        sweep_interval: float = SWEEP_INTERVAL,
    ) -> None:
        if not 0 < heartbeat * 2 <= stale_after or sweep_interval <= 0:
            raise ValueError("need 0 < 2 * heartbeat <= stale_after and sweep_interval > 0")
        self.engine = engine
        self._writing = writing  # ids of the replies this runner is writing now
        self.heartbeat = heartbeat
        self.stale_after = stale_after
        self.sweep_interval = sweep_interval
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def sweep(self) -> int:
        """Mark streaming replies nobody has touched for ``stale_after`` as interrupted (text kept).

        Spares this runner's own replies. Returns how many were marked.
        """
        with session(self.engine) as s:
            count = liveness.mark_interrupted(s, stale_after=timedelta(seconds=self.stale_after), spare=self._writing())
        if count:
            log.warning("marked %d replies that no process was writing any more as interrupted", count)
        return count

    def touch(self) -> int:
        """Mark this runner's replies as written just now; returns how many were touched."""
        ids = self._writing()
        if not ids:
            return 0
        with session(self.engine) as s:
            return liveness.touch(s, ids)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the heartbeat and the periodic sweep on ``loop`` (a running loop in another thread)."""
        self._loop = loop
        asyncio.run_coroutine_threadsafe(self._run(), loop)

    def stop(self, timeout: float = 5.0) -> None:
        """End the task (call before stopping the loop)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        async def cancel() -> None:
            task = self._task
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

        with contextlib.suppress(TimeoutError):
            asyncio.run_coroutine_threadsafe(cancel(), loop).result(timeout)
        self._loop = None

    async def _run(self) -> None:
        self._task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        next_touch = loop.time() + self.heartbeat
        next_sweep = loop.time() + self.sweep_interval
        while True:
            await asyncio.sleep(max(0.0, min(next_touch, next_sweep) - loop.time()))
            now = loop.time()
            if now >= next_touch:
                next_touch = now + self.heartbeat
                await self._quietly(self.touch)
            if now >= next_sweep:
                next_sweep = now + self.sweep_interval
                await self._quietly(self.sweep)

    @staticmethod
    async def _quietly(work: Callable[[], int]) -> None:
        """Run ``work`` in a thread; a failure (the database away for a moment) is logged, the next one retried."""
        try:
            await write_in_thread(work)
        except Exception as exc:
            log.warning("reply liveness: %s failed: %s", work.__name__, exc)
