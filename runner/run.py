"""One generation: its events in order, the turn they add up to, and readers waiting for more.

The runner (runner/runner.py) publishes a provider's events into a :class:`Run`; pages and the REST
endpoint tail it by sequence number with :meth:`Run.wait`, woken as soon as an event arrives.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from typing import Any

from providers.events import Event, Finished, ReasoningDelta, TextDelta
from runner.accumulator import Accumulator


class Run:
    """One generation: its events in order, and the turn they add up to."""

    def __init__(self, message_id: int, conversation_id: str, owner_id: int, provider: str, model: str) -> None:
        self.message_id = message_id
        self.conversation_id = conversation_id
        self.owner_id = owner_id
        self.provider = provider
        self.model = model
        self.events: list[Event] = []
        self.turn = Accumulator()
        self.started_at = time.monotonic()
        self.first_token_at: float | None = None
        self.finished_at: float | None = None
        self.saved = threading.Event()  # set once the final state is in storage
        self.ended = threading.Event()  # set once Finished is published (readers wait on it between updates)
        self.future: Future[None] | None = None
        self._cond = threading.Condition()
        self._flushed_seq = 0
        self.had_login = False  # whether a login was sent (tells "needs a login" from "login rejected")
        self.base_extra: dict[str, Any] = {}  # kept in the reply's extra beside the turn's (runner/turns.py)
        self.failed_saves = 0  # failed attempts at the final save (runner/saving.py retries them)
        self.save_abandoned = False  # the final save failed in a way no retry can mend

    @property
    def done(self) -> bool:
        return self.turn.finished is not None

    def publish(self, event: Event) -> None:
        with self._cond:
            if self.done:
                return
            if self.first_token_at is None and isinstance(event, TextDelta | ReasoningDelta):
                self.first_token_at = time.monotonic()
            if isinstance(event, Finished):
                self.finished_at = time.monotonic()
            self.events.append(event)
            self.turn.apply(event)
            self._cond.notify_all()
        if self.done:
            self.ended.set()

    def wait(self, after: int, timeout: float) -> tuple[list[Event], bool]:
        """Events after sequence number ``after`` (blocks up to ``timeout`` for the first one).

        Returns the new events and whether the run has finished.
        """
        with self._cond:
            self._cond.wait_for(lambda: len(self.events) > after or self.done, timeout)
            return self.events[after:], self.done

    def text_so_far(self) -> tuple[int, str, str]:
        """The sequence number, answer text and reasoning text at this moment, consistently."""
        with self._cond:
            return len(self.events), self.turn.text, self.turn.reasoning

    def snapshot(self) -> tuple[int, dict[str, Any]]:
        """The sequence number and the message fields to save at this point."""
        with self._cond:
            fields = self.turn.fields()
            seq = len(self.events)
        fields["ttft_ms"] = elapsed_ms(self.first_token_at, self.started_at)
        fields["total_ms"] = elapsed_ms(self.finished_at, self.started_at)
        return seq, fields

    def release(self) -> None:
        """Free the events of a finished, saved run (the runner calls this once no reader should need them).

        The turn (its text, reasoning and fields) stays while anything still holds the run, so a reader that
        reads the text rather than the events is unaffected; one still tailing events sees the run end.
        """
        with self._cond:
            if self.done:
                self.events = []
                self._flushed_seq = 0
                self._cond.notify_all()

    def outcome(self) -> str:
        """The stored status the reply finished with (complete, partial, cancelled, error)."""
        with self._cond:
            return self.turn.status

    def chars(self) -> int:
        with self._cond:
            return len(self.turn.text) + len(self.turn.reasoning)

    def note_failed_save(self, _exc: BaseException) -> None:
        self.failed_saves += 1

    @property
    def dirty(self) -> bool:
        return len(self.events) != self._flushed_seq


def elapsed_ms(end: float | None, start: float) -> int | None:
    return None if end is None else round((end - start) * 1000)
