"""HuggingChat (huggingface/chat-ui): huggingface.co/chat, or a team's self-hosted chat-ui.

The protocol (shared/protocols/observed-servers.md, which wins over web-backends.md §1), every path
relative to the base URL:

* ``GET /api/v2/models``: the model list (superjson; ``multimodal`` marks vision models; whether a model
  reasons is not to be trusted there: it is learned from the reasoning it sends);
* ``POST /conversation`` (JSON ``{"model", "preprompt"?}``) → ``conversationId``, once per (our conversation, model);
* the parent message id: the last message of ``GET /api/v2/conversations/{id}``, or, where that route
  answers 404 and ``__data.json`` still has the messages (servers before June 2025), of that; when it
  has none (``nodes: [null, null]``, today's server for any id) the conversation is gone;
* ``POST /conversation/{id}``: multipart, a ``data`` JSON part (``inputs``, ``id``, ``is_retry``; web
  search and tools are no request flags any more) and base64 ``files`` parts, with an ``Origin``
  header; the answer is JSON lines (NUL-padded tokens with inline ``<think>`` reasoning, keep-alives,
  a 4096-space tail);
* ``GET /conversation/{id}/output/{sha}``: a generated file, with the same login;
* ``GET /api/v2/user``: who the cookies belong to (``null``: an anonymous session), for ``check()``.

The transport is curl_cffi with Chrome's TLS fingerprint (the site sits behind bot protection). The
login is the cookie jar: ``hf-chat`` (the session, all a self-hosted chat-ui without a login needs) and,
where the user has one, ``token`` (huggingface.co couples the session with it), sent as a ``Cookie``
header only to URLs under the base URL; redirects are not followed and cookies the server sets are not
kept, so nothing reaches another host or another user's request.

State per (conversation, model): ``conversationId`` and ``messageId`` (the last message, the parent of
the next turn). A first turn sends the formatted history, later turns only the new user message; when
the server lost the conversation (deleted, or another login's: a 404), the same turn starts a new one
with the history and says so in a ``Notice``. The pure wire readers are in providers/huggingchat_wire.py.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from curl_cffi import CurlMime
from curl_cffi.requests import AsyncSession

from providers.base import ModelInfo, format_prompt, new_attachments
from providers.base import last_user_message as last_user_text
from providers.errors import (
    CredentialsError,
    ProviderError,
    UnexpectedResponseError,
    redact_secrets,
    secrets_withheld,
    server_message,
    status_error,
    transport_errors,
)
from providers.events import Attachment, ChatRequest, Drift, Event, Image, Notice, StateUpdate
from providers.huggingchat_info import INFO
from providers.huggingchat_wire import (
    DISPLAY_NAME,
    SESSION_COOKIE,
    TOKEN_COOKIE,
    ConversationGone,
    ImagesRefused,
    StreamParser,
    cookie_header,
    data_json_message_id,
    drift,
    last_message_id,
    login_expired,
    model_infos,
    parse_cookies,
    superjson_value,
    tool_server_names,
)
from providers.lines import ERROR_BODY_BYTES, JsonLines, read_capped

log = logging.getLogger(__name__)

DEFAULT_URL = "https://huggingface.co/chat"
DEFAULT_TIMEOUT = (10.0, 120.0)  # connect; then seconds without a byte (keep-alives arrive every ~100 ms)
TOKEN_HOSTS = ("huggingface.co", "www.huggingface.co")  # where the session needs its token (a self-hosted one: not)
GONE_NOTICE = ("The HuggingChat conversation behind this chat was deleted on the server (or belongs to another "
               "login), so a new one was started and sent the conversation so far.")
CLOSE_WAIT = 1.0  # seconds a closed stream may take to stop before its transfer is dropped



class HuggingChat:
    name = INFO.name
    display_name = DISPLAY_NAME

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_URL,
        cookies: str | Mapping[str, str] | None = None,
        session: AsyncSession | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        impersonate: str = "chrome",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._session = session
        self._timeout = timeout
        self._impersonate = impersonate
        self._api = "v2"  # how the last message id was read: "v2" or the seed's "__data.json"
        self._cookie_problem = ""
        try:
            self._cookies = parse_cookies(cookies) if isinstance(cookies, str) else dict(cookies or {})
        except ValueError as exc:
            self._cookies, self._cookie_problem = {}, str(exc)

    # --- the provider surface -------------------------------------------------------------------

    @property
    def secrets(self) -> tuple[str, ...]:
        """The cookie values: what no error may repeat, even when HuggingChat quotes them back."""
        return tuple(self._cookies.values())


    async def list_models(self) -> list[ModelInfo]:
        async with secrets_withheld(self.secrets), transport_errors(DISPLAY_NAME), self._http() as http:
            body = await self._get(http, "/api/v2/models", "the model list")
            return model_infos(superjson_value(body, "the model list"))

    async def list_tool_servers(self) -> list[str]:
        """The names of the MCP servers the server offers (what replaced the web-search and image switches)."""
        async with secrets_withheld(self.secrets), transport_errors(DISPLAY_NAME), self._http() as http:
            return tool_server_names(await self._get(http, "/api/mcp/servers", "the MCP servers"))

    async def check(self) -> str:
        """"logged in as …" or "connected (anonymous session)", else CredentialsError or UnavailableError.

        A session without a user is a working session on a server without a login (a self-hosted
        chat-ui); with a ``token`` cookie a user is expected, so its absence means the login expired.
        """
        self._require_login()
        async with secrets_withheld(self.secrets), transport_errors(DISPLAY_NAME), self._http() as http:
            user = superjson_value(await self._get(http, "/api/v2/user", "the user"), "the user")
        if isinstance(user, dict):
            return f"logged in as {user.get('username') or user.get('name') or 'your account'}"
        if TOKEN_COOKIE in self._cookies:
            raise login_expired("the session has no user")
        return "connected (anonymous session)"

    # --- one turn --------------------------------------------------------------------------------

    async def events(self, request: ChatRequest) -> AsyncIterator[Event]:
        self._require_login()
        state = request.state or {}
        model = INFO.resolve_model(request.model)
        conversation = state.get("conversationId") if isinstance(state.get("conversationId"), str) else None
        async with transport_errors(DISPLAY_NAME), self._http() as http:
            files = new_attachments(request.messages)
            if files:
                await self._refuse_images_unless_multimodal(http, model)
            try:
                async for event in self._turn(http, request, model, conversation, state.get("messageId")):
                    yield event
            except ConversationGone:
                if conversation is None:
                    raise  # a conversation created a moment ago: nothing to start again
                log.info("HuggingChat conversation gone; starting a new one with the history")
                yield Notice(GONE_NOTICE)
                async for event in self._turn(http, request, model, None, None):
                    yield event

    async def _turn(
        self, http: AsyncSession, request: ChatRequest, model: str, conversation: str | None, parent: Any
    ) -> AsyncIterator[Event]:
        """One message POST: a follow-up in ``conversation``, or a new conversation sent the whole history.

        Raises ConversationGone before the first event when the server no longer has ``conversation``.
        """
        if conversation:
            inputs = last_user_text(request.messages)
            parent = parent or await self._message_id(http, conversation)
        else:
            conversation, parent = await self._create(http, model, request.system)
            inputs = format_prompt(request.messages)
        data: dict[str, Any] = {"inputs": inputs, "id": parent, "is_retry": False}  # web_search, tools: gone
        if request.options.tool_servers:
            data["selectedMcpServerNames"] = list(request.options.tool_servers)
        prefix = f"{self.base_url}/conversation/{conversation}/output/"
        parser = StreamParser(file_url=lambda sha: prefix + sha)
        async with self._post_message(http, conversation, data, new_attachments(request.messages)) as response:
            await self._check_stream(response)
            async for _, line in JsonLines(DISPLAY_NAME).lines(response.aiter_content()):
                if isinstance(line, Drift):  # unreadable: marked, and reading goes on
                    yield line
                    continue
                for event in parser.feed(line):
                    yield await self._download(http, event) if isinstance(event, Image) else event
                if parser.done:
                    break  # the rest is the 4096-space tail
        if not parser.done:
            for event in parser.flush():
                yield event
            raise drift("the answer ended without its final update")
        try:
            last = await self._message_id(http, conversation)
            yield StateUpdate({"conversationId": conversation, "messageId": last, "protocol": self._api})
        except ProviderError as exc:  # the answer is complete; the next turn looks the parent up again
            log.info("HuggingChat message id after the answer unavailable: %s", redact_secrets(str(exc), self.secrets))
            yield StateUpdate({"conversationId": conversation})

    async def _refuse_images_unless_multimodal(self, http: AsyncSession, model: str) -> None:
        """Images for a text-only model: refused before anything is sent (the server would store them and
        silently leave them out of the prompt). A model the list does not know, or a list that cannot be
        read, is given the benefit of the doubt: the message itself then says what is wrong, if anything."""
        try:
            models = model_infos(superjson_value(await self._get(http, "/api/v2/models", "the model list"), "it"))
        except ProviderError as exc:
            log.info("HuggingChat model list unavailable before sending images: %s",
                     redact_secrets(str(exc), self.secrets))
            return
        known = next((m for m in models if m.id == model), None)
        if known is not None and not known.vision:
            raise ImagesRefused(
                f"{known.label} on {DISPLAY_NAME} reads text only, so it would never see the attached images: "
                "pick a vision model (marked \"vision\") or send the message without images.", backend=DISPLAY_NAME,
            )

    async def _create(self, http: AsyncSession, model: str, system: str = "") -> tuple[str, str]:
        """A new conversation with ``model`` (and chat-ui's ``preprompt``, the conversation's system prompt, when
        there is one): its id and its root message id (the first parent)."""
        request = {"model": model} | ({"preprompt": system.strip()} if system.strip() else {})
        response = await http.request("POST", self._url("/conversation"), json=request,
                                      **self._options("/conversation"))
        body = await self._checked(response, "creating a conversation", model=model)
        try:
            created = json.loads(body)
            conversation = created["conversationId"]
        except (ValueError, KeyError, TypeError):
            snippet = body[:200].decode("utf-8", "replace")
            raise drift("creating a conversation gave no conversationId", snippet) from None
        if not isinstance(conversation, str) or not conversation:
            raise drift("creating a conversation gave no conversationId")
        if isinstance(created.get("conversation"), str):  # servers since 2026-07 include the conversation
            try:
                return conversation, last_message_id(superjson_value(created["conversation"].encode(), "it"))
            except UnexpectedResponseError:
                pass
        return conversation, await self._message_id(http, conversation)

    async def _message_id(self, http: AsyncSession, conversation: str) -> str:
        """The conversation's last message id: the v2 API, or the seed's page data where v2 answers 404.

        Today's server answers ``__data.json`` with empty nodes for any id, so after a v2 404 that says
        the conversation is gone (deleted, or another login's); only a server from before June 2025 still
        gives its messages there.
        """
        path = f"/api/v2/conversations/{conversation}"
        response = await http.request("GET", self._url(path), **self._options(path))
        if response.status_code != 404:
            body = await self._checked(response, "reading the conversation", conversation=True)
            self._api = "v2"
            return last_message_id(superjson_value(body, "the conversation"))
        path = f"/conversation/{conversation}/__data.json"
        response = await http.request(
            "GET", self._url(path), params={"x-sveltekit-invalidated": "11"}, **self._options(path)
        )
        found = data_json_message_id(await self._checked(response, "reading the conversation", conversation=True))
        self._api = "__data.json"  # shown on the Backends page as the protocol in use
        return found

    def _post_message(
        self, http: AsyncSession, conversation: str, data: dict[str, Any], files: list[Attachment]
    ) -> AbstractAsyncContextManager[Any]:
        mime = CurlMime()
        mime.addpart(name="data", data=json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
        for attachment in files:
            mime.addpart(name="files", filename=f"base64;{attachment.name or 'image'}",
                         content_type=attachment.mime or None, data=base64.b64encode(attachment.data))
        path = f"/conversation/{conversation}"
        headers = {"Origin": self._origin, "Referer": self._url(path)}

        @asynccontextmanager
        async def post() -> AsyncIterator[Any]:
            try:
                response = await http.request(
                    "POST", self._url(path), multipart=mime, stream=True, **self._options(path, headers)
                )
                try:
                    yield response
                finally:  # stop the transfer (curl_cffi's own close would read the rest of the body first)
                    if response.quit_now is not None:
                        response.quit_now.set()
                    with contextlib.suppress(Exception, asyncio.CancelledError):
                        await asyncio.wait_for(response.aclose(), CLOSE_WAIT)
            finally:
                mime.close()

        return post()

    async def _check_stream(self, response: Any) -> None:
        if response.status_code >= 300:
            body, _ = await read_capped(response.aiter_content(), ERROR_BODY_BYTES)
            await self._checked(response, "sending the message", conversation=True, body=body)
        content_type = response.headers.get("content-type", "").lower()
        if "html" in content_type:
            raise login_expired("HuggingChat answered with a web page instead of the answer")
        if "json" not in content_type:
            raise drift(f"the answer came as {content_type or 'no content type'} instead of JSON lines")

    async def _download(self, http: AsyncSession, image: Image) -> Image:
        """A generated file's bytes, fetched with the same login (the URL is under the base URL)."""
        path = image.url.removeprefix(self.base_url)
        response = await http.request("GET", self._url(path), **self._options(path))
        try:
            data = await self._checked(response, "downloading the generated image")
        except ProviderError as exc:  # the answer goes on; the image is named but not shown
            log.info("HuggingChat image download failed: %s", redact_secrets(str(exc), self.secrets))
            return image
        mime = image.mime or response.headers.get("content-type", "").split(";")[0]
        return Image(image.url, mime, image.alt, data)

    # --- HTTP ----------------------------------------------------------------------------------

    @asynccontextmanager
    async def _http(self) -> AsyncIterator[AsyncSession]:
        """The injected session, or one of our own for this call (closed afterwards)."""
        if self._session is not None:
            yield self._session
            return
        session: AsyncSession = AsyncSession(impersonate=self._impersonate, timeout=self._timeout)
        try:
            yield session
        finally:
            await session.close()

    def _url(self, path: str) -> str:
        return self.base_url + path

    def _options(self, path: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Per-request options: the login (only ever to the base URL), no redirects, no cookie jar."""
        all_headers = {"Accept": "*/*", **(headers or {})}
        if self._cookies:
            all_headers["Cookie"] = cookie_header(self._cookies)
        return {"headers": all_headers, "allow_redirects": False, "discard_cookies": True, "timeout": self._timeout,
                "impersonate": self._impersonate, "http_version": "v1" if self._origin.startswith("http:") else None}

    async def _get(self, http: AsyncSession, path: str, what: str) -> bytes:
        response = await http.request("GET", self._url(path), **self._options(path))
        return await self._checked(response, f"reading {what}")

    async def _checked(
        self, response: Any, doing: str, *, model: str = "", conversation: bool = False, body: bytes | None = None
    ) -> bytes:
        """The body of a successful response; every failure as the ProviderError that says what to do."""
        body = response.content if body is None else body
        status, content_type = response.status_code, response.headers.get("content-type", "").lower()
        is_html = "html" in content_type or body[:15].lower().startswith((b"<!doctype", b"<html"))
        if 300 <= status < 400:
            raise login_expired(f"HuggingChat redirected {doing} to {response.headers.get('location', 'a login page')}")
        if status < 300:
            if is_html:
                raise login_expired(f"HuggingChat answered {doing} with its login page")
            return body
        message = server_message(body, content_type)
        if status == 401:
            if TOKEN_COOKIE not in self._cookies:
                raise CredentialsError(
                    f"{DISPLAY_NAME} wants a login here ({message or 'HTTP 401'}): on huggingface.co the hf-chat "
                    "session needs the token cookie too; paste both in Settings", backend=DISPLAY_NAME,
                )
            raise login_expired(message)
        if status == 403 and is_html:
            raise CredentialsError(
                f"HuggingChat refused {doing} with a web page (HTTP 403): the login expired or the site's bot "
                "protection stepped in; paste fresh cookies in Settings", backend=DISPLAY_NAME,
            )
        if status == 404 and conversation:
            raise ConversationGone(message or "Conversation not found.", backend=DISPLAY_NAME)
        hints = {
            400: f" (model {model})" if model else "",
            410: ": this model was retired on HuggingChat; pick another model",
            413: ": attach a smaller image (HuggingChat takes files under 10 MB)",
            429: ": wait a little, then send again",
        }
        raise status_error(status, message + hints.get(status, ""), DISPLAY_NAME, response.headers.get("retry-after"))

    def _require_login(self) -> None:
        if self._cookie_problem:
            raise CredentialsError(f"the saved HuggingChat cookies cannot be read ({self._cookie_problem}): "
                                   "paste them again in Settings", backend=DISPLAY_NAME)
        if SESSION_COOKIE not in self._cookies:
            raise CredentialsError(f"no HuggingChat session: the cookies lack {SESSION_COOKIE}; paste your "
                                   "HuggingChat cookies in Settings", backend=DISPLAY_NAME)
        if TOKEN_COOKIE not in self._cookies and urlsplit(self.base_url).hostname in TOKEN_HOSTS:
            raise CredentialsError(f"no huggingface.co login: the cookies lack {TOKEN_COOKIE}, which huggingface.co "
                                   f"ties the {SESSION_COOKIE} session to; log in there and paste both cookies in "
                                   "Settings", backend=DISPLAY_NAME)


def create(_client: object, credentials: Mapping[str, str] | None) -> HuggingChat:
    """The provider for the registry: base URL from CHATDECK_HUGGINGCHAT_URL, the login from ``credentials``."""
    return HuggingChat(
        base_url=os.environ.get("CHATDECK_HUGGINGCHAT_URL", DEFAULT_URL),
        cookies=(credentials or {}).get("cookies") or None,
    )
