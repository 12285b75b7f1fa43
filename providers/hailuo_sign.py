"""HailuoAI's request signing: the device query string and the ``yy`` header.

Pure functions, no I/O (shared/protocols/web-backends.md §3.2 and §3.3.1). Every chat request goes to
``/v4/api/chat/msg?<device query>`` and carries ``yy``, an MD5 chain over

* the path and query, percent-encoded as a whole (``/`` → ``%2F``, ``&`` → ``%26``, ``+`` → ``%2B`` …),
* the form fields ``characterID``, ``msgContent`` (line breaks removed) and ``chatID``
  (``searchMode`` takes no part), and
* the timestamp in milliseconds, the same value as the query's ``unix``.

The worked vectors of §3.3.1 are unit tests (tests/test_hailuo.py). The provider is providers/hailuo.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

CHAT_PATH = "/v4/api/chat/msg"
SALT = "ooui"


@dataclass(frozen=True)
class Browser:
    """What the web app reports about the browser in the query string (matches providers/hailuo.py's User-Agent)."""

    os_name: str = "Windows"
    browser_name: str = "chrome"
    cpu_core_num: int = 8
    browser_language: str = "en-US"
    browser_platform: str = "Win32"
    screen_width: int = 1920
    screen_height: int = 1080


def md5_hex(text: str) -> str:
    """Lowercase hex MD5 of the UTF-8 bytes of ``text``."""
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def form_encode(value: str) -> str:
    """One query value as the browser's ``URLSearchParams`` writes it.

    Letters, digits and ``*-._`` stay, a space becomes ``+``, everything else is percent-encoded
    (Python's ``quote_plus`` differs only in keeping ``~`` and encoding ``*``).
    """
    return quote_plus(value, safe="*").replace("~", "%7E")


def device_query(user_id: str, device_id: str, unix_ms: int, browser: Browser = Browser()) -> str:
    """The query string of a chat request: the web app's 15 parameters, in its order (§3.2)."""
    pairs = [
        ("device_platform", "web"),
        ("biz_id", "2"),
        ("app_id", "3001"),
        ("version_code", "22201"),
        ("lang", "en"),
        ("uuid", user_id),
        ("device_id", device_id),
        ("os_name", browser.os_name),
        ("browser_name", browser.browser_name),
        ("cpu_core_num", str(browser.cpu_core_num)),
        ("browser_language", browser.browser_language),
        ("browser_platform", browser.browser_platform),
        ("screen_width", str(browser.screen_width)),
        ("screen_height", str(browser.screen_height)),
        ("unix", str(unix_ms)),
    ]
    return "&".join(f"{form_encode(key)}={form_encode(value)}" for key, value in pairs)


def body_to_yy(character_id: str, msg_content: str, chat_id: str) -> str:
    """The form's part of the signature: four MD5s, 128 hex characters.

    The message is hashed with every ``\\r\\n``, ``\\n`` and ``\\r`` removed; the fourth term is
    the MD5 of the empty string (the web app hashes an ``undefined`` field there).
    """
    flat = msg_content.replace("\r\n", "").replace("\n", "").replace("\r", "")
    return md5_hex(character_id) + md5_hex(flat) + md5_hex(chat_id) + md5_hex("")


def encode_path(path_and_query: str) -> str:
    """The path and query percent-encoded as one value: only letters, digits and ``_.-~`` stay."""
    return quote(path_and_query, safe="")


def yy(path_and_query: str, character_id: str, msg_content: str, chat_id: str, timestamp_ms: int) -> str:
    """The ``yy`` header for one request (§3.3.1 steps 1–7).

    ``timestamp_ms`` must be the integer that is the query's ``unix`` value.
    """
    body = body_to_yy(character_id, msg_content, chat_id)
    return md5_hex(f"{encode_path(path_and_query)}_{body}{md5_hex(str(timestamp_ms))}{SALT}")
