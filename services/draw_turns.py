"""Script runs take turns to draw: at most a few at once in this process, the others wait.

Every browser session's script runs in its own thread, and Python runs one thread at a time. With a
hundred sessions drawing at once (a burst of sends, a hundred live replies updating), they shared the
interpreter evenly: every rerun finished at about the same, late, moment, and the server's event loop
(websockets, health checks) waited its turn behind a hundred threads. Taking turns changes neither the
work nor the order of one session's updates: the first runs finish early instead of all finishing late,
and the event loop competes with a few threads instead of a hundred (``bench.load`` prints both).

A run holds its turn while it computes and draws, and gives it back while it waits for a live reply's
next text (:func:`waiting`), so a hundred streaming replies do not hold the turns between updates.
Who goes next: a reply's first text, then runs that have not started (a send, a click), then the
live updates of replies already on screen, then the reruns that only redraw a finished reply as
stored (``turn(later=True)``: its text is on screen already, they add its buttons). A delayed
update is not lost work: the reader gathers the text that arrives meanwhile into it, so under a
burst of sends the replies already streaming update less often (and cost less) while everyone's
first token comes sooner. No update or redraw waits for ever behind sends: one that has waited
:data:`PATIENCE` goes before them (never before a first text), so a process busy without pause still
draws every update and redraw.
``CHATDECK_DRAW_TURNS`` sets how many runs draw at once. The default is 1: every thread that wants the
interpreter makes the two event loops (the server's websockets, the runner's backend streams) wait
longer for it after each wait for the network, and with a second run drawing, 100 chats at once saw
the runner's first token 3 s after the send instead of 1.6 s, and whole seconds of websocket messages
held back (bench.load, README "Many chats at once").
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from runner import metrics

DEFAULT_TURNS = 1
FIRST, STARTING, RESUMING, LATER = range(4)  # the classes of waiting runs, in the order they get turns
PATIENCE = 20.0  # seconds after which a waiting update or redraw goes before the runs not yet started


class _Waiter:
    __slots__ = ("handed", "since")

    def __init__(self) -> None:
        self.handed = threading.Event()  # set by the thread that gives its turn to this one
        self.since = time.monotonic()


class DrawTurns:
    """At most ``turns`` threads inside :meth:`turn` at once; :meth:`waiting` lends a held turn out.

    A freed turn is handed straight to the next waiter, first come first served within four classes
    that go in this order: runs coming back from ``waiting(first=True)`` (a reply's first text: a short
    update nobody should queue for), runs that have not started drawing (a whole rerun), the other
    runs coming back from :meth:`waiting` (the next update of a reply already showing text), and runs
    started with ``turn(later=True)`` (a redraw of what is on screen already). An update or a redraw
    that has waited ``patience`` seconds goes before the runs that have not started.
    """

    def __init__(self, turns: int, patience: float = PATIENCE) -> None:
        self.turns = max(1, turns)
        self.patience = patience
        self._free = self.turns
        self._lock = threading.Lock()
        # the runs waiting for a turn, by class (FIRST, STARTING, RESUMING, LATER): the order turns go in
        self._queues: tuple[deque[_Waiter], ...] = (deque(), deque(), deque(), deque())
        self._held = threading.local()  # whether this thread holds a turn now

    @property
    def queued(self) -> int:
        """Threads waiting for a turn now."""
        return sum(len(queue) for queue in self._queues)

    def _acquire(self, rank: int) -> None:
        """Take a turn as a run of class ``rank`` (an index into ``_queues``)."""
        with self._lock:
            if self._free and not any(self._queues[: rank + 1]):  # nobody of this class or a prior one waits
                self._free -= 1
                return
            waiter = _Waiter()
            self._queues[rank].append(waiter)
            metrics.DRAW_QUEUED.set(self.queued)
        waiter.handed.wait()
        metrics.DRAW_WAIT.observe(time.monotonic() - waiter.since)

    def _release(self) -> None:
        with self._lock:
            queue = self._next_queue()
            if queue is not None:
                queue.popleft().handed.set()  # the turn passes on without ever being free
                metrics.DRAW_QUEUED.set(self.queued)
            else:
                self._free += 1

    def _next_queue(self) -> deque[_Waiter] | None:
        """The queue whose head gets the next turn: a first text; else an update or redraw that has waited
        its patience (the longest waiting); else the first class with a waiter."""
        if self._queues[FIRST]:
            return self._queues[FIRST]
        now = time.monotonic()
        overdue = [q for q in self._queues[RESUMING:] if q and now - q[0].since >= self.patience]
        if overdue:
            return min(overdue, key=lambda q: q[0].since)  # a queue's head is the one of it waiting longest
        return next((q for q in self._queues if q), None)

    @contextmanager
    def turn(self, *, later: bool = False) -> Iterator[None]:
        """Hold a turn for the block (re-entrant: a nested call inside a held turn does nothing).

        ``later``: the run only redraws what is on screen; it waits until no other run wants a turn.
        """
        if getattr(self._held, "on", False):
            yield
            return
        self._acquire(LATER if later else STARTING)
        self._held.on = True
        try:
            yield
        finally:
            self._held.on = False
            self._release()

    @contextmanager
    def waiting(self, *, first: bool = False) -> Iterator[None]:
        """Give this thread's turn back for the block (a wait on something else), take one again after.

        ``first``: the wait is for a reply's first text, which goes before every other run after it.
        """
        if not getattr(self._held, "on", False):
            yield
            return
        self._held.on = False
        self._release()
        try:
            yield
        finally:
            self._acquire(FIRST if first else RESUMING)
            self._held.on = True


def _configured() -> int:
    try:
        return int(os.environ.get("CHATDECK_DRAW_TURNS", DEFAULT_TURNS))
    except ValueError:
        return DEFAULT_TURNS


TURNS = DrawTurns(_configured())
turn = TURNS.turn
waiting = TURNS.waiting
