"""The provider error tree, and the one place transport errors are mapped into it (one table per HTTP library).

    ProviderError
    ├── CredentialsError        missing, expired or rejected login
    ├── HTTPStatusError         the backend answered with an error status
    │   └── RequestError        ... about this one request (too long, refused as invalid)
    │       └── UnknownModelError  ... which named a model the server does not have
    ├── UnavailableError        unreachable, timed out, overloaded
    └── UnexpectedResponseError the answer has a shape this client does not know

``ProviderError.about_backend`` says whether an error tells anything about the backend's health
(its login, rate limit, reachability, protocol): a :class:`RequestError` does not, so it stays that
reply's error and leaves the backend's state alone.

Messages are written for the person using the app: they name the backend and,
where one exists, the backend's own words. They never carry secrets: a backend's own
words may repeat the login it was sent (an error quoting the rejected token, a proxy's
page echoing the request), so a provider removes its login's values from every error
it reports (:func:`without_secrets`, :func:`secrets_withheld`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import replace
from urllib.parse import quote, quote_plus

import httpx

from providers.events import ErrorInfo, ErrorKind


class ProviderError(Exception):
    """Base of every error a provider reports."""

    about_backend = True  # whether it reflects the backend's health rather than one request's own problem

    def __init__(self, message: str, *, backend: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.backend = backend

    def __str__(self) -> str:
        return self.message


class CredentialsError(ProviderError):
    """Credentials are missing, expired or were rejected."""


class HTTPStatusError(ProviderError):
    """The backend answered with a non-success HTTP status."""

    def __init__(self, status: int, server_message: str, *, backend: str = "") -> None:
        text = f"HTTP {status}"
        if server_message:
            text += f": {server_message}"
        super().__init__(text, backend=backend)
        self.status = status
        self.server_message = server_message
        self.retry_after: float | None = None  # seconds, from a 429's Retry-After header


class RequestError(HTTPStatusError):
    """The backend refused this one request (a context too long, a body it will not take): the backend itself
    is fine, so the error is that reply's and moves no backend state."""

    about_backend = False


class UnknownModelError(RequestError):
    """The server has no model by the requested id; ``offered`` is the list it gave (empty when unknown)."""

    def __init__(self, status: int, model: str, offered: Iterable[str], server_message: str = "", *,
                 backend: str = "") -> None:
        super().__init__(status, server_message, backend=backend)
        self.model = model
        self.offered = tuple(offered)
        self.message = f"this server has no model {model!r}"
        if self.offered:
            shown = ", ".join(self.offered[:MAX_OFFERED])
            more = f" and {len(self.offered) - MAX_OFFERED} more" if len(self.offered) > MAX_OFFERED else ""
            self.message += f"; it offers {shown}{more}"
        elif server_message:
            self.message += f" (HTTP {status}: {server_message})"
        self.args = (self.message,)


MAX_OFFERED = 20  # model ids an unknown-model message lists


class UnavailableError(ProviderError):
    """The backend could not be reached, timed out or reported itself unable to answer."""


class UnexpectedResponseError(ProviderError):
    """The backend answered in a shape this client does not understand (protocol drift)."""

    def __init__(self, message: str, *, backend: str = "", snippet: str = "") -> None:
        super().__init__(message, backend=backend)
        self.snippet = snippet[:500]


REDACTED = "[redacted]"
MIN_SECRET_CHARS = 8  # shorter values are no secret worth the name, and would garble ordinary words


def redact_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` without any of ``secrets``, plain or URL-encoded: each becomes ``[redacted]``."""
    forms = {form for secret in secrets if len(secret.strip()) >= MIN_SECRET_CHARS
             for form in (secret.strip(), quote(secret.strip(), safe=""), quote_plus(secret.strip()))}
    for form in sorted(forms, key=len, reverse=True):  # a secret that contains another goes first
        text = text.replace(form, REDACTED)
    return text


def without_secrets(error: ProviderError, secrets: Iterable[str]) -> ProviderError:
    """``error`` (changed in place) with ``secrets`` removed from its message, snippet and server message."""
    secrets = tuple(secrets)
    if not secrets:
        return error
    error.message = redact_secrets(error.message, secrets)
    error.args = (error.message, *error.args[1:])
    if isinstance(error, UnexpectedResponseError):
        error.snippet = redact_secrets(error.snippet, secrets)
    if isinstance(error, HTTPStatusError):
        error.server_message = redact_secrets(error.server_message, secrets)
    return error


# Each class of the tree as the kind of its record, most specific first (a subclass defined elsewhere, such as
# a provider's own ProviderError, takes the kind of the nearest class named here).
_KINDS: tuple[tuple[type[ProviderError], ErrorKind], ...] = (
    (CredentialsError, "credentials"),
    (UnknownModelError, "unknown_model"),
    (RequestError, "request"),
    (HTTPStatusError, "http_status"),
    (UnavailableError, "unavailable"),
    (UnexpectedResponseError, "unexpected_response"),
    (ProviderError, "provider"),
)


def error_info(error: BaseException) -> ErrorInfo:
    """The record of ``error`` that ``Finished`` carries (the one place an exception becomes one).

    A provider's error must have had its login values removed first (:func:`without_secrets`): the record
    copies its message and snippet as they are. Anything but a ProviderError is of kind "internal".
    """
    if not isinstance(error, ProviderError):
        return ErrorInfo("internal", str(error), exception=type(error).__name__)
    kind = next(kind for cls, kind in _KINDS if isinstance(error, cls))
    status = error.status if isinstance(error, HTTPStatusError) else None
    retry_after = error.retry_after if isinstance(error, HTTPStatusError) else None
    snippet = error.snippet if isinstance(error, UnexpectedResponseError) else ""
    return ErrorInfo(kind, str(error), exception=type(error).__name__, backend=error.backend, status=status,
                     retry_after=retry_after, snippet=snippet, about_backend=error.about_backend)


def info_without_secrets(info: ErrorInfo, secrets: Iterable[str]) -> ErrorInfo:
    """``info`` with ``secrets`` removed from its message and snippet."""
    secrets = tuple(secrets)
    if not secrets:
        return info
    return replace(info, message=redact_secrets(info.message, secrets), snippet=redact_secrets(info.snippet, secrets))


@asynccontextmanager
async def secrets_withheld(secrets: Iterable[str]) -> AsyncIterator[None]:
    """ProviderErrors raised inside the block leave it without ``secrets`` (a provider's login values)."""
    try:
        yield
    except ProviderError as exc:
        without_secrets(exc, secrets)
        raise


# The transport-error mapping, one table: (exception types, error class, message), the first matching row wins.
# ``{backend}`` is the backend's display name, ``{kind}`` the exception's class name. httpx serves most backends;
# curl_cffi those behind bot protection (they need Chrome's TLS fingerprint).
ErrorTable = tuple[tuple[tuple[type[BaseException], ...], type[ProviderError], str], ...]


@functools.cache
def transport_table() -> ErrorTable:
    """The table (built at the first transport error: curl_cffi is imported only then)."""
    from curl_cffi.requests import exceptions as curl

    return (
        ((httpx.TimeoutException, curl.Timeout), UnavailableError, "{backend} timed out ({kind})"),
        ((httpx.ConnectError, httpx.NetworkError), UnavailableError, "{backend} is unreachable ({kind})"),
        ((httpx.RemoteProtocolError, curl.IncompleteRead, curl.ChunkedEncodingError), UnavailableError,
         "{backend} closed the connection mid-answer"),
        ((curl.ConnectionError,), UnavailableError, "{backend} is unreachable ({kind})"),
        ((httpx.DecodingError, curl.ContentDecodingError), UnexpectedResponseError,
         "{backend} sent a body that cannot be decoded"),
        ((curl.RequestException,), UnavailableError, "{backend} request failed ({kind})"),
    )


def transport_error(exc: BaseException, backend: str) -> ProviderError | None:
    """The ProviderError the table gives for ``exc``, or None when it is no transport error of either library."""
    for kinds, error_class, message in transport_table():
        if isinstance(exc, kinds):
            return error_class(message.format(backend=backend, kind=type(exc).__name__), backend=backend)
    return None


@asynccontextmanager
async def transport_errors(backend: str) -> AsyncIterator[None]:
    """Translate transport exceptions (httpx's or curl_cffi's) raised inside the block into ProviderErrors."""
    try:
        yield
    except Exception as exc:
        error = transport_error(exc, backend)
        if error is None:
            raise
        raise error from exc


def server_message(body: bytes, content_type: str) -> str:
    """The backend's own error text from an error body, whatever envelope it uses.

    Understands ``{"error": {"message"}}``, ``{"error": "text"}``, RFC 9457
    problem+json (``title``/``detail``/``errors``) and ``{"message"}``; an HTML
    page is reported as such instead of being dumped.
    """
    text = body.decode("utf-8", errors="replace").strip()
    if "html" in content_type or text[:15].lower().startswith(("<!doctype", "<html")):
        return "the server answered with an HTML page instead of JSON"
    try:
        data = json.loads(text)
    except ValueError:
        return text[:300]
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"][:300]
        if isinstance(err, str):
            return err[:300]
        if "detail" in data or "title" in data:
            parts = [str(data[k]) for k in ("title", "detail") if isinstance(data.get(k), str)]
            errors = data.get("errors")
            if isinstance(errors, list):
                for item in errors[:3]:
                    if isinstance(item, dict) and "msg" in item:
                        loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                        parts.append(f"{loc}: {item['msg']}" if loc else str(item["msg"]))
            return ": ".join(parts)[:300]
        if isinstance(data.get("message"), str):
            return data["message"][:300]
    return text[:300]


async def raise_for_status(response: httpx.Response, backend: str) -> None:
    """Raise the matching ProviderError for an error response (reads the body)."""
    if response.status_code < 400:
        return
    from providers.lines import ERROR_BODY_BYTES, read_capped  # (lines.py imports this module)

    body, _ = await read_capped(response.aiter_bytes(), ERROR_BODY_BYTES)
    message = server_message(body, response.headers.get("content-type", ""))
    raise status_error(response.status_code, message, backend, response.headers.get("retry-after"))


def status_error(status: int, message: str, backend: str, retry_after: str | None = None) -> ProviderError:
    """The ProviderError for an error status whose body was already read (``message``: its own words)."""
    if status == 429:
        hint = f" (retry after {retry_after} s)" if retry_after else ""
        error = HTTPStatusError(429, f"rate limited{hint}: {message}", backend=backend)
        error.retry_after = _seconds(retry_after)
        return error
    if status in (502, 503, 504):
        return UnavailableError(f"{backend} is unavailable (HTTP {status}): {message}", backend=backend)
    return HTTPStatusError(status, message, backend=backend)


def _seconds(retry_after: str | None) -> float | None:
    """Retry-After as seconds: a number of seconds, or an HTTP date."""
    if not retry_after:
        return None
    try:
        return max(0.0, float(retry_after))
    except ValueError:
        pass
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(retry_after)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
