"""The application object: what one Chatdeck process shares, built once from its settings.

An :class:`Application` holds

* ``env``: the settings it was built from (a copy of the environment; the database URL is read from it, while
  the backends' URLs, the reply bounds and the rate limit are still read where they are used, as before);
* ``engine``: the database engine for ``CHATDECK_DATABASE_URL`` (created and migrated on first use);
* ``registry``: the backends as this application sees them (providers/registry.py): the built-in ones, the
  custom endpoints stored in its database (runner/custom_backends.py) and those an admin switched off
  (access/policy.py), passed to the registry at construction; it also holds the Ai2 route memory;
* ``policy``: the cache of the admins' settings (access/policy.py);
* ``runner``: the generation runner and its model catalogue (``catalog``), started on first use;
* ``worker``: the prompt-set batch worker, started on first use;
* the health check's limiter (api/health.py).

``streamlit_app.lifespan`` builds it, starts it and closes it; in a process without that lifespan (AppTest,
tools) the first caller of :func:`current` builds it from ``os.environ``. The accessors the code has always
used ask it: ``storage.db.get_engine()``, ``runner.runner.get_runner()`` and ``arena.batch_worker.get_worker()``
through :func:`current`; ``registry.backend(name)`` (and ``all_backends``, ``create``, ``refresh``) and
``policy.current(engine)`` through :func:`running`, which builds nothing: where no application runs
(provider tests, tools) they see the built-in backends alone and read the policy afresh.

Tests build their own (``Application(env, engine=..., runner_options=...)``), :func:`install` it, and end
with :func:`reset`: the one call that stops and forgets everything the process shared.

Construction is cheap (nothing is connected or started); each part is created once, under a lock, by the
first thread that needs it: Streamlit's script threads, the runner's loop and the server's loop all read it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

import anyio
from sqlalchemy.engine import Engine

from access import policy as admin_policy
from providers import registry as backends
from providers.allenai import RouteMemory
from providers.base import BackendInfo
from storage import db

if TYPE_CHECKING:
    from arena.batch_worker import BatchWorker
    from runner.catalog import ModelCatalog
    from runner.runner import Runner


class Application:
    def __init__(self, env: Mapping[str, str] | None = None, *, engine: Engine | None = None,
                 runner_options: Mapping[str, Any] | None = None) -> None:
        """``env``: the settings (default ``os.environ`` as it is now); ``engine``: one the caller made and
        disposes of itself (default: one for the settings' database URL, created on first use);
        ``runner_options``: keyword arguments for :class:`runner.runner.Runner` (tests: a short flush)."""
        self.env: Mapping[str, str] = dict(os.environ if env is None else env)
        self._engine = engine
        self._owns_engine = engine is None
        self._runner_options = dict(runner_options or {})
        self._runner: Runner | None = None
        self._worker: BatchWorker | None = None
        self._limiter: anyio.CapacityLimiter | None = None
        self._lock = threading.Lock()  # creating the engine
        self._runner_lock = threading.Lock()  # creating the runner (which needs the engine)
        self._worker_lock = threading.Lock()  # creating the worker (which needs the runner)
        self._closed = False
        self.policy = admin_policy.PolicyCache()
        self.registry = backends.Registry(dynamic=self._custom_backends, disabled=self._disabled_backends,
                                          ai2_routes=RouteMemory())

    # --- the parts, each created on first use --------------------------------------------------------

    @property
    def database_url(self) -> str:
        """The settings' database URL (``CHATDECK_DATABASE_URL``, else the SQLite file in ``data/``)."""
        return db.database_url(self.env)

    @property
    def engine(self) -> Engine:
        engine = self._engine
        if engine is not None:
            return engine
        with self._lock:
            if self._engine is None:
                self._engine = db.make_engine(self.database_url)  # a failure is raised, and tried again next time
            return self._engine

    @property
    def runner(self) -> Runner:
        runner = self._runner
        if runner is not None:
            return runner
        from runner.runner import Runner

        with self._runner_lock:
            if self._runner is None:
                self._ensure_open()
                options = {"provider_factory": self.registry.create, **self._runner_options}
                self._runner = Runner(self.engine, **options)
            return self._runner

    @property
    def catalog(self) -> ModelCatalog:
        """Each backend's model list (the runner's, fetched on its loop)."""
        return self.runner.catalog

    @property
    def worker(self) -> BatchWorker:
        worker = self._worker
        if worker is not None:
            return worker
        from arena.batch_worker import BatchWorker

        with self._worker_lock:
            if self._worker is None:
                runner = self.runner
                self._ensure_open()
                self._worker = BatchWorker(runner.engine, runner)
            return self._worker

    def health_limiter(self) -> anyio.CapacityLimiter:
        """At most two health checks wait on the database at once (created inside the server's loop)."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(2)
        return self._limiter

    def _custom_backends(self) -> list[tuple[BackendInfo, backends.Factory]]:
        from runner import custom_backends

        return custom_backends.load(self.engine)

    def _disabled_backends(self) -> Collection[str]:
        return self.policy.current(self.engine).disabled

    def _ensure_open(self) -> None:
        if self._closed:
            raise RuntimeError("this Chatdeck application was closed")

    # --- start and stop ----------------------------------------------------------------------------

    def start(self) -> None:
        """Migrate the database, start the runner (it marks replies a restart cut off) and the batch worker
        (it resumes prompt-set batches a stop left unfinished)."""
        _ = self.worker  # built on the runner, which is built on the engine

    def close(self) -> None:
        """Stop the worker first (a reply the runner's stop cuts off must not count as answered), then the
        runner; dispose of the engine's connections if this application made it (a late reader may still
        use it: it connects again). Neither worker nor runner starts again. Idempotent."""
        with self._worker_lock, self._runner_lock, self._lock:
            self._closed = True
            worker, runner, engine = self._worker, self._runner, self._engine if self._owns_engine else None
            self._worker = self._runner = None
        if worker is not None:
            worker.stop()
        if runner is not None:
            runner.shutdown()
        if engine is not None:
            engine.dispose()


_current: Application | None = None
_current_lock = threading.Lock()


def running() -> Application | None:
    """The application of this process, if one was built (never builds one)."""
    return _current


def current() -> Application:
    """The application of this process; the first caller without one builds it from ``os.environ``."""
    app = _current
    if app is not None:
        return app
    with _current_lock:
        return _current if _current is not None else _install(Application())


def install(app: Application) -> Application:
    """Make ``app`` this process's application (closing the one it replaces); returns it."""
    with _current_lock:
        return _install(app)


def _install(app: Application) -> Application:
    global _current
    previous, _current = _current, app
    if previous is not None and previous is not app:
        previous.close()
    return app


def reset() -> None:
    """Close and forget this process's application (tests: the one call that resets every shared thing)."""
    global _current
    with _current_lock:
        app, _current = _current, None
    if app is not None:
        app.close()
