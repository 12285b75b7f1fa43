"""The final save of a reply, retried until it is in storage: nothing a user watched finish may be lost.

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
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)
T = TypeVar("T")

FIRST_PAUSE = 0.05  # seconds before the second attempt
MAX_PAUSE = 5.0  # the pause doubles up to this


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
