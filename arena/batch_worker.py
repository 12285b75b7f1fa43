"""The batch worker: asks a prompt set's prompts of its columns, one comparison per prompt, in the background.

Why a worker of its own and not the page: a batch of hundreds of replies outlives any browser tab, must
wait (not fail) while the user's rate limit or a backend's own limit is reached, and must resume after a
server restart. One thread per process; the replies themselves go through the runner like every other
(page -> send -> runner -> provider), so each column streams, is saved and can be reopened as usual.

How it holds up:

* **One process per batch.** The worker takes a running batch by lease (storage/prompt_sets.claim) and
  renews it every :data:`POLL` seconds; a lapsed lease (its process died) is taken over by any process.
* **Waiting, not failing.** Before each prompt it asks :func:`access.limits.admit` for room for every
  column; while refused (rate limit, a backend switched off) or while a column's backend said it is
  rate-limited (its ``retry_until``), the batch waits and says why (``Batch.waiting``).
* **Restarts.** On a normal stop the worker lets go first, then the runner marks the replies it cut off
  "interrupted"; after a crash the runner's sweep does. A prompt found cut off like that is asked again
  from scratch (its half-answered comparison is deleted, ``restarts`` counts it). Backend failures are
  not redone (they stay in their column), except a column refused because its backend asked to slow
  down: that prompt is asked again once the backend's wait is over (at most :data:`MAX_RESTARTS` times).
* **Cancel.** A cancelled batch's pending prompts are not asked, and the replies being written are stopped.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from access import limits, policy
from runner import health
from runner.run import Run
from runner.runner import Runner
from services import sending
from storage import comparisons
from storage import health as health_store
from storage import prompt_sets as store
from storage.db import session
from storage.models import utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)
# What time it is for backends' own "retry after" times; tests replace it to step past one instead of waiting.
clock: Callable[[], datetime] = utcnow

MAX_RESTARTS = 3  # a prompt cut off this often is kept as it is (its columns show what happened)
POLL = 1.0  # seconds between looks while working: at the lease, at a cancel, at a rate limit that may have passed
IDLE = 5.0  # seconds between looks for a batch to work when there is none (a start here wakes it at once)


@dataclass(frozen=True)
class Claimed:
    id: str
    owner_id: int
    columns: list[tuple[str, str]]
    blind: bool
    private: bool


class BatchWorker:
    def __init__(self, engine: Engine, runner: Runner, *, poll: float = POLL, idle: float = IDLE,
                 lease: timedelta = LEASE) -> None:
        self.engine, self.runner, self.poll, self.idle, self.lease = engine, runner, poll, idle, lease
        replica = os.environ.get("CHATDECK_REPLICA") or socket.gethostname()
        self.name = f"{replica[:40]}-{uuid.uuid4().hex[:12]}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="chatdeck-batches", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look for work now (a batch was just started)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Let go of the batch being worked (before the runner stops, so no cut-off reply counts as done)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    # --- the loop ----------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self._work_one()
            except Exception:  # a bad batch must not stop every other one
                log.exception("batch worker: a batch failed; trying again shortly")
                worked = False
            if not worked:
                self._wake.wait(self.idle)
                self._wake.clear()

    def _work_one(self) -> bool:
        now = utcnow()
        with session(self.engine) as s:
            batch = store.claim(s, self.name, now=now, until=now + self.lease)
            if batch is None:
                return False
            claimed = Claimed(batch.id, batch.owner_id, [(c[0], c[1]) for c in batch.columns], batch.blind,
                              batch.private)
        try:
            self._run(claimed)
        finally:
            with session(self.engine) as s:
                store.release(s, claimed.id, self.name)
        return True

    def _renew(self, batch: Claimed, waiting: str | None = None) -> str | None:
        with session(self.engine) as s:
            return store.renew(s, batch.id, self.name, until=utcnow() + self.lease, waiting=waiting)

    def _run(self, batch: Claimed) -> None:
        while not self._stop.is_set():
            if self._renew(batch) != "running":
                return  # cancelled, or the lease went to another process
            with session(self.engine) as s:
                item = next((i for i in store.items(s, batch.id) if i.status in ("pending", "running")), None)
            if item is None:
                with session(self.engine) as s:
                    store.finish(s, batch.id)
                return
            if item.status == "running" and item.comparison_id:
                self._resume(batch, item.id, item.comparison_id, item.restarts)
            else:
                self._ask(batch, item.id, item.prompt, item.category)

    # --- one prompt --------------------------------------------------------------------------

    def _room(self, batch: Claimed) -> bool:
        """Wait until every column may be asked (rate limit, switched-off backend, a backend's own limit)."""
        backends = [b for b, _ in batch.columns]
        while not self._stop.is_set():
            why = ""
            try:
                with session(self.engine) as s:
                    limits.admit(s, batch.owner_id, backends)
                limited = self._limited(batch, backends)
                if limited:
                    why = "Waiting: " + ", ".join(limited) + " asked to slow down."
            except (limits.RateLimitedError, policy.BackendDisabledError) as refusal:
                why = f"Waiting: {refusal}"
            status = self._renew(batch, waiting=why)
            if status != "running":
                return False
            if not why:
                return True
            self._stop.wait(self.poll)
        return False

    def _limited(self, batch: Claimed, backends: list[str]) -> list[str]:
        """The backends that told this user to slow down, until a time still to come."""
        with session(self.engine) as s:
            states = health_store.for_owner(s, batch.owner_id)
        return [b for b in dict.fromkeys(backends) if b in states and states[b].state == health.RATE_LIMITED
                and (until := states[b].retry_until) is not None and until > clock()]

    def _ask(self, batch: Claimed, item_id: int, prompt: str, category: str) -> None:
        if not self._room(batch):
            return
        columns = list(batch.columns)
        if batch.blind:
            random.SystemRandom().shuffle(columns)  # position gives nothing away
        with session(self.engine) as s:
            comparison = comparisons.create(s, batch.owner_id, columns, blind=batch.blind, private=batch.private,
                                            category=category)
            comparison_id = comparison.id
            store.set_item(s, item_id, status="running", comparison_id=comparison_id)
        runs: dict[int, Run] = {}
        try:  # every column admitted at once, like a round on the compare page (services/sending.py)
            runs = dict(sending.send_round(self.runner, owner_id=batch.owner_id, comparison=comparison_id,
                                           prompt=prompt).runs)
        except (limits.RateLimitedError, policy.BackendDisabledError) as refusal:  # changed since the wait
            log.info("batch %s: the prompt was refused after the wait: %s", batch.id, refusal)
            with session(self.engine) as s:
                comparisons.add_round(s, batch.owner_id, comparison_id, prompt, {})
        self._follow(batch, item_id, list(runs.values()), comparison_id)

    def _follow(self, batch: Claimed, item_id: int, runs: list[Run], comparison_id: str) -> None:
        """Wait for the prompt's replies; then the item is done (failures and all), unless we were stopped
        or a column failed because its backend asked to slow down: then it is asked again after the wait."""
        for run in runs:
            while not run.saved.wait(self.poll):
                if self._stop.is_set():
                    return  # the runner's stop marks the reply interrupted; the next start asks again
                if self._renew(batch) != "running":
                    for other in runs:
                        self.runner.cancel(other.message_id)
                    break
        if self._stop.is_set():
            return
        limited = self._limited(batch, [r.provider for r in runs])
        with session(self.engine) as s:
            restarts = store.restarts(s, item_id)
            answers = comparisons.rounds(s, batch.owner_id, comparison_id, limit=1)
            failed = {m.provider for m in (answers[0].answers.values() if answers else []) if m.status == "error"}
            if failed & set(limited) and restarts < MAX_RESTARTS and self._renew(batch) == "running":
                store.discard_comparison(s, batch.owner_id, comparison_id)
                store.set_item(s, item_id, status="pending", restarted=True)
            else:
                store.set_item(s, item_id, status="done")

    def _resume(self, batch: Claimed, item_id: int, comparison_id: str, restarts: int) -> None:
        """A prompt found half-way: follow replies this process still writes, wait for others' writers to
        finish or be swept, ask again if a server stop cut a reply off, else it is done."""
        with session(self.engine) as s:
            rounds = comparisons.rounds(s, batch.owner_id, comparison_id, limit=1)
        answers: list[Any] = list(rounds[0].answers.values()) if rounds else []
        live = [r for r in (self.runner.get(m.id) for m in answers if m.status == "streaming") if r is not None]
        if live:
            self._follow(batch, item_id, live, comparison_id)
        elif any(m.status == "streaming" for m in answers):
            self._stop.wait(self.poll)  # another process is writing it, or its sweep will end it
            self._renew(batch)
        elif restarts < MAX_RESTARTS and (not answers or any(m.status == "partial" for m in answers)):
            with session(self.engine) as s:
                store.discard_comparison(s, batch.owner_id, comparison_id)
                store.set_item(s, item_id, status="pending", restarted=True)
        else:
            with session(self.engine) as s:
                store.set_item(s, item_id, status="done")


def get_worker() -> BatchWorker:
    """The current application's batch worker (application.py), on its runner (started on first use)."""
    from application import current

    return current().worker
