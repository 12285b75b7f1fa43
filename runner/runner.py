"""The generation runner: every reply is generated here, never inside a page's script run.

One background asyncio loop per process runs each generation as a task:

    launch() ── a reply saved as "streaming" (services/sending.py admitted and saved it), scheduled as
    _drive()  ── provider.stream(request) → within the bounds (runner/bounds.py) → run.publish(event) → accumulator
    _flush_all ── writes every running reply's text so far to storage every 250 ms (one batch)
    final save ── text, status, timings and the backend's ids for the next turn
    liveness  ── touches the replies being written; interrupts those whose writer died (runner/liveness.py)

Readers (the chat page, later the compare page and the REST endpoint) tail a run
by sequence number with ``Run.wait``, which wakes them as soon as an event
arrives. A reload or a widget click ends the reader, not the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from access.credentials import credentials_for  # the login a reply is sent with (also imported from here)
from imaging import intake
from providers import registry
from providers.base import DEFAULT_TIMEOUT, Provider, tls_context
from providers.errors import ProviderError, UnavailableError, error_info
from providers.events import (
    Attachment,
    ChatMessage,
    ChatRequest,
    Event,
    Finished,
    Image,
    Options,
)
from providers.paced_reads import paced_transport
from runner import health, metrics, saving
from runner import liveness as reply_liveness
from runner.bounds import Bounds, ReplyCap, is_content
from runner.catalog import ModelCatalog
from runner.run import Run
from runner.versions import context_messages
from storage import backend_states
from storage import health as health_store
from storage import repository as repo
from storage.db import session

log = logging.getLogger(__name__)

ProviderFactory = Callable[[str, httpx.AsyncClient | None, Mapping[str, str] | None], Provider]

FLUSH_INTERVAL = 0.25  # seconds between partial saves while a reply streams...
FLUSH_PER_REPLY = 0.01  # ...at least this per reply streaming (the save writes each one's whole text)...
FLUSH_MAX = 1.0  # ...up to this: what a crash could lose of a reply's text, and how stale another replica's view is
HISTORY_LIMIT = 200  # messages of context sent on a first turn with a backend
KEEP_FINISHED = 120.0  # seconds a finished run stays in memory for late readers


@dataclass(frozen=True)
class Check:
    ok: bool
    message: str


def system_prompt_of(s: Session, owner_id: int, conversation_id: str) -> str:
    """The conversation's system prompt ("" for none), sent with every turn (ChatRequest.system)."""
    conversation = repo.get_conversation(s, owner_id, conversation_id)
    return conversation.system_prompt if conversation is not None else ""


@dataclass(frozen=True)
class Prepared:
    """A reply saved as "streaming", with the request and login to generate it (:meth:`Runner.launch`)."""

    run: Run
    request: ChatRequest
    login: Mapping[str, str] | None


def prepare_turn(
    s: Session, *, owner_id: int, conversation_id: str, provider: str, model: str, prompt: str,
    attachments: Sequence[Attachment] = (), options: Options | None = None, created_with: str | None = None,
) -> Prepared:
    """Save the user's message and an empty "streaming" reply in ``s``; the request that answers it.

    ``created_with``: the system prompt of a conversation the caller created in ``s`` (it has no history and
    no backend state yet, so nothing is read back); ``None`` for any other. The caller launches the reply
    once ``s`` is committed (:meth:`Runner.launch`).
    """
    model = registry.backend(provider).resolve_model(model)
    stored = [repo.encode_attachment(a.name, a.mime, a.data) for a in attachments]
    if created_with is None:
        history = repo.recent_messages(s, owner_id, conversation_id, limit=HISTORY_LIMIT - 1)  # before the prompt
        system = system_prompt_of(s, owner_id, conversation_id)
        state = backend_states.get_backend_state(s, conversation_id, provider, model)
    else:
        history, system, state = [], created_with, {}
    _, reply = repo.add_turn(s, owner_id, conversation_id, prompt=prompt, provider=provider, model=model,
                             attachments=stored)
    login = credentials_for(s, owner_id, provider)
    messages = [*context_messages(history), ChatMessage("user", prompt, tuple(attachments))]
    request = ChatRequest(model=model, messages=tuple(messages), options=options or Options(), state=state,
                          system=system)
    return Prepared(Run(reply.id, conversation_id, owner_id, provider, model), request, login)


def flush_pause(interval: float, streaming: int) -> float:
    """Seconds between partial saves with ``streaming`` replies running: ``interval``, or longer with many.

    A hundred replies of a few KB each rewritten every 250 ms were a tenth of the process's CPU
    (bench.load); once a second they cost a quarter of that, and a crash still loses at most a second.
    """
    return max(interval, min(FLUSH_MAX, FLUSH_PER_REPLY * streaming))


class Runner:
    def __init__(
        self,
        engine: Engine,
        *,
        provider_factory: ProviderFactory = registry.create,
        flush_interval: float = FLUSH_INTERVAL,
        heartbeat: float = reply_liveness.HEARTBEAT,
        stale_after: float = reply_liveness.STALE_AFTER,
        sweep_interval: float = reply_liveness.SWEEP_INTERVAL,
        bounds: Bounds | None = None,
        keep_finished: float = KEEP_FINISHED,
    ) -> None:
        self.engine = engine
        self._factory = provider_factory
        self._flush_interval = flush_interval
        self.bounds = bounds or Bounds.from_env()  # reply cap, idle and overall deadlines (runner/bounds.py)
        self._keep_finished = keep_finished
        self._runs: dict[int, Run] = {}
        self._runs_lock = threading.Lock()
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._stopping = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="chatdeck-runner", daemon=True)
        self._thread.start()
        metrics.watch_engine(engine)
        self._lag = metrics.LoopLag("runner")
        self._lag.start(self._loop)
        self._flusher_task: asyncio.Task[None] | None = None  # set by _flush_all, on the loop
        asyncio.run_coroutine_threadsafe(self._flush_all(), self._loop)
        self.catalog = ModelCatalog(
            self._loop, lambda name: self._provider(name, registry.backend(name).server_credentials())
        )
        for name in registry.all_backends():  # warm the model lists now, so no page rerun waits for them
            self.catalog.models(name)
        # Replies left "streaming" by a process that died; never those another replica is writing now.
        self.liveness = reply_liveness.Liveness(engine, self._writing, heartbeat=heartbeat, stale_after=stale_after,
                                                sweep_interval=sweep_interval)
        self.liveness.sweep()
        self.liveness.start(self._loop)

    # --- public API, called from any thread -------------------------------------------

    def start(
        self,
        *,
        owner_id: int,
        conversation_id: str,
        provider: str,
        model: str,
        prompt: str,
        attachments: Sequence[Attachment] = (),
        options: Options | None = None,
    ) -> Run:
        """Save the user's message, then generate the reply in the background.

        No admission here: a message a user sends goes through :mod:`services.sending`, which admits it and
        saves it in one transaction; this is for callers that admitted the request themselves.
        """
        with session(self.engine) as s:
            prepared = prepare_turn(s, owner_id=owner_id, conversation_id=conversation_id, provider=provider,
                                    model=model, prompt=prompt, attachments=attachments, options=options)
        return self.launch(prepared.run, prepared.request, prepared.login)

    def launch(self, run: Run, request: ChatRequest, login: Mapping[str, str] | None) -> Run:
        """Generate ``run``'s reply (already saved as "streaming") in the background."""
        run.had_login = login is not None
        run.base_extra.setdefault("state_before", dict(request.state))
        with self._runs_lock:
            self._runs[run.message_id] = run
        metrics.STARTED.inc(run.provider)
        run.future = asyncio.run_coroutine_threadsafe(self._drive(run, request, login), self._loop)
        return run

    def get(self, message_id: int) -> Run | None:
        with self._runs_lock:
            return self._runs.get(message_id)

    def cancel(self, message_id: int) -> bool:
        """Stop a reply: the backend connection is closed and the partial text kept."""
        run = self.get(message_id)
        if run is None or run.done or run.future is None:
            return False
        run.future.cancel()
        return True

    def check(self, backend: str, credentials: Mapping[str, str] | None, timeout: float = 20.0,
              owner_id: int | None = None) -> Check:
        """Try a login with the backend's cheapest authenticated call (an explicit action, never a rerun).

        With ``owner_id`` the result is also recorded as that user's view of the backend's health.
        """

        async def probe() -> str:
            provider = self._provider(backend, credentials)
            checker = getattr(provider, "check", None)
            if checker is not None:
                return str(await checker())
            models = await provider.list_models()
            return f"connected ({len(models)} models available)"

        info = registry.backend(backend)
        try:
            message = asyncio.run_coroutine_threadsafe(probe(), self._loop).result(timeout)
            outcome = health.Outcome(True, health.READY, message)
        except ProviderError as exc:
            outcome = health.from_error(info, error_info(exc), had_login=credentials is not None)
        except TimeoutError:
            outcome = health.from_error(
                info, error_info(UnavailableError(f"{info.display_name} did not answer within {timeout:.0f} s")),
                had_login=credentials is not None)
        # A check is when a new or removed model should show; a backend that failed it would fail the list too.
        refresh = self.catalog.refresh_soon(backend) if outcome.ok else None
        with contextlib.suppress(Exception):  # a failed list keeps the last one
            if refresh is not None:
                refresh.result(timeout)
        if owner_id is not None:
            with session(self.engine) as s:
                health_store.record(s, owner_id, backend, outcome, probe=True)
        if outcome.ok:
            return Check(True, outcome.message)
        return Check(False, f"{health.LABELS[outcome.state].capitalize()}: {outcome.message}. {outcome.fix}")

    def active_count(self) -> int:
        with self._runs_lock:
            return sum(1 for r in self._runs.values() if not r.done)

    def _writing(self) -> list[int]:
        """Ids of the replies this runner is generating or still saving now.

        A finished reply whose final save is being retried (runner/saving.py) stays touched, so no sweep
        marks it interrupted meanwhile; one whose save failed for good is left out, and a sweep marks it
        interrupted instead of it streaming for ever.
        """
        with self._runs_lock:
            return [message_id for message_id, run in self._runs.items()
                    if not run.saved.is_set() and not run.save_abandoned]

    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel running replies, save them, close connections and stop the loop (tests, shutdown)."""
        self._stopping = True
        self.liveness.stop(timeout)
        self._lag.stop()
        with self._runs_lock:
            runs = list(self._runs.values())
        for run in runs:
            if run.future is not None:
                run.future.cancel()
        for run in runs:
            run.saved.wait(timeout)

        async def close() -> None:
            flusher = self._flusher_task
            if flusher is not None:  # ended, not only asked to: a partial save it started is written to the end
                flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flusher
            for client in self._clients.values():
                await client.aclose()

        try:
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout)
        except TimeoutError:  # a save stuck on the database: stop anyway, said
            log.warning("runner shutdown: a save or a backend client did not finish within %.0f s", timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)

    # --- inside the loop --------------------------------------------------------------

    def _provider(self, name: str, credentials: Mapping[str, str] | None = None) -> Provider:
        """A provider for one run or check (called on the loop thread).

        Backends without a login share one warm HTTP client each, with cookies switched off so
        nothing one reply receives is sent with another. Backends with a login get a client
        of their own per call: a user's cookies never sit in a shared client.
        """
        if registry.backend(name).credential_fields:  # a login, needed or optional
            return self._factory(name, None, credentials)
        client = self._clients.get(name)
        if client is None:
            limits = httpx.Limits(max_keepalive_connections=10)
            client = httpx.AsyncClient(
                timeout=DEFAULT_TIMEOUT,
                limits=limits,
                cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
                verify=tls_context(),
                transport=paced_transport(tls_context(), limits),  # busy streams read in fewer reads
            )
            self._clients[name] = client
        return self._factory(name, client, None)

    async def _drive(self, run: Run, request: ChatRequest, credentials: Mapping[str, str] | None) -> None:
        try:
            stream = self._provider(run.provider, credentials).stream(request)
            try:
                await self._consume(run, stream)
            finally:
                await stream.aclose()  # type: ignore[attr-defined]  # closes the backend connection
        except asyncio.CancelledError:
            run.publish(Finished("cancelled"))
        except Exception as exc:  # a bug, not a backend failure: keep the text, say so
            log.exception("reply %s failed inside Chatdeck", run.message_id)
            failure = RuntimeError(f"Chatdeck failed while reading the answer ({type(exc).__name__})")
            run.publish(Finished("error", error=error_info(failure)))
        finally:
            if not run.done:  # the stream ended without Finished: a provider bug
                ended = RuntimeError("the backend stream ended without finishing")
                run.publish(Finished("error", error=error_info(ended)))
            if run.turn.reasoning:  # what the model sent says it reasons, whatever the model list said
                self.catalog.learn_reasoning(run.provider, run.model)
            finished = run.turn.finished
            if finished is not None and finished.error is not None and finished.error.kind == "unknown_model":
                self.catalog.refresh_soon(run.provider)  # the server's models changed: show its list now
            try:  # (a partial save racing with this one cannot overwrite it: runner/saving.py)
                if await saving.save_until_stored(lambda: self._save_final(run),
                                                  f"final save of reply {run.message_id}", run.note_failed_save):
                    run.saved.set()
                    metrics.reply_finished(run.provider, run.outcome(), run.started_at, run.first_token_at,
                                           run.finished_at, run.chars())
                else:
                    run.save_abandoned = True
            finally:  # even when the final save failed: a finished run never stays in memory for good
                self._loop.call_later(self._keep_finished, self._forget, run.message_id)

    async def _consume(self, run: Run, stream: AsyncIterator[Event]) -> None:
        """Publish the provider's events into ``run`` within the bounds (runner/bounds.py).

        Returning (the cap reached) or a deadline expiring leaves the stream for ``_drive`` to close,
        which closes the backend's connection; the text so far is kept either way.
        """
        bounds, loop = self.bounds, self._loop
        cap = ReplyCap(bounds.max_chars)
        give_up_at = loop.time() + bounds.overall
        deadline = asyncio.timeout(min(loop.time() + bounds.idle, give_up_at))
        try:
            async with deadline:
                async for raw in stream:
                    event, full = cap.admit(raw)
                    if isinstance(event, Image) and event.data is not None:  # through the image door, off the loop
                        event = await asyncio.to_thread(intake.admit_generated, event)
                    if event is not None:
                        run.publish(event)
                    if full:
                        run.publish(Finished("length", error=cap.note()))
                        return
                    if is_content(raw):
                        deadline.reschedule(min(loop.time() + bounds.idle, give_up_at))
        except TimeoutError:
            if not deadline.expired():
                raise  # not ours: a bug inside Chatdeck, reported as such by _drive
        if deadline.expired() and not run.done:  # (also when a provider swallowed the deadline's cancellation)
            name = registry.backend(run.provider).display_name
            expired = bounds.overall_error(name) if loop.time() >= give_up_at else bounds.idle_error(name)
            run.publish(Finished("error", error=error_info(expired)))

    async def _flush_all(self) -> None:
        """Every ``flush_interval``, the text so far of every running reply, in one transaction.

        One writer for all replies, not one per reply: a hundred replies streaming at once cost one
        statement instead of a hundred transactions contending for SQLite's single write lock (where the
        busy ones starved the others and their final saves met "database is locked"). The statement writes
        every reply's whole text, so its pause grows with the replies streaming (:func:`flush_pause`).
        """
        self._flusher_task = asyncio.current_task()
        streaming = 0
        while True:
            await asyncio.sleep(flush_pause(self._flush_interval, streaming))
            with self._runs_lock:
                streaming = sum(1 for run in self._runs.values() if not run.done)
                dirty = [run for run in self._runs.values() if not run.done and run.dirty]
            if dirty:
                try:
                    await saving.write_in_thread(saving.timed, "partial", saving.write_partials, self.engine, dirty)
                except Exception:  # a failed partial save must not end the replies; the next one catches up
                    log.exception("partial save of %d replies failed", len(dirty))

    async def _save_final(self, run: Run) -> None:
        await saving.write_in_thread(saving.timed, "final", saving.write_final, self.engine, run, self._stopping)

    def _forget(self, message_id: int) -> None:
        """Drop a finished run once its grace for late readers is over, and free its events.

        A reader still holding the run after that reads the reply from storage (pages do on their next
        rerun; the REST stream reads the accumulated text, which the run keeps).
        """
        with self._runs_lock:
            run = self._runs.pop(message_id, None)
        if run is not None:
            run.release()


def get_runner() -> Runner:
    """The current application's runner (application.py), started on first use."""
    from application import current

    return current().runner
