"""A ``POST /v1/chat/completions`` body, checked and turned into what Chatdeck's send path needs.

What is accepted: ``model`` (``backend/model``), ``messages`` (system/developer, user, assistant; text and
``image_url`` parts with ``data:`` URLs), ``stream``, ``stream_options.include_usage``, ``temperature``,
``top_p``, ``max_tokens`` / ``max_completion_tokens``, and ``user`` / ``metadata`` (accepted, not used).
Anything else with a value (tools, ``n`` > 1, logprobs, stop sequences, penalties, response formats...) is
refused with a 400 naming it: a client must not believe it got what it asked for.

System messages: conversations have no system prompt of their own yet, so a system (or developer)
message is folded into the next user message between :data:`SYSTEM_OPEN` and :data:`SYSTEM_CLOSE`
markers; the conversation stores that text, and history recognition compares it folded the same way.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from api.shared import Exchange
from api.v1_errors import V1Error, bad_request, unsupported
from providers.events import Attachment, Options

SYSTEM_OPEN = "[System instructions]"
SYSTEM_CLOSE = "[End of system instructions]"
MAX_MESSAGES = 1000
MAX_TEXT = 200_000  # characters of one message
SUPPORTED = {"model", "messages", "stream", "stream_options", "temperature", "top_p", "max_tokens",
             "max_completion_tokens", "user", "metadata", "n", "logprobs", "store"}
# Parameters with a value that asks for nothing beyond a plain answer.
HARMLESS = {"n": (1,), "logprobs": (False,), "store": (False,)}
DATA_URL = re.compile(r"data:(image/[\w.+-]+);base64,(.*)", re.DOTALL)


@dataclass
class CompletionRequest:
    model_id: str  # as the client wrote it: backend/model
    history: list[Exchange]  # the earlier messages, system messages folded in
    prompt: str  # the new user message's text
    images: list[Attachment] = field(default_factory=list)  # the new message's images
    stream: bool = False
    include_usage: bool = False
    options: Options = field(default_factory=Options)


def parse(raw: bytes) -> CompletionRequest:
    """The request, or a :class:`V1Error` (400) naming what is wrong."""
    try:
        body = json.loads(raw)
    except ValueError:
        raise bad_request("The body is not valid JSON.", None, "invalid_json") from None
    if not isinstance(body, dict):
        raise bad_request("The body must be a JSON object.", None, "invalid_json")
    _refuse_unsupported(body)
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise bad_request("'model' is required: an id from GET /v1/models (backend/model).", "model", "missing")
    history, prompt, images = _messages(body.get("messages"))
    stream = _flag(body, "stream")
    stream_options = body.get("stream_options")
    if stream_options is not None and (not isinstance(stream_options, dict) or not stream):
        raise bad_request("'stream_options' is only allowed with stream: true, as an object.", "stream_options")
    include_usage = _flag(stream_options or {}, "include_usage", "stream_options.include_usage")
    return CompletionRequest(model.strip(), history, prompt, images, stream, include_usage, _options(body))


def _refuse_unsupported(body: dict[str, Any]) -> None:
    for key, value in body.items():
        if key not in SUPPORTED:
            if value is None:
                continue
            raise unsupported(key)
        if key in HARMLESS and value is not None and value not in HARMLESS[key]:
            raise unsupported(key, f" with the value {json.dumps(value)} (only {json.dumps(HARMLESS[key][0])})")


def _flag(body: dict[str, Any], key: str, param: str | None = None) -> bool:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise bad_request(f"'{param or key}' must be true or false.", param or key)
    return bool(value)


def _number(body: dict[str, Any], key: str, low: float, high: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not low <= value <= high:
        raise bad_request(f"'{key}' must be a number from {low:g} to {high:g}.", key)
    return float(value)


def _options(body: dict[str, Any]) -> Options:
    limits = [body.get(k) for k in ("max_completion_tokens", "max_tokens") if body.get(k) is not None]
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise bad_request(f"'{key}' must be a positive integer.", key)
    return Options(temperature=_number(body, "temperature", 0, 2), top_p=_number(body, "top_p", 0, 1),
                   max_tokens=limits[0] if limits else None)


def _messages(value: Any) -> tuple[list[Exchange], str, list[Attachment]]:
    """(earlier messages, the new user message's text, its images), system messages folded in."""
    if not isinstance(value, list) or not value:
        raise bad_request("'messages' must be a non-empty list.", "messages")
    if len(value) > MAX_MESSAGES:
        raise bad_request(f"At most {MAX_MESSAGES} messages.", "messages")
    folded: list[Exchange] = []
    system: list[str] = []
    images: list[Attachment] = []
    for i, message in enumerate(value):
        role, text, pictures = _message(message, f"messages[{i}]")
        if role == "system":
            system.append(text)
            continue
        if role == "user" and system:
            text = fold_system(system, text)
            system = []
        folded.append((role, text))
        images = pictures if role == "user" else []
    if system or not folded or folded[-1][0] != "user":
        raise bad_request("The last message must be the user's new message.", "messages")
    if not folded[-1][1].strip() and not images:
        raise bad_request("The new user message has no text and no image.", f"messages[{len(value) - 1}].content")
    return folded[:-1], folded[-1][1], images


def fold_system(system: list[str], text: str) -> str:
    """A user message with the system messages before it, between markers (see the module docstring)."""
    return f"{SYSTEM_OPEN}\n" + "\n\n".join(system) + f"\n{SYSTEM_CLOSE}\n\n{text}"


def without_system(text: str) -> str:
    """A user message's own text, without the system messages :func:`fold_system` put before it."""
    if text.startswith(SYSTEM_OPEN + "\n") and (end := text.find(f"\n{SYSTEM_CLOSE}\n\n")) >= 0:
        return text[end + len(SYSTEM_CLOSE) + 3:]
    return text


def _message(message: Any, where: str) -> tuple[str, str, list[Attachment]]:
    if not isinstance(message, dict):
        raise bad_request("Each message must be an object.", where)
    role = message.get("role")
    for key in ("tool_calls", "function_call", "audio"):
        if message.get(key) is not None:
            raise unsupported(f"{where}.{key}")
    if role in ("tool", "function"):
        raise unsupported(f"{where}.role", f" '{role}' (tools are not supported)")
    if role not in ("system", "developer", "user", "assistant"):
        raise bad_request(f"Unknown role {json.dumps(role)}.", f"{where}.role")
    text, images = _content(message.get("content"), f"{where}.content", images_allowed=role == "user")
    if len(text) > MAX_TEXT:
        raise bad_request(f"A message may have at most {MAX_TEXT} characters.", f"{where}.content")
    return ("system" if role == "developer" else role), text, images


def _content(content: Any, where: str, *, images_allowed: bool) -> tuple[str, list[Attachment]]:
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        raise bad_request("'content' must be a string or a list of parts.", where)
    texts: list[str] = []
    images: list[Attachment] = []
    for i, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "image_url" and images_allowed:
            images.append(_image(part.get("image_url"), f"{where}[{i}].image_url", len(images) + 1))
        elif kind in ("image_url", "input_audio", "file", "refusal"):
            raise unsupported(f"{where}[{i}]", f" (a '{kind}' part in this message)")
        else:
            raise bad_request("A content part must be {'type': 'text', 'text': ...} or an image_url part.",
                              f"{where}[{i}]")
    return "\n".join(texts), images


def _image(value: Any, where: str, number: int) -> Attachment:
    url = value.get("url") if isinstance(value, dict) else None
    match = DATA_URL.fullmatch(url) if isinstance(url, str) else None
    if match is None:
        raise V1Error(400, "Images must be data URLs (data:image/...;base64,...); Chatdeck fetches no URLs.",
                      "invalid_image_url", where)
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise V1Error(400, "The image's base64 data is malformed.", "invalid_image_url", where) from None
    extension = match.group(1).split("/")[1].split("+")[0]
    return Attachment(f"image-{number}.{extension}", match.group(1), data)
