"""HailuoAI (MiniMax's hailuo.ai web chat), with the user's own login from a browser tab.

Protocol: shared/protocols/web-backends.md §3 (and the README beside it). One route,
``POST /v4/api/chat/msg?<device query>`` with headers ``token`` and ``yy`` (the signature,
providers/hailuo_sign.py) and four multipart fields ``characterID``, ``msgContent``, ``chatID``,
``searchMode``. The answer is an SSE stream (providers/hailuo_wire.py).

Continuation: the first turn sends ``chatID=0`` (a new chat) and the whole history as one prompt;
the answer names the new chat, which is persisted as ``StateUpdate({"chatID", "characterID",
"account"})``. A follow-up sends that ``chatID`` and only the new user message. ``account`` is a
hash of the HailuoAI user id: a chat started under one account is never continued under another
(that account cannot see it), the conversation starts a new chat instead.

The login is three values from ``localStorage`` of a logged-in hailuo.ai tab (``INFO.setup_help``):
``_token``, ``USER_HARD_WARE_INFO`` (the device id) and ``UNIQUE_USER_ID`` (the user id).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, aclosing
from dataclasses import dataclass, field
from typing import Any

import httpx

from providers.base import (
    DEFAULT_TIMEOUT,
    BackendInfo,
    CredentialField,
    ModelInfo,
    format_prompt,
    last_user_message,
    new_client,
    with_system,
)
from providers.errors import (
    CredentialsError,
    UnexpectedResponseError,
    secrets_withheld,
    server_message,
    transport_errors,
)
from providers.errors import status_error as http_status_error
from providers.events import ChatMessage, ChatRequest, Event, StateUpdate
from providers.hailuo_sign import CHAT_PATH, device_query, yy
from providers.hailuo_wire import DISPLAY_NAME, ReplyParser, backend_error, parse_stream, status_of
from providers.lines import ERROR_BODY_BYTES, read_capped

DEFAULT_URL = "https://www.hailuo.ai"
MODEL = "minimax"  # the web chat has one model; the request names none
CHARACTER_ID = "1"  # the default assistant persona
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/136.0.0.0 Safari/537.36"
)
CHECK_MESSAGE = "Chatdeck connection check"

SETUP_HELP = """\
HailuoAI has no API keys for its web chat: Chatdeck uses the login of a browser tab.

1. Open [hailuo.ai](https://www.hailuo.ai) and log in.
2. Open the developer tools (**F12**, or **Cmd+Option+I** on a Mac), then
   **Application** (Chrome, Edge) or **Storage** (Firefox) → **Local Storage** → `https://www.hailuo.ai`.
3. Copy three values, without quotes:
   - `_token` → **Token** (a long text starting with `eyJ`),
   - `USER_HARD_WARE_INFO` → **Device id** (a long number),
   - `UNIQUE_USER_ID` → **User id** (looks like `0c7f0a1e-3b6d-…`).
4. **Save**, then **Check connection**. The check sends one short message ("Chatdeck connection check")
   in a new HailuoAI chat, so it shows up in your HailuoAI history.

When a reply says the login expired, log in on hailuo.ai again and paste the fresh `_token`; the device and
user ids normally stay the same. Logging out on hailuo.ai ends the token too.
"""

INFO = BackendInfo(
    name="hailuo",
    display_name=DISPLAY_NAME,
    needs_credentials=True,
    fallback_models=[ModelInfo(MODEL, "MiniMax (Hailuo AI)")],
    aliases={"MiniMax": MODEL},  # the seed's old default model name
    description="MiniMax's chat on hailuo.ai, with your own hailuo.ai login.",
    credential_fields=(
        CredentialField("token", "Token", "CHATDECK_HAILUO_TOKEN",
                        help="`_token` in the Local Storage of a logged-in hailuo.ai tab (starts with `eyJ`)."),
        CredentialField("device_id", "Device id", "CHATDECK_HAILUO_DEVICE_ID",
                        help="`USER_HARD_WARE_INFO` in the same Local Storage (a long number)."),
        CredentialField("user_id", "User id", "CHATDECK_HAILUO_USER_ID",
                        help="`UNIQUE_USER_ID` in the same Local Storage (a uuid)."),
    ),
    setup_help=SETUP_HELP,
    # a chat continues by its chatID alone, so a new version of a turn starts a new chat with the history; the old
    # chat keeps the old version, and choosing that version again restores the old chatID
    linear_chats=True,
    seed=3,
)


@dataclass(frozen=True)
class Login:
    token: str = field(repr=False)
    device_id: str
    user_id: str

    @classmethod
    def from_values(cls, values: Mapping[str, str] | None) -> Login | None:
        """The login from Settings or the environment; None unless all three values are there."""
        cleaned = {name: _clean((values or {}).get(name, "")) for name in ("token", "device_id", "user_id")}
        return cls(**cleaned) if all(cleaned.values()) else None

    @property
    def account(self) -> str:
        """Which HailuoAI account a chat belongs to, without storing the user id itself."""
        return hashlib.sha256(self.user_id.encode()).hexdigest()[:16]


def _clean(value: str) -> str:
    """A pasted value without surrounding space or the quotes the browser console shows."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].strip()
    return value


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class HailuoAI:
    name = INFO.name
    display_name = DISPLAY_NAME

    def __init__(
        self,
        login: Login | None,
        *,
        base_url: str = DEFAULT_URL,
        client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self.login = login
        self.base_url = base_url.rstrip("/")
        self._client = client  # None: a client of our own per call, closed after it
        self._timeout = timeout
        self._clock = clock  # milliseconds since the epoch, for the signature

    @property
    def secrets(self) -> tuple[str, ...]:
        """The login's values: what no error may repeat, even when HailuoAI quotes them back."""
        return (self.login.token, self.login.device_id, self.login.user_id) if self.login else ()


    async def events(self, request: ChatRequest) -> AsyncGenerator[Event, None]:  # check() closes it early
        login = self._required_login()
        state = request.state or {}
        chat_id = str(state.get("chatID") or "") if state.get("account") == login.account else ""
        if chat_id:  # the chat holds the history: send only what is new
            character_id = str(state.get("characterID") or CHARACTER_ID)
            content = last_user_message(request.messages)
        else:
            # a new chat: the history, with the system prompt marked "System:" (HailuoAI has no system prompt)
            content = format_prompt(with_system(request.messages, request.system))
            chat_id, character_id = "0", CHARACTER_ID
        async with AsyncExitStack() as stack:
            client = self._client
            if client is None:
                client = await stack.enter_async_context(new_client(self._timeout))
            response = await stack.enter_async_context(self._post(client, login, character_id, content, chat_id))
            await _check_stream_response(response)
            parser = ReplyParser({"characterID": character_id, "account": login.account})
            async for event in parse_stream(parser, response.aiter_bytes()):
                yield event

    def _post(
        self, client: httpx.AsyncClient, login: Login, character_id: str, content: str, chat_id: str
    ) -> AbstractAsyncContextManager[httpx.Response]:
        """The signed, streaming chat request.

        The timestamp is taken fresh for every request, not kept from the login as the seed does.
        The seed captured the browser's query string (with its ``unix``) once at login and reused it
        for every request until a re-login; we build the query ourselves, so nothing ties us to an
        old value. A fresh one is what the web app itself sends, and a server can check it only
        against its clock: a timestamp kept from login would stop working the day hailuo.ai
        enforces freshness (web-backends.md §7.1), a fresh one keeps working (given a server clock
        that is roughly right). The query's ``unix`` and the signed timestamp are one value: the
        server recomputes ``yy`` from what it receives.
        """
        unix = self._clock()
        path_and_query = f"{CHAT_PATH}?{device_query(login.user_id, login.device_id, unix)}"
        headers = {
            "token": login.token,
            "yy": yy(path_and_query, character_id, content, chat_id, unix),
            "Accept": "text/event-stream, application/json",
            "Referer": f"{DEFAULT_URL}/",
            "User-Agent": USER_AGENT,
        }
        fields = [("characterID", character_id), ("msgContent", content), ("chatID", chat_id), ("searchMode", "0")]
        files: list[tuple[str, Any]] = [(name, (None, value)) for name, value in fields]  # plain multipart parts
        return client.stream(
            "POST", self.base_url + path_and_query, files=files, headers=headers, timeout=self._timeout
        )

    def _required_login(self) -> Login:
        if self.login is None:
            raise CredentialsError(
                f"{DISPLAY_NAME} needs your login: paste the token, device id and user id in Settings",
                backend=DISPLAY_NAME,
            )
        return self.login

    async def list_models(self) -> list[ModelInfo]:
        """The one model of the web chat (there is no model list to fetch)."""
        return list(INFO.fallback_models)

    async def check(self) -> str:
        """Whether HailuoAI accepts this login, for Settings' "Check connection".

        The protocol documents one authenticated route, the chat itself, so that is the probe:
        a one-line message on a new chat. The verdict is in the first event (``send_result``: a
        chat id, or a status error such as an expired token), so we hang up right after it,
        before the model answers. The cost: the short chat stays in the user's HailuoAI history
        (Settings says so). An invented "who am I" route would cost nothing here and tell nothing
        there: against the real server it could only fail.
        """
        probe = ChatRequest(model=MODEL, messages=(ChatMessage("user", CHECK_MESSAGE),))
        events = self.events(probe)
        async with secrets_withheld(self.secrets), transport_errors(DISPLAY_NAME), aclosing(events):
            async for event in events:
                if isinstance(event, StateUpdate):
                    return f"{DISPLAY_NAME} accepted the login (a chat “{CHECK_MESSAGE}” was opened to check it)"
        raise UnexpectedResponseError(f"{DISPLAY_NAME} answered without opening a chat", backend=DISPLAY_NAME)


async def _check_stream_response(response: httpx.Response) -> None:
    """Anything but a 200 event stream becomes a ProviderError, in HailuoAI's own words where it has some.

    HailuoAI reports errors in a ``statusInfo`` envelope, with an HTTP error status or with 200 and a
    JSON body instead of the stream.
    """
    content_type = response.headers.get("content-type", "").lower()
    status = response.status_code
    if status == 200 and "text/event-stream" in content_type:
        return
    body, _ = await read_capped(response.aiter_bytes(), ERROR_BODY_BYTES)
    error = status_of(_json_or_none(body))
    retry_after = response.headers.get("retry-after")
    if status == 401:
        code, message = error or (None, server_message(body, content_type))
        raise backend_error(code, message, http_status=401)
    if error is not None:
        code, message = error
        problem = backend_error(code, message)
        if status < 400 or isinstance(problem, CredentialsError):
            raise problem
        raise http_status_error(status, f"{message} (code {code})", DISPLAY_NAME, retry_after)
    if status >= 400:
        raise http_status_error(status, server_message(body, content_type), DISPLAY_NAME, retry_after)
    what = f"an HTML page ({content_type})" if "html" in content_type else (content_type or "no content type")
    raise UnexpectedResponseError(
        f"{DISPLAY_NAME} answered HTTP {status} with {what} instead of an event stream",
        backend=DISPLAY_NAME,
        snippet=body[:500].decode("utf-8", "replace"),
    )


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def create(client: httpx.AsyncClient | None, credentials: Mapping[str, str] | None) -> HailuoAI:
    """The registry's factory: the base URL from ``CHATDECK_HAILUO_URL``, the login as given.

    (The runner passes the user's saved login, else the server's from ``CHATDECK_HAILUO_*``.)
    """
    return HailuoAI(
        Login.from_values(credentials), base_url=os.environ.get("CHATDECK_HAILUO_URL", DEFAULT_URL), client=client
    )
