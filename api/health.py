"""``GET /api/health``: whether this replica can serve, database included (for load balancers and probes).

200 ``{"status": "ok", "database": "ok", "replica": "<name>"}`` when a ``SELECT 1`` answers within
:data:`TIMEOUT` seconds; otherwise 503 ``{"status": "unavailable", "database": "<short reason>", ...}``.
The reason names only the kind of failure (never the URL, a host, a user or a password); the details go
to the server's log. No authentication: nothing here is secret.

The replica's name is ``$CHATDECK_REPLICA``, else the host name. Streamlit's own ``/_stcore/health``
says only whether the server runs, not whether the database answers.
"""

from __future__ import annotations

import logging
import os
import socket

import anyio
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import JSONResponse

from application import current
from storage.db import PING_TIMEOUT, get_engine, ping

log = logging.getLogger(__name__)

PATH = "/api/health"
TIMEOUT = PING_TIMEOUT + 1.0  # seconds before a database that does not answer is reported unavailable
REPLICA_ENV = "CHATDECK_REPLICA"
HEADERS = {"Cache-Control": "no-store"}

def replica_name() -> str:
    return os.environ.get(REPLICA_ENV, "").strip() or socket.gethostname()


def reason(exc: BaseException) -> str:
    """A short description of a database failure that reveals nothing about the deployment."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {TIMEOUT:g} s"
    original = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    sqlstate = getattr(original, "sqlstate", None)
    return f"{type(original).__name__}" + (f" (SQLSTATE {sqlstate})" if sqlstate else "")


def _check() -> None:
    ping(get_engine())


async def handle(_request: Request) -> JSONResponse:
    # At most two checks wait on the database at once: probes of a hung database time out here instead of
    # filling the thread pool the app's other requests need (the application's, created inside the loop).
    limiter = current().health_limiter()
    replica = replica_name()
    try:
        with anyio.fail_after(TIMEOUT):
            await anyio.to_thread.run_sync(_check, abandon_on_cancel=True, limiter=limiter)
    except Exception as exc:
        log.warning("health check: the database is unavailable: %s", exc)
        return JSONResponse({"status": "unavailable", "database": reason(exc), "replica": replica}, 503,
                            headers=HEADERS)
    return JSONResponse({"status": "ok", "database": "ok", "replica": replica}, headers=HEADERS)
