"""Script runs take turns to draw: at most a few at once in this process, the others wait.

Every browser session's script runs in its own thread, and Python runs one thread at a time. With a
hundred sessions drawing at once (a burst of sends, a hundred live replies updating), they shared the
interpreter evenly: every rerun finished at about the same, late, moment, and the server's event loop
(websockets, health checks) waited its turn behind a hundred threads. Taking turns changes neither the
work nor the order of one session's updates: the first runs finish early instead of all finishing late,
and the event loop competes with a few threads instead of a hundred (``bench.load`` prints both).

A run holds its turn while it computes and draws, and gives it back while it waits for a live reply's
next text (:func:`waiting`), so a hundred streaming replies do not hold the turns between updates.
``CHATDECK_DRAW_TURNS`` sets how many runs draw at once (default 2: a run also waits on the database).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from runner import metrics

DEFAULT_TURNS = 2


class DrawTurns:
    """At most ``turns`` threads inside :meth:`turn` at once; :meth:`waiting` lends a held turn out.

    A freed turn is handed straight to the next waiter, first come first served, except that a run
    coming back from :meth:`waiting` (a live reply with new text: a short update) goes before runs
    that have not started drawing (a whole rerun): a reply's first token does not queue behind a
    burst of other people's sends.
    """

    def __init__(self, turns: int) -> None:
        self.turns = max(1, turns)
        self._free = self.turns
        self._lock = threading.Lock()
        self._resuming: deque[threading.Event] = deque()  # live updates waiting for a turn again
        self._starting: deque[threading.Event] = deque()  # script runs waiting for their first turn
        self._held = threading.local()  # whether this thread holds a turn now

    @property
    def queued(self) -> int:
        """Threads waiting for a turn now."""
        return len(self._resuming) + len(self._starting)

    def _acquire(self, resuming: bool) -> None:
        with self._lock:
            if self._free and not self._resuming and (resuming or not self._starting):
                self._free -= 1
                return
            handed = threading.Event()
            (self._resuming if resuming else self._starting).append(handed)
            metrics.DRAW_QUEUED.set(self.queued)
        started = time.perf_counter()
        handed.wait()  # set by the thread that gave its turn to this one
        metrics.DRAW_WAIT.observe(time.perf_counter() - started)

    def _release(self) -> None:
        with self._lock:
            queue = self._resuming or self._starting
            if queue:
                queue.popleft().set()  # the turn passes on without ever being free
                metrics.DRAW_QUEUED.set(self.queued)
            else:
                self._free += 1

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold a turn for the block (re-entrant: a nested call inside a held turn does nothing)."""
        if getattr(self._held, "on", False):
            yield
            return
        self._acquire(resuming=False)
        self._held.on = True
        try:
            yield
        finally:
            self._held.on = False
            self._release()

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Give this thread's turn back for the block (a wait on something else), take one again after."""
        if not getattr(self._held, "on", False):
            yield
            return
        self._held.on = False
        self._release()
        try:
            yield
        finally:
            self._acquire(resuming=True)
            self._held.on = True


def _configured() -> int:
    try:
        return int(os.environ.get("CHATDECK_DRAW_TURNS", DEFAULT_TURNS))
    except ValueError:
        return DEFAULT_TURNS


TURNS = DrawTurns(_configured())
turn = TURNS.turn
waiting = TURNS.waiting
