"""Writing replies to storage: the partial saves of all running replies at once, and the final save of
each, retried until it is in storage: nothing a user watched finish may be lost.

Under load SQLite answers "database is locked" once its busy timeout runs out, and a PostgreSQL connection
can drop (a restart, a failover). Either used to lose the reply: the exception ended the runner's task
unread, the row stayed "streaming" with the text of the last partial flush, and a later sweep marked it
interrupted. Here such a failure is logged and the save tried again, with a growing pause, for as long as
the process lives; ``run.saved`` is set only once the save succeeded. A failure that another try cannot
mend (a bug, a constraint) is logged and given up at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from providers import registry
from runner import health, metrics
from runner.accumulator import CANCELLED, INTERRUPTED, PARTIAL
from runner.run import Run
from storage import backend_states, liveness
from storage import health as health_store
from storage import repository as repo
from storage.db import session

log = logging.getLogger(__name__)
T = TypeVar("T")

FIRST_PAUSE = 0.05  # seconds before the second attempt
MAX_PAUSE = 5.0  # the pause doubles up to this


async def write_in_thread(write: Callable[..., T], *args: Any) -> T:
    """Run a database write in a worker thread, and see it to its end even when the awaiting task is cancelled.

    With ``asyncio.to_thread`` a cancelled task lets go at once while its thread writes on: a shutdown then
    disposed of the engine, or a test dropped its schema, under a write still holding its connection and locks
    (PostgreSQL reported the deadlock in a CI run). Here the cancellation waits for the write, then goes on.
    """
    future = asyncio.get_running_loop().run_in_executor(None, functools.partial(write, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):  # the write's own failure is not the news: the cancellation is
            await asyncio.shield(future)
        raise


def retryable(exc: BaseException) -> bool:
    """Whether trying the same save again may succeed: a locked or busy database, or a lost connection."""
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


async def save_until_stored(attempt: Callable[[], Awaitable[None]], what: str,
                            on_failure: Callable[[BaseException], None] | None = None) -> bool:
    """Await ``attempt()`` until it succeeds; ``True`` once it has, ``False`` if it failed for good.

    Cancellation (a shutdown) does not cut a save short: the attempt in progress and the retries go on
    until one succeeds or the loop itself stops. ``on_failure`` hears of every failed attempt.
    """
    return await shielded(asyncio.ensure_future(_retry(attempt, what, on_failure)))


async def shielded(task: asyncio.Future[T]) -> T:
    """``task``'s result, awaited to its end whatever cancellations arrive meanwhile (a shutdown)."""
    while not task.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)
    return task.result()


async def _retry(attempt: Callable[[], Awaitable[None]], what: str,
                 on_failure: Callable[[BaseException], None] | None) -> bool:
    pause, failures = FIRST_PAUSE, 0
    while True:
        try:
            await attempt()
        except Exception as exc:
            failures += 1
            if on_failure is not None:
                on_failure(exc)
            if not retryable(exc):
                log.exception("%s failed and cannot be retried; the reply is not stored", what)
                return False
            log.warning("%s failed (attempt %d, retrying in %.2f s): %s", what, failures, pause, exc)
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE)
            continue
        if failures:
            log.warning("%s succeeded after %d failed attempts", what, failures)
        return True


def timed(kind: str, write: Callable[..., None], *args: Any) -> None:
    """``write(*args)``, its duration and any failure counted in the metrics as a ``kind`` save."""
    started = time.perf_counter()
    try:
        write(*args)
    except Exception:
        metrics.SAVE_FAILURES.inc(kind)
        raise
    finally:
        metrics.SAVE_SECONDS.observe(time.perf_counter() - started, kind)


def _fields(run: Run) -> tuple[int, dict[str, Any]]:
    seq, fields = run.snapshot()
    fields["extra"] = {**run.base_extra, **fields["extra"]}
    if run.turn.state is not None:  # what switching back to this version restores
        fields["extra"]["backend_state"] = dict(run.turn.state)
    return seq, fields


def write_partials(engine: Engine, runs: Sequence[Run]) -> None:
    """The text so far of ``runs`` in one transaction (storage/liveness.py writes only replies still
    streaming, so a partial save that loses a race with a final save cannot overwrite it)."""
    snapshots = [(run, *_fields(run)) for run in runs]
    with session(engine) as s:
        liveness.save_streaming(s, [
            {"id": run.message_id, "conversation_id": run.conversation_id, "content": fields["content"],
             "reasoning": fields["reasoning"], "ttft_ms": fields["ttft_ms"], "extra": fields["extra"]}
            for run, _, fields in snapshots
        ])
    for run, seq, _ in snapshots:
        run._flushed_seq = seq


def write_final(engine: Engine, run: Run, stopping: bool) -> None:
    """The finished reply, with what it changes beside it: the backend's state for the next turn, the
    conversation's title, the user's view of the backend's health."""
    seq, fields = _fields(run)
    if stopping and fields["status"] == CANCELLED:  # cut off by a shutdown, not by the user
        fields["status"] = PARTIAL
        fields["error"] = INTERRUPTED
    with session(engine) as s:
        repo.update_message(s, run.message_id, **fields)
        if run.turn.state is not None:
            backend_states.save_backend_state(s, run.conversation_id, run.provider, run.model, run.turn.state)
        if run.turn.title:
            repo.rename_conversation(s, run.owner_id, run.conversation_id, run.turn.title)
        if run.turn.finished is not None and not stopping:
            outcome = health.from_finished(registry.backend(run.provider), run.turn.finished,
                                           had_login=run.had_login, state=run.turn.state, drift=run.turn.drift)
            if outcome is not None:
                health_store.record(s, run.owner_id, run.provider, outcome)
    run._flushed_seq = seq
