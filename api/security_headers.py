"""Security headers on every HTTP response the app sends: a Content-Security-Policy and its companions.

The policy is the last fence against exfiltration by hostile content (markup/safe_markdown.py is the
first): even if some backend text became an ``<img>`` or a fetch, the browser would refuse to load
anything from a host Chatdeck did not choose. Streamlit 1.67 needs, and gets:

* scripts from its own ``/static`` files, plus the one inline ``<script>`` of its ``index.html``
  (allowed by its hash, computed from the installed file so a Streamlit upgrade keeps working), and
  WebAssembly compilation (``'wasm-unsafe-eval'``: its frontend compiles a WebAssembly module on
  every page; this allows no JavaScript ``eval`` and loads nothing);
* inline styles (its CSS-in-JS writes ``<style>`` elements and ``style`` attributes);
* images and media from the app itself and ``data:``/``blob:`` URLs (``st.image`` of stored images,
  uploads' previews), fonts from itself (and ``data:``);
* its websocket and fetches to the same origin (CSP 3: ``'self'`` covers ``ws:``/``wss:`` to the
  page's own host, so no bare ``ws:`` scheme that would allow any host);
* workers from ``blob:``; frames only from itself; nobody else may frame the app.

The same headers are set by ``deploy/nginx.conf`` for a proxied deployment. Wired in through
``st.App(middleware=...)`` in streamlit_app.py; this module draws nothing.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable, MutableMapping
from functools import cache
from pathlib import Path
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)


@cache
def streamlit_inline_script_hashes() -> tuple[str, ...]:
    """CSP source expressions (``'sha256-…'``) for the inline scripts of Streamlit's own index.html."""
    import streamlit

    index = Path(streamlit.__file__).parent / "static" / "index.html"
    try:
        html = index.read_text(encoding="utf-8")
    except OSError:
        return ()
    return tuple(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    )


@cache
def content_security_policy() -> str:
    scripts = " ".join(("'self'", "'wasm-unsafe-eval'", *streamlit_inline_script_hashes()))
    directives = [
        "default-src 'self'",
        f"script-src {scripts}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "frame-src 'self'",
        "frame-ancestors 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ]
    return "; ".join(directives)


def security_headers() -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", content_security_policy().encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"SAMEORIGIN"),  # frame-ancestors for browsers that predate it
    ]


class SecurityHeadersMiddleware:
    """ASGI middleware: adds the headers above to every HTTP response (replacing any of the same name)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers()
        names = {name for name, _ in extra}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)
