"""HuggingChat (huggingface.co/chat): the open models Hugging Face hosts, with your huggingface.co login.

The protocol (shared/protocols/README.md, web-backends.md §1), every path relative to the base URL:

* ``GET /api/v2/models``: the model list (superjson; ``multimodal`` marks vision models);
* ``POST /conversation`` (JSON ``{"model"}``) → ``conversationId``, once per (our conversation, model);
* the parent message id: the last message of ``GET /api/v2/conversations/{id}``, or, where that route
  answers 404 (servers before June 2025), of the seed's ``GET /conversation/{id}/__data.json``;
* ``POST /conversation/{id}``: multipart, a ``data`` JSON part and base64 ``files`` parts, with an
  ``Origin`` header; the answer is JSON lines (NUL-padded tokens, keep-alives, a 4096-space tail);
* ``GET /conversation/{id}/output/{sha}``: a generated file, with the same login;
* ``GET /api/v2/user``: who the cookies belong to (``null`` when the session has no user), for ``check()``.

The transport is curl_cffi with Chrome's TLS fingerprint (the site sits behind bot protection). The
login is the huggingface.co cookie jar (``hf-chat`` and the ``token`` it is coupled with), sent as a
``Cookie`` header only to URLs under the base URL; redirects are not followed and cookies the server
sets are not kept, so nothing reaches another host or another user's request.

State per (conversation, model): ``conversationId`` and ``messageId`` (the last message, the parent of
the next turn). A first turn sends the formatted history, later turns only the new user message.
The pure wire readers are in providers/huggingchat_lines.py.
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

from providers.base import BackendInfo, CredentialField, JsonLines, ModelInfo, format_prompt, guarded, new_attachments
from providers.base import last_user_message as last_user_text
from providers.errors import (
    CredentialsError,
    HTTPStatusError,
    ProviderError,
    UnexpectedResponseError,
    curl_transport_errors,
    redact_secrets,
    secrets_withheld,
    server_message,
    status_error,
)
from providers.events import Attachment, ChatRequest, Drift, Event, Image, StateUpdate
from providers.huggingchat_lines import (
    DISPLAY_NAME,
    LOGIN_COOKIES,
    ConversationGone,
    StreamParser,
    cookie_header,
    data_json_message_id,
    drift,
    last_message_id,
    login_expired,
    model_infos,
    parse_cookies,
    superjson_value,
)
from providers.lines import ERROR_BODY_BYTES, read_capped

log = logging.getLogger(__name__)

DEFAULT_URL = "https://huggingface.co/chat"
DEFAULT_TIMEOUT = (10.0, 120.0)  # connect; then seconds without a byte (keep-alives arrive every ~100 ms)
IMAGE_TOOL = "000000000000000000000001"  # the "Image Generation" tool (FLUX) of the production config
DEFAULT_MODEL = "Qwen/Qwen2.5-72B-Instruct"  # the seed's; image models chat through it with the image tool
IMAGE_MODELS = ("black-forest-labs/FLUX.1-dev", "black-forest-labs/FLUX.1-schnell")
COOKIES_ENV = "CHATDECK_HUGGINGCHAT_COOKIES"
CLOSE_WAIT = 1.0  # seconds a closed stream may take to stop before its transfer is dropped

# fmt: off
INFO = BackendInfo(
    name="huggingchat",
    display_name=DISPLAY_NAME,
    needs_credentials=True,
    fallback_models=[  # the seed's list (web-backends.md §1.4), vision models marked
        ModelInfo("Qwen/Qwen2.5-72B-Instruct", "Qwen 2.5 72B Instruct"),
        ModelInfo("meta-llama/Llama-3.3-70B-Instruct", "Llama 3.3 70B Instruct"),
        ModelInfo("CohereForAI/c4ai-command-r-plus-08-2024", "Command R+ 08-2024"),
        ModelInfo("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", "DeepSeek R1 Distill Qwen 32B", reasoning=True),
        ModelInfo("Qwen/QwQ-32B", "QwQ 32B", reasoning=True),
        ModelInfo("nvidia/Llama-3.1-Nemotron-70B-Instruct-HF", "Llama 3.1 Nemotron 70B"),
        ModelInfo("Qwen/Qwen2.5-Coder-32B-Instruct", "Qwen 2.5 Coder 32B"),
        ModelInfo("meta-llama/Llama-3.2-11B-Vision-Instruct", "Llama 3.2 11B Vision", vision=True),
        ModelInfo("mistralai/Mistral-Nemo-Instruct-2407", "Mistral Nemo"),
        ModelInfo("microsoft/Phi-3.5-mini-instruct", "Phi 3.5 mini"),
    ],
    aliases={  # the seed's (web-backends.md §1.4), "qwen-2.5-72b" kept as the seed maps it
        "qwen-2.5-72b": "Qwen/Qwen2.5-Coder-32B-Instruct", "llama-3": "meta-llama/Llama-3.3-70B-Instruct",
        "llama-3.3-70b": "meta-llama/Llama-3.3-70B-Instruct",
        "command-r-plus": "CohereForAI/c4ai-command-r-plus-08-2024",
        "deepseek-r1": "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", "qwq-32b": "Qwen/QwQ-32B",
        "nemotron-70b": "nvidia/Llama-3.1-Nemotron-70B-Instruct-HF",
        "qwen-2.5-coder-32b": "Qwen/Qwen2.5-Coder-32B-Instruct",
        "llama-3.2-11b": "meta-llama/Llama-3.2-11B-Vision-Instruct",
        "mistral-nemo": "mistralai/Mistral-Nemo-Instruct-2407",
        "phi-3.5-mini": "microsoft/Phi-3.5-mini-instruct", "flux": "black-forest-labs/FLUX.1-dev",
        "flux-dev": "black-forest-labs/FLUX.1-dev", "flux-schnell": "black-forest-labs/FLUX.1-schnell",
        "qwen-2-vl-7b": "Qwen/Qwen2-VL-7B-Instruct", "gemma-2-27b": "google/gemma-2-27b-it",
        "qwen-2-72b": "Qwen/Qwen2-72B-Instruct", "qvq-72b": "Qwen/QVQ-72B-Preview",
        "stable-diffusion-3.5-large": "stabilityai/stable-diffusion-3.5-large",
    },
    description="Open models hosted by Hugging Face, with your huggingface.co login (cookies).",
    credential_fields=(
        CredentialField(
            "cookies", "huggingface.co cookies", COOKIES_ENV, multiline=True,
            help="Paste the Cookie header of a request to huggingface.co/chat, or a cookie export (JSON or "
                 "cookies.txt). The cookies that matter are hf-chat and token.",
        ),
    ),
    setup_help=(
        "1. Log in at [huggingface.co/chat](https://huggingface.co/chat) in your browser.\n"
        "2. Open the developer tools (F12), tab **Network**, reload the page and click the request to `chat`.\n"
        "3. Under **Request Headers**, copy the whole value of `Cookie` and paste it here. A cookie export "
        "from an extension (JSON or `cookies.txt`) works too.\n\n"
        "Chatdeck needs `hf-chat` (your chat session) and `token` (your huggingface.co login, which the "
        "session is tied to). When HuggingChat says the login expired, paste fresh cookies. The cookies are "
        "stored encrypted and only ever sent to HuggingChat."
    ),
)
# fmt: on


class HuggingChat:
    name = INFO.name

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

    def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        return guarded(DISPLAY_NAME, self._events(request), self.secrets)

    async def list_models(self) -> list[ModelInfo]:
        async with secrets_withheld(self.secrets), curl_transport_errors(DISPLAY_NAME), self._http() as http:
            body = await self._get(http, "/api/v2/models", "the model list")
            return model_infos(superjson_value(body, "the model list"))

    async def check(self) -> str:
        """"logged in as …", else CredentialsError (login expired) or UnavailableError (unreachable)."""
        self._require_login()
        async with secrets_withheld(self.secrets), curl_transport_errors(DISPLAY_NAME), self._http() as http:
            user = superjson_value(await self._get(http, "/api/v2/user", "the user"), "the user")
        if not isinstance(user, dict):
            raise login_expired("the session has no user")
        return f"logged in as {user.get('username') or user.get('name') or 'your account'}"

    # --- one turn --------------------------------------------------------------------------------

    async def _events(self, request: ChatRequest) -> AsyncIterator[Event]:
        self._require_login()
        state = request.state or {}
        model = INFO.resolve_model(request.model)
        tools = [IMAGE_TOOL] if request.options.image_generation or model in IMAGE_MODELS else []
        model = DEFAULT_MODEL if model in IMAGE_MODELS else model
        conversation = state.get("conversationId") if isinstance(state.get("conversationId"), str) else None
        async with curl_transport_errors(DISPLAY_NAME), self._http() as http:
            try:
                if conversation:
                    inputs = last_user_text(request.messages)
                    parent = state.get("messageId") or await self._message_id(http, conversation)
                else:
                    conversation, parent = await self._create(http, model)
                    inputs = format_prompt(request.messages)
                data = {"inputs": inputs, "id": parent, "is_retry": False, "is_continue": False,
                        "web_search": request.options.web_search, "tools": tools}
                prefix = f"{self.base_url}/conversation/{conversation}/output/"
                parser = StreamParser(file_url=lambda sha: prefix + sha)
                files = new_attachments(request.messages)
                async with self._post_message(http, conversation, data, files) as response:
                    await self._check_stream(response)
                    async for _, line in JsonLines(DISPLAY_NAME).lines(response.aiter_content()):
                        if isinstance(line, Drift):  # unreadable: marked, and reading goes on
                            yield line
                            continue
                        for event in parser.feed(line):
                            yield await self._download(http, event) if isinstance(event, Image) else event
                        if parser.done:
                            break  # the rest is the 4096-space tail
            except ConversationGone as gone:
                yield StateUpdate({})  # the next message starts a new HuggingChat conversation
                raise HTTPStatusError(
                    404, f"{gone.message} The conversation was deleted on HuggingChat (or belongs to another "
                    "login): send your message again to start a new one.", backend=DISPLAY_NAME,
                ) from gone
            if not parser.done:
                raise drift("the answer ended without its final update")
            try:
                last = await self._message_id(http, conversation)
                yield StateUpdate({"conversationId": conversation, "messageId": last, "protocol": self._api})
            except ProviderError as exc:  # the answer is complete; the next turn looks the parent up again
                log.info("HuggingChat message id after the answer unavailable: %s",
                         redact_secrets(str(exc), self.secrets))
                yield StateUpdate({"conversationId": conversation})

    async def _create(self, http: AsyncSession, model: str) -> tuple[str, str]:
        """A new conversation with ``model``: its id and its root message id (the first parent)."""
        response = await http.request(
            "POST", self._url("/conversation"), json={"model": model}, **self._options("/conversation")
        )
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
        """The conversation's last message id: the v2 API, or the seed's page data where v2 answers 404."""
        path = f"/api/v2/conversations/{conversation}"
        response = await http.request("GET", self._url(path), **self._options(path))
        if response.status_code != 404:
            body = await self._checked(response, "reading the conversation", conversation=True)
            self._api = "v2"
            return last_message_id(superjson_value(body, "the conversation"))
        self._api = "__data.json"  # shown on the Backends page as the protocol in use
        path = f"/conversation/{conversation}/__data.json"
        response = await http.request(
            "GET", self._url(path), params={"x-sveltekit-invalidated": "11"}, **self._options(path)
        )
        return data_json_message_id(await self._checked(response, "reading the conversation", conversation=True))

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
        session = AsyncSession(impersonate=self._impersonate, timeout=self._timeout)  # type: ignore[arg-type]
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
        missing = [name for name in LOGIN_COOKIES if name not in self._cookies]
        if missing:
            raise CredentialsError(f"no HuggingChat login: the cookies lack {' and '.join(missing)}; paste your "
                                   "huggingface.co cookies in Settings", backend=DISPLAY_NAME)


def create(_client: object, credentials: Mapping[str, str] | None) -> HuggingChat:
    """The provider for the registry: base URL from CHATDECK_HUGGINGCHAT_URL, the login from ``credentials``."""
    return HuggingChat(
        base_url=os.environ.get("CHATDECK_HUGGINGCHAT_URL", DEFAULT_URL),
        cookies=(credentials or {}).get("cookies") or None,
    )
