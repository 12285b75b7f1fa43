"""``POST /v1/chat/completions``: OpenAI's Chat Completions API, served by Chatdeck for every backend.

Any tool that speaks OpenAI's API reaches every backend of Chatdeck (web backends without an API of their
own included) with its user's own logins, limits and saved history. The pieces:

* api/v1_request.py: the body, checked; unsupported parameters refused by name;
* api/v1_models.py: ``backend/model`` ids and ``GET /v1/models``;
* api/v1_history.py: which conversation a request continues; the reply started through the runner;
* api/v1_answer.py: the answer, whole or as OpenAI's SSE stream; disconnects;
* api/v1_errors.py: OpenAI's error shape.

Tokens are the seed 002 endpoint's (api/tokens.py, issued in Settings), as are admission and rate limits.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from access.limits import RateLimitedError
from access.policy import BackendDisabledError
from api import shared, tokens, v1_history, v1_models, v1_request
from api.v1_answer import CONVERSATION_HEADER, DISCONNECT_HEADER, Answer
from api.v1_errors import V1Error, bad_request, rate_limited, unauthorized
from storage import repository as repo

log = logging.getLogger(__name__)

PATH = "/v1/chat/completions"
MAX_BODY = 16 * 1024 * 1024  # bytes: room for a few images as data URLs
ON_DISCONNECT = ("finish", "cancel")


async def handle(request: Request) -> Response:
    try:
        return await _handle(request)
    except V1Error as refusal:
        return refusal.response()
    except Exception:
        log.exception("the /v1 chat endpoint failed")
        return V1Error(500, "Chatdeck failed while handling the request.", "internal_error").response()


async def _read_body(request: Request) -> bytes:
    """The body, refused as soon as it grows past MAX_BODY (never held whole beyond that)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise V1Error(413, f"The request is larger than {MAX_BODY} bytes.", "request_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


async def _handle(request: Request) -> Response:
    try:
        owner = await shared.authenticate(request.headers.get("authorization"))
    except tokens.InvalidTokenError:
        raise unauthorized() from None
    body = v1_request.parse(await _read_body(request))
    explicit = request.headers.get(CONVERSATION_HEADER)
    if explicit is not None and not repo.is_conversation_id(explicit.strip()):
        raise V1Error(404, "No conversation of yours has this id.", "conversation_not_found", CONVERSATION_HEADER)
    on_disconnect = request.headers.get(DISCONNECT_HEADER, "finish").strip().lower()
    if on_disconnect not in ON_DISCONNECT:
        raise bad_request(f"{DISCONNECT_HEADER} must be 'finish' (the default) or 'cancel'.", DISCONNECT_HEADER)
    target = await run_in_threadpool(v1_models.resolve, body.model_id)
    if body.images and target.info is not None and not target.info.vision:
        raise bad_request(f"The model '{body.model_id}' does not accept images; GET /v1/models marks the ones "
                          "that do (chatdeck.vision).", "messages", "model_not_vision")
    try:
        run = await run_in_threadpool(v1_history.start, owner, target, body, explicit and explicit.strip())
    except RateLimitedError as limited:
        raise rate_limited(limited.message, limited.retry_after) from None
    except BackendDisabledError as disabled:  # switched off since the model was resolved
        raise V1Error(403, str(disabled), "backend_disabled", "model") from None
    return Answer(run, body, body.model_id, cancel_on_disconnect=on_disconnect == "cancel")
