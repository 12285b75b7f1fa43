"""Which chat requests the simulated HailuoAI accepts, and how it refuses the rest.

``read_chat`` checks a recorded ``POST /v4/api/chat/msg`` in this order and returns the ``Turn``
it asks for, or raises ``Rejected`` carrying the answer:

1. the ``token`` header names a known login        else HTTP 401 (web-backends.md §5.3 X4)
2. the device query string is complete             else 200 JSON, code 1000002
3. the form has its four fields                    else 200 JSON, code 1000002
4. ``yy`` matches the signature recomputed here    else 200 JSON, code 1000003
5. ``unix`` is within ``max_skew`` of the clock    else 200 JSON, code 1000004
6. the login has not expired                       else an SSE status error (X3) or HTTP 401 (X4)
7. ``chatID`` is 0 (new chat) or a chat of this login's user   else 200 JSON, code 1200010

The real server is closed source: only the event names and a few keys are certain (§7.1). The
error codes and the choice of HTTP 200 with a JSON ``statusInfo`` envelope for request errors are
invented for the simulator (the envelope's own ``httpCode`` suggests the real one works that way).
The signature is recomputed here from what was received, independently of providers/hailuo_sign.py.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from simulators.common import RecordedRequest

QUERY_KEYS = (
    "device_platform", "biz_id", "app_id", "version_code", "lang", "uuid", "device_id", "os_name",
    "browser_name", "cpu_core_num", "browser_language", "browser_platform", "screen_width", "screen_height", "unix",
)  # fmt: skip
FORM_FIELDS = ("characterID", "msgContent", "chatID", "searchMode")

INVALID_PARAMS = 1000002
BAD_SIGNATURE = 1000003
STALE_REQUEST = 1000004
TOKEN_EXPIRED = 1200036  # X3
CHAT_NOT_FOUND = 1200010
UNAUTHORIZED = 1004  # X4


@dataclass
class Account:
    """One HailuoAI login the simulator knows. ``expired``: None, "status" (X3) or "401" (X4)."""

    token: str
    device_id: str
    user_id: str
    expired: str | None = None


@dataclass
class SimChat:
    id: str
    user_id: str
    title: str
    messages: list[tuple[str, str]] = field(default_factory=list)  # (role, content) in order


@dataclass
class Turn:
    """A valid chat request: whose, which chat (None: a new one), what was asked."""

    account: Account
    chat: SimChat | None
    content: str
    character_id: str


class Rejected(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def payload(type_: int, data: dict[str, Any], code: int = 0, message: str = "Success", http_code: int = 0) -> dict:
    """HailuoAI's envelope around every answer and event."""
    status = {"code": code, "httpCode": http_code, "message": message}
    if type_ == 1:
        status |= {"serviceTime": int(time.time()), "requestID": "sim-request", "debugInfo": "", "isAnonymous": False}
    return {"type": type_, "statusInfo": status, "data": data}


def json_error(status: int, code: int, message: str) -> Response:
    """An error answered as a JSON envelope (HTTP ``status``; 200 for request errors)."""
    body = payload(3, {}, code, message, http_code=status if status != 200 else 0)
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), status, media_type="application/json")


def sse(event: str, obj: dict[str, Any]) -> bytes:
    """One event as the server writes it: ``event:`` and ``data:`` without spaces, compact UTF-8 JSON."""
    return f"event:{event}\ndata:{json.dumps(obj, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


def expected_yy(path: str, raw_query: str, form: dict[str, str], unix: str) -> str:
    """The signature the server expects for this request (web-backends.md §3.3.1)."""

    def md5(text: str) -> str:
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

    flat = "".join(ch for ch in form["msgContent"] if ch not in "\r\n")
    body = md5(form["characterID"]) + md5(flat) + md5(form["chatID"]) + md5("")
    return md5(urllib.parse.quote(f"{path}?{raw_query}", safe="") + "_" + body + md5(unix) + "ooui")


def read_chat(
    record: RecordedRequest,
    raw_query: str,
    accounts: dict[str, Account],
    chats: dict[str, SimChat],
    *,
    max_skew: float | None,
) -> Turn:
    """The turn a chat request asks for, or ``Rejected`` (checks in the order of the module doc)."""
    account = accounts.get(record.headers.get("token", ""))
    if account is None:
        raise Rejected(json_error(401, UNAUTHORIZED, "unauthorized"))
    query = record.query
    missing = [key for key in QUERY_KEYS if not query.get(key) or query[key] == "null"]
    if missing or not query["unix"].isdigit():
        raise Rejected(json_error(200, INVALID_PARAMS, f"invalid params: {', '.join(missing) or 'unix'}"))
    form = record.form
    if "multipart/form-data" not in record.content_type or any(name not in form for name in FORM_FIELDS):
        raise Rejected(json_error(200, INVALID_PARAMS, "invalid params: form"))
    if record.headers.get("yy") != expected_yy(record.path, raw_query, form, query["unix"]):
        raise Rejected(json_error(200, BAD_SIGNATURE, "Invalid request signature"))
    if max_skew is not None and abs(int(query["unix"]) / 1000 - time.time()) > max_skew:
        raise Rejected(json_error(200, STALE_REQUEST, "request time is out of range, check your clock"))
    if account.expired == "401":
        raise Rejected(json_error(401, UNAUTHORIZED, "unauthorized"))
    if account.expired:
        events = sse("send_result", payload(3, {}, TOKEN_EXPIRED, "Token expired, please log in again"))
        events += sse("close_chunk", payload(8, {}))
        raise Rejected(Response(events, 200, media_type="text/event-stream"))
    content = form["msgContent"]
    if not form["characterID"].isdigit() or form["searchMode"] not in ("0", "1") or not content.strip():
        raise Rejected(json_error(200, INVALID_PARAMS, "invalid params: characterID, msgContent or searchMode"))
    chat = None
    if form["chatID"] != "0":
        chat = chats.get(form["chatID"])
        if chat is None or chat.user_id != account.user_id:
            raise Rejected(json_error(200, CHAT_NOT_FOUND, "chat not found"))
    return Turn(account, chat, content, form["characterID"])
