"""What admins decide for the whole server, read through a short cache (the application's).

* **Disabled backends**: switched off for everyone. The registry marks them ``status="disabled"`` (the
  application builds it with this module's view of them as its source), pickers say so, the compare page
  leaves them out, and the runner refuses to send to them (:func:`ensure_enabled`).
* **Server logins**: whether users without a login of their own may use the one the server has in its
  environment (``BackendInfo.server_credentials()``). In single-user mode the one user is the admin, so
  it is allowed unless switched off; in team modes only where an admin allowed it.
* **The default rate limit**: messages per minute per user (``CHATDECK_RATE_LIMIT``, default 20; 0: no
  limit), overridable on the Admin page; a user's own override is on their users row (access/limits.py).

These are server-wide values, the same for every user, stored in ``app_settings`` and cached by the
application (its :class:`PolicyCache`) for :data:`TTL` seconds: another replica sees a change within that
time, and the process that made the change sees it at once (its setters drop the cached copy).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from access import identity
from providers import registry
from storage import app_settings
from storage.db import session
from storage.usage import MAX_RATE_LIMIT

log = logging.getLogger(__name__)

TTL = 10.0  # seconds a loaded policy is trusted (other replicas may change it)
ENV_RATE_LIMIT = "CHATDECK_RATE_LIMIT"
DEFAULT_RATE_LIMIT = 20  # messages per minute per user

DISABLED_PREFIX = "backend_disabled:"  # + backend name -> true
SERVER_LOGIN_PREFIX = "server_login:"  # + backend name -> true / false (absent: the mode's default)
RATE_LIMIT_KEY = "rate_limit"  # -> messages per minute (absent: CHATDECK_RATE_LIMIT)


class BackendDisabledError(Exception):
    """The backend is switched off by an admin (the message is safe to show)."""


@dataclass(frozen=True)
class Policy:
    disabled: frozenset[str] = frozenset()
    server_logins: Mapping[str, bool] = field(default_factory=dict)  # the admins' explicit choices
    rate_limit: int = DEFAULT_RATE_LIMIT
    rate_limit_from_env: bool = True  # no admin has set the default here

    def server_login_allowed(self, backend: str, mode: str) -> bool:
        """Whether users may use the server's own login for ``backend`` in identity ``mode``."""
        choice = self.server_logins.get(backend)
        return choice if choice is not None else mode == identity.SINGLE


def env_rate_limit(env: Mapping[str, str] | None = None) -> int:
    """``CHATDECK_RATE_LIMIT`` (messages per minute per user, 0: no limit), else :data:`DEFAULT_RATE_LIMIT`."""
    raw = (os.environ if env is None else env).get(ENV_RATE_LIMIT, "").strip()
    if not raw:
        return DEFAULT_RATE_LIMIT
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_RATE_LIMIT:
        log.warning("%s=%r is not a number from 0 to %d; using %d", ENV_RATE_LIMIT, raw, MAX_RATE_LIMIT,
                    DEFAULT_RATE_LIMIT)
        return DEFAULT_RATE_LIMIT
    return value


def _parse(stored: Mapping[str, object]) -> Policy:
    disabled = frozenset(k.removeprefix(DISABLED_PREFIX) for k, v in stored.items()
                         if k.startswith(DISABLED_PREFIX) and v is True)
    logins = {k.removeprefix(SERVER_LOGIN_PREFIX): v for k, v in stored.items()
              if k.startswith(SERVER_LOGIN_PREFIX) and isinstance(v, bool)}
    limit = stored.get(RATE_LIMIT_KEY)
    if isinstance(limit, int) and not isinstance(limit, bool) and 0 <= limit <= MAX_RATE_LIMIT:
        return Policy(disabled, logins, limit, rate_limit_from_env=False)
    return Policy(disabled, logins, env_rate_limit())


def _key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def load(engine: Engine, last: Policy | None = None) -> Policy:
    """The policy stored in ``engine``'s database, read now (one small query); on failure ``last``, else
    the defaults (the failure is logged)."""
    try:
        with session(engine) as s:
            return _parse(app_settings.load_all(s))
    except Exception:  # keep the last known policy (or the defaults) and try again after the TTL
        log.exception("could not read the admins' settings")
        return last if last is not None else Policy(rate_limit=env_rate_limit())


class PolicyCache:
    """The policies of the databases one application reads, each at most :data:`TTL` seconds old.

    The application (application.py) holds one; thread-safe (Streamlit's script threads, the runner's
    loop and the server's loop all read it).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Policy]] = {}  # database URL -> (loaded at, policy)
        self._loading: set[str] = set()  # databases whose policy one thread is reloading now
        self._generation = 0  # bumped by invalidate(): a reload that began before it does not store what it read

    def current(self, engine: Engine) -> Policy:
        """The policy stored in ``engine``'s database, at most :data:`TTL` seconds old (one small query).

        When it has expired, one thread reloads it while the others carry on with the expired one: under
        load (every rerun asks, several times) they used to queue behind that one query, and behind its
        wait for a pooled connection.
        """
        key = _key(engine)
        cached = self._cache.get(key)
        if cached is not None and (time.monotonic() - cached[0] < TTL or key in self._loading):
            return cached[1]
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and (time.monotonic() - cached[0] < TTL or key in self._loading):
                return cached[1]
            self._loading.add(key)
            generation = self._generation
        try:
            policy = load(engine, cached[1] if cached is not None else None)
            with self._lock:
                if generation == self._generation:
                    self._cache[key] = (time.monotonic(), policy)
            return policy
        finally:
            with self._lock:
                self._loading.discard(key)

    def invalidate(self, engine: Engine | None = None) -> None:
        """Forget the cached policy (of ``engine``'s database, or all), so the next read loads it."""
        with self._lock:
            self._generation += 1
            if engine is None:
                self._cache.clear()
            else:
                self._cache.pop(_key(engine), None)


def _cache() -> PolicyCache | None:
    from application import running

    app = running()
    return app.policy if app is not None else None


def current(engine: Engine) -> Policy:
    """The policy stored in ``engine``'s database, through the running application's cache (at most
    :data:`TTL` seconds old); read afresh when no application runs in this process."""
    cache = _cache()
    return cache.current(engine) if cache is not None else load(engine)


def invalidate(engine: Engine | None = None) -> None:
    """Forget the running application's cached policy (of ``engine``'s database, or all)."""
    cache = _cache()
    if cache is not None:
        cache.invalidate(engine)


def engine_of(s: Session | Connection) -> Engine:
    """The engine a session or connection is bound to (policies are cached per database)."""
    if isinstance(s, Connection):
        return s.engine
    bind = s.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def mode() -> str:
    """The identity mode of this server: single, oidc or proxy (see access/identity.py)."""
    return identity.streamlit_config().mode


def server_login_allowed(engine: Engine, backend: str, mode_: str | None = None) -> bool:
    """Whether users may use the server's login for ``backend`` (the mode is read only when it matters)."""
    policy = current(engine)
    choice = policy.server_logins.get(backend)
    if choice is not None:
        return choice
    return policy.server_login_allowed(backend, mode_ if mode_ is not None else mode())


def ensure_enabled(engine: Engine, backend: str) -> None:
    """Raise :class:`BackendDisabledError` if an admin switched ``backend`` off."""
    info = registry.backend(backend)
    if info.status == "disabled" or backend in current(engine).disabled:
        raise BackendDisabledError(f"{info.display_name} is switched off by an admin. Pick another backend.")


# --- what the Admin page changes --------------------------------------------------------------------


def set_backend_enabled(engine: Engine, backend: str, enabled: bool) -> None:
    with session(engine) as s:
        if enabled:
            app_settings.remove(s, DISABLED_PREFIX + backend)
        else:
            app_settings.put(s, DISABLED_PREFIX + backend, True)
    invalidate(engine)


def set_server_login(engine: Engine, backend: str, allowed: bool) -> None:
    with session(engine) as s:
        app_settings.put(s, SERVER_LOGIN_PREFIX + backend, allowed)
    invalidate(engine)


def set_rate_limit(engine: Engine, limit: int | None) -> None:
    """Set the default messages per minute per user (0: no limit); ``None`` goes back to the environment's."""
    if limit is not None and not 0 <= limit <= MAX_RATE_LIMIT:
        raise ValueError(f"a rate limit is 0 to {MAX_RATE_LIMIT} messages per minute, not {limit}")
    with session(engine) as s:
        if limit is None:
            app_settings.remove(s, RATE_LIMIT_KEY)
        else:
            app_settings.put(s, RATE_LIMIT_KEY, limit)
    invalidate(engine)
