"""HuggingChat's wire formats, read: pure functions and the stream parser, no I/O.

* ``parse_cookies``: a pasted ``Cookie`` header, a browser cookie export (JSON list or object)
  or a Netscape ``cookies.txt`` → ``{name: value}`` for huggingface.co;
* ``superjson_value``: the ``json`` part of an ``/api/v2`` body (web-backends.md §1.6.a);
* ``data_json_message_id``: the last message id of a conversation page's ``__data.json``
  (SvelteKit nodes, devalue-flattened page data; §1.6.b);
* ``model_infos``: the model list of ``GET /api/v2/models``;
* ``StreamParser``: the JSON-lines updates of ``POST /conversation/{id}`` → events (§1.8), inline
  ``<think>`` reasoning split from the answer (providers/huggingchat_think.py).

The provider that sends the requests is providers/huggingchat.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from providers.base import ModelInfo
from providers.errors import CredentialsError, ProviderError, UnavailableError, UnexpectedResponseError
from providers.events import AnsweredBy, Event, Image, ReasoningDelta, Source, Sources, TextDelta, Title
from providers.huggingchat_think import Kind, ThinkSplitter

DISPLAY_NAME = "HuggingChat"
COOKIE_DOMAIN = "huggingface.co"
SESSION_COOKIE = "hf-chat"  # the chat session: all a server without a login (self-hosted chat-ui) needs
TOKEN_COOKIE = "token"  # noqa: S105 (a cookie name) - the huggingface.co login, which huggingface.co couples the session with
_UTM = re.compile(r"[&?]utm_source=[^&#]*")


def drift(what: str, snippet: str = "") -> UnexpectedResponseError:
    """The error for a body that no longer looks like the protocol."""
    return UnexpectedResponseError(f"{DISPLAY_NAME} protocol changed: {what}", backend=DISPLAY_NAME, snippet=snippet)


def login_expired(detail: str = "") -> CredentialsError:
    suffix = f" ({detail})" if detail else ""
    return CredentialsError(
        f"{DISPLAY_NAME} login expired: paste fresh huggingface.co cookies in Settings{suffix}", backend=DISPLAY_NAME
    )


class ConversationGone(ProviderError):
    """The backend conversation no longer exists (deleted on the website, or never ours)."""


class ImagesRefused(ProviderError):
    """Images for a model that cannot see them: refused before sending (a problem of the request, so it moves
    no backend state)."""

    about_backend = False


# --- cookies ------------------------------------------------------------------------------------


def parse_cookies(text: str) -> dict[str, str]:
    """Cookies for huggingface.co from whatever the user pasted; raises ValueError when none are found."""
    text = text.strip()
    if not text:
        return {}
    cookies: dict[str, str] = {}
    if text[0] in "[{":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError("the cookie export is not valid JSON") from exc
        items = data.get("cookies", data) if isinstance(data, dict) else data
        if isinstance(items, dict):
            cookies = {str(k): str(v) for k, v in items.items() if isinstance(v, str | int)}
        elif isinstance(items, list):
            for item in items:
                if not (isinstance(item, dict) and isinstance(item.get("name"), str) and "value" in item):
                    continue
                if _ours(str(item.get("domain") or COOKIE_DOMAIN)):
                    cookies[item["name"]] = str(item["value"])
    elif "\t" in text:  # Netscape cookies.txt: domain, flag, path, secure, expiry, name, value
        for line in text.splitlines():
            parts = line.removeprefix("#HttpOnly_").split("\t")
            if len(parts) == 7 and not line.startswith("# ") and _ours(parts[0]):
                cookies[parts[5]] = parts[6].strip()
    else:
        text = re.sub(r"^cookie:\s*", "", text, flags=re.IGNORECASE)
        for pair in re.split(r";\s*|\n", text):
            name, sep, value = pair.strip().partition("=")
            if sep and name:
                cookies[name.strip()] = value.strip()
    if not cookies:
        raise ValueError("no cookies found in what was pasted")
    return cookies


def _ours(domain: str) -> bool:
    domain = domain.lstrip(".").lower()
    return domain == COOKIE_DOMAIN or domain.endswith("." + COOKIE_DOMAIN)


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


# --- superjson and __data.json --------------------------------------------------------------------


def superjson_value(body: bytes, what: str) -> Any:
    """``json`` of a superjson body (``meta`` only restores types, which are not needed here)."""
    try:
        data = json.loads(body)
    except ValueError:
        raise drift(f"{what} is not JSON", body[:200].decode("utf-8", "replace")) from None
    if not isinstance(data, dict) or "json" not in data:
        raise drift(f"{what} has no superjson 'json' value", body[:200].decode("utf-8", "replace"))
    return data["json"]


def last_message_id(conversation: Any) -> str:
    """The id of the last stored message of an ``/api/v2/conversations/{id}`` payload."""
    messages = conversation.get("messages") if isinstance(conversation, dict) else None
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
        raise drift("the conversation has no messages list")
    message_id = messages[-1].get("id")
    if not isinstance(message_id, str) or not message_id:
        raise drift("the last message has no id")
    return message_id


def data_json_message_id(body: bytes) -> str:
    """The last message id from a conversation page's ``__data.json`` (the seed's way, before /api/v2)."""
    payload = None
    for line in body.decode("utf-8", "replace").split("\n"):
        try:
            candidate = json.loads(line)
        except ValueError:
            continue
        if isinstance(candidate, dict) and "nodes" in candidate:
            payload = candidate
            break
    if payload is None:
        raise drift("the conversation page data has no nodes", body[:200].decode("utf-8", "replace"))
    nodes = payload["nodes"]
    if isinstance(nodes, list) and all(node is None for node in nodes):  # today's server, for any id: no data
        raise ConversationGone("The conversation was not found.", backend=DISPLAY_NAME)
    last = nodes[-1] if isinstance(nodes, list) and nodes else None
    if isinstance(last, dict) and last.get("type") == "error":
        message = str((last.get("error") or {}).get("message") or "error")
        if last.get("status") == 403:
            raise CredentialsError(
                f"{DISPLAY_NAME} says this conversation belongs to another login ({message})", backend=DISPLAY_NAME
            )
        if last.get("status") == 404:
            raise ConversationGone(message, backend=DISPLAY_NAME)
        raise UnavailableError(f"{DISPLAY_NAME} could not load the conversation: {message}", backend=DISPLAY_NAME)
    try:
        data = nodes[1]["data"]
        keys = data[data[0]["messages"]]
        message = data[keys[-1]]
        message_id = data[message["id"]]
    except (KeyError, IndexError, TypeError) as exc:
        raise drift(f"the conversation page data has another shape ({type(exc).__name__})") from None
    if not isinstance(message_id, str):
        raise drift("the conversation page data has no message id")
    return message_id


# --- models -----------------------------------------------------------------------------------------


def model_infos(models: Any) -> list[ModelInfo]:
    if not isinstance(models, list):
        raise drift("the model list is not a list")
    found = []
    for item in models:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or item.get("unlisted") is True:
            continue
        name = item.get("displayName") or item.get("name") or ""
        reasoning = bool(item.get("reasoning") or item.get("supportsReasoning"))
        label = name if name != item["id"] else ""
        found.append(ModelInfo(item["id"], label, vision=item.get("multimodal") is True, reasoning=reasoning))
    return found


def tool_server_names(body: bytes) -> list[str]:
    """The names in ``GET /api/mcp/servers`` (a plain JSON list of ``{id, name, url, type, …}``)."""
    try:
        servers = json.loads(body)
    except ValueError:
        raise drift("the MCP server list is not JSON", body[:200].decode("utf-8", "replace")) from None
    if not isinstance(servers, list):
        raise drift("the MCP server list is not a list")
    return [s["name"] for s in servers if isinstance(s, dict) and isinstance(s.get("name"), str) and s["name"]]


# --- the message stream -------------------------------------------------------------------------------


def clean_url(url: str) -> str:
    """A source link without the ``utm_source`` tracking parameter."""
    parts = urlsplit(url)
    query = _UTM.sub("", "?" + parts.query).lstrip("?&") if parts.query else ""
    return urlunsplit(parts._replace(query=query))


@dataclass
class StreamParser:
    """Updates in, events out. ``file_url(sha)`` gives a generated file's download URL."""

    file_url: Callable[[str], str]
    done: bool = False
    streamed: list[str] = field(default_factory=list)  # the raw tokens, <think> tags included
    think: ThinkSplitter = field(default_factory=ThinkSplitter)

    def feed(self, line: Any) -> list[Event]:
        if not isinstance(line, dict) or not isinstance(line.get("type"), str):
            raise drift("an update without a type", json.dumps(line)[:200])
        handler = {
            "stream": self._stream, "status": self._status, "title": self._title, "reasoning": self._reasoning,
            "webSearch": self._web_search, "file": self._file, "routerMetadata": self._router,
            "finalAnswer": self._final_answer,
        }.get(line["type"])
        return handler(line) if handler is not None else []  # tool, elicitation, unknown: ignored

    def _stream(self, line: dict[str, Any]) -> list[Event]:
        token = line.get("token")
        if not isinstance(token, str):
            raise drift("a stream update without its token", json.dumps(line)[:200])
        token = token.replace("\x00", "")  # tokens are NUL-padded to 16 characters
        self.streamed.append(token)
        return _events(self.think.feed(token))

    def flush(self) -> list[Event]:
        """Text held back as a possible tag when the stream ends without its final answer."""
        return _events(self.think.finish())

    def _status(self, line: dict[str, Any]) -> list[Event]:
        if line.get("status") != "error":
            return []  # started, keepAlive, finished
        message = str(line.get("message") or "no output was generated")
        code = line.get("statusCode")
        where = f" (status {code})" if isinstance(code, int) else ""
        raise UnavailableError(f"{DISPLAY_NAME} could not answer{where}: {message}", backend=DISPLAY_NAME)

    def _title(self, line: dict[str, Any]) -> list[Event]:
        title = line.get("title")
        return [Title(title.strip())] if isinstance(title, str) and title.strip() else []

    def _reasoning(self, line: dict[str, Any]) -> list[Event]:
        if line.get("subtype") == "status" and isinstance(line.get("status"), str):
            return [ReasoningDelta("", status=line["status"])]
        token = line.get("token")
        return [ReasoningDelta(token.replace("\x00", ""))] if isinstance(token, str) and token else []

    def _web_search(self, line: dict[str, Any]) -> list[Event]:
        return self._sources(line.get("sources"), "link")

    def _sources(self, items: Any, key: str) -> list[Event]:
        sources = tuple(
            Source(clean_url(item[key]), str(item.get("title") or ""))
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict) and isinstance(item.get(key), str)
        )
        return [Sources(sources)] if sources else []

    def _file(self, line: dict[str, Any]) -> list[Event]:
        sha = line.get("sha")
        if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-fA-F]{16,128}", sha):
            raise drift("a file update without a valid sha", json.dumps(line)[:200])
        return [Image(self.file_url(sha), str(line.get("mime") or ""), str(line.get("name") or ""))]

    def _router(self, line: dict[str, Any]) -> list[Event]:
        model = line.get("model")
        if not isinstance(model, str) or not model:
            return []
        return [AnsweredBy(model, str(line.get("route") or ""), str(line.get("provider") or ""))]

    def _final_answer(self, line: dict[str, Any]) -> list[Event]:
        """Sources, and the end of the text the stream did not carry (never a second copy of what it did).

        ``text`` is the whole raw answer, ``<think>`` blocks included; where it does not continue the
        streamed tokens (a server that rewrote it), the streamed answer stands.
        """
        self.done = True
        events = self._sources(line.get("webSources"), "uri")
        text, streamed = line.get("text"), "".join(self.streamed)
        pieces = []
        if isinstance(text, str) and len(text) > len(streamed) and text.startswith(streamed):
            pieces = self.think.feed(text[len(streamed) :])
        return events + _events(pieces + self.think.finish())


def _events(pieces: list[tuple[Kind, str]]) -> list[Event]:
    return [TextDelta(text) if kind == "answer" else ReasoningDelta(text) for kind, text in pieces]
