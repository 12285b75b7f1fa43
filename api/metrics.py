"""``GET /metrics``: this process's operational figures in Prometheus' text format (runner/metrics.py).

Who may read it: a scraper sending ``Authorization: Bearer $CHATDECK_METRICS_TOKEN`` (set that variable
to enable it), or an admin with one of their REST API tokens (Settings → API tokens). Anyone else gets
401. The figures are counts, durations and backend names; never a user, a prompt or an answer.
deploy/README.md shows the nginx rule that keeps the path to the internal network as well.
"""

from __future__ import annotations

import hmac
import logging
import os

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from access import identity
from api import shared, tokens
from runner import metrics
from storage.db import get_engine, session
from storage.models import User

log = logging.getLogger(__name__)

PATH = "/metrics"
TOKEN_ENV = "CHATDECK_METRICS_TOKEN"  # noqa: S105 - the variable's name, not a secret
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REFUSAL = "Send Authorization: Bearer with CHATDECK_METRICS_TOKEN or an admin's API token.\n"


def _metrics_token_matches(authorization: str | None) -> bool:
    expected = os.environ.get(TOKEN_ENV, "").strip()
    if not expected or not authorization:
        return False
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


def _admin_token(authorization: str | None) -> bool:
    """Whether the header carries a valid REST token of a user who is an admin."""
    try:
        owner = shared.authenticate_sync(authorization)
    except tokens.InvalidTokenError:
        return False
    cfg = identity.streamlit_config()
    with session(get_engine()) as s:
        user = s.get(User, owner)
        external_id = user.external_id if user is not None else ""
    return cfg.mode == identity.SINGLE or external_id in cfg.admins


def _refresh_live_gauges() -> None:
    from runner.runner import get_runner

    metrics.RUNNING.set(get_runner().active_count())
    sessions = _websocket_sessions()
    if sessions is not None:
        metrics.SESSIONS.set(sessions)


def _websocket_sessions() -> int | None:
    """Streamlit sessions with a connected websocket (None outside a Streamlit server)."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return None
    manager = getattr(Runtime.instance(), "_session_mgr", None)  # no public accessor in Streamlit 1.67
    return None if manager is None else int(manager.num_active_sessions())


async def handle(request: Request) -> Response:
    authorization = request.headers.get("authorization")
    allowed = _metrics_token_matches(authorization) or (
        authorization is not None and await run_in_threadpool(_admin_token, authorization))
    if not allowed:
        return PlainTextResponse(REFUSAL, 401, headers={"WWW-Authenticate": 'Bearer realm="metrics"',
                                                        "Cache-Control": "no-store"})
    body = metrics.render([_refresh_live_gauges])
    return Response(body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})
