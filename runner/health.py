"""What a finished reply or a connection check says about a backend's health, in plain words.

Pure: a ``Finished`` event (or a probe's error) in, an :class:`Outcome` out, with the state a
person would name ("login expired", "rate-limited", "protocol changed"), what went wrong and
how to fix it. Snippets of unexpected answers are redacted before they are stored or shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from providers.base import BackendInfo
from providers.events import Drift, ErrorInfo, Finished

READY = "ready"
NEEDS_CREDENTIALS = "needs_credentials"
CREDENTIALS_REJECTED = "credentials_rejected"
RATE_LIMITED = "rate_limited"
UNREACHABLE = "unreachable"
PROTOCOL_CHANGED = "protocol_changed"
FAILING = "failing"  # the backend answered with an error that is none of the above
UNKNOWN = "unknown"  # nothing observed yet
DISABLED = "disabled"  # switched off by an admin (BackendInfo.status)

LABELS = {
    READY: "ready", NEEDS_CREDENTIALS: "needs a login", CREDENTIALS_REJECTED: "login expired or rejected",
    RATE_LIMITED: "rate-limited", UNREACHABLE: "unreachable", PROTOCOL_CHANGED: "protocol changed",
    FAILING: "failing", UNKNOWN: "not used yet", DISABLED: "disabled by an admin",
}
UNUSABLE = {NEEDS_CREDENTIALS, CREDENTIALS_REJECTED, UNREACHABLE, PROTOCOL_CHANGED, DISABLED}


@dataclass(frozen=True)
class Outcome:
    ok: bool
    state: str
    message: str = ""
    fix: str = ""
    snippet: str = ""
    retry_after: float | None = None  # seconds
    protocol: str | None = None  # the protocol version in use, where a backend has several


def from_finished(info: BackendInfo, finished: Finished, *, had_login: bool,
                  state: Mapping[str, Any] | None = None, drift: Drift | None = None) -> Outcome | None:
    """The outcome of a reply; None when it says nothing about the backend: the user stopped it, or the
    backend refused that one request (a context too long, an unknown model: ``about_backend`` is false).

    A reply that arrived with lines Chatdeck could not read (``drift``) still counts as a success, with
    what was not read and its redacted snippet recorded for the Backends page.
    """
    protocol = _protocol(state)
    if finished.reason in ("stop", "length"):
        if drift is not None:
            return Outcome(True, READY, f"{drift.what} ({info.display_name} may have changed its format)",
                           "Report it with the snippet below if it keeps happening.",
                           snippet=redact(drift.snippet), protocol=protocol)
        return Outcome(True, READY, protocol=protocol)
    if finished.reason == "cancelled" or (finished.error is not None and not finished.error.about_backend):
        return None
    return from_error(info, finished.error, had_login=had_login, protocol=protocol)


def from_error(info: BackendInfo, error: ErrorInfo | None, *, had_login: bool,
               protocol: str | None = None) -> Outcome:
    """What ``error`` (a failed reply's or check's, as its record: providers.errors.error_info) says."""
    name = info.display_name
    error = error or ErrorInfo("internal", "the reply failed")
    message = error.message
    login = " and ".join(f.label for f in info.credential_fields) or "login"
    if error.kind == "credentials" or (error.status in (401, 403) and info.credential_fields):
        if not had_login:
            whose = login if login.startswith(name) else f"{name} {login}"  # never "Hugging Face Hugging Face token"
            return Outcome(False, NEEDS_CREDENTIALS, message, f"Add your {whose} in Settings.",
                           protocol=protocol)
        return Outcome(False, CREDENTIALS_REJECTED, message,
                       f"{name} login expired or was rejected: paste a fresh {login} in Settings.", protocol=protocol)
    if error.status == 429:
        wait = f"wait {error.retry_after:.0f} s" if error.retry_after is not None else "wait a minute"
        return Outcome(False, RATE_LIMITED, message, f"{name} is limiting requests: {wait}, then try again.",
                       retry_after=error.retry_after, protocol=protocol)
    if error.kind == "unavailable":
        return Outcome(False, UNREACHABLE, message,
                       f"{name} did not answer: check this server's network and the backend's URL setting; "
                       "the service may be down for a while.", protocol=protocol)
    if error.kind == "unexpected_response":
        return Outcome(False, PROTOCOL_CHANGED, message,
                       f"{name} answered in a format Chatdeck does not know: report it with the snippet below.",
                       snippet=redact(error.snippet), protocol=protocol)
    return Outcome(False, FAILING, message, f"{name} answered with an error; if it persists, check its status page.",
                   protocol=protocol)


def _protocol(state: Mapping[str, Any] | None) -> str | None:
    value = (state or {}).get("protocol")
    return value if isinstance(value, str) else None


_SECRETS = [
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer [redacted]"),
    (re.compile(r"(?i)(authorization|cookie|set-cookie|token|yy|api[_-]?key|password|secret)"
                r"(\"?\s*[:=]\s*\"?)([^\s\";,&]+)"), r"\1\2[redacted]"),
    (re.compile(r"\bhf_[A-Za-z0-9]{6,}"), "hf_[redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    (re.compile(r"(?i)\b(hf-chat|session|sid)=([^\s;]+)"), r"\1=[redacted]"),
    (re.compile(r"\b[A-Za-z0-9+/_-]{40,}={0,2}"), "[redacted]"),
]


def redact(text: str, limit: int = 500) -> str:
    """A snippet safe to store and show: cookies, tokens, signatures and key-like strings removed."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text[:limit]
