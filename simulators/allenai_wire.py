"""What the Ai2 Playground simulator sends: its models and messages in the shapes of the wire.

* ``SimModel`` / ``DEFAULT_MODELS``: the models, as ``GET /v5/models/`` (camelCase) and
  ``GET /v4/models/`` (snake_case, sorted keys) list them;
* ``SimMessage``: a stored message, and ``flat_v5`` / ``flat_v4_threads`` / ``tree_v4``: it as
  the v5 FlatMessage, as the ``/v4/threads/`` FlatMessage and as the seed protocol's nested message;
* ``v5_line`` / ``v4_line`` / ``v4_threads_line``: the three JSON-lines encodings;
* error envelopes: ``problem`` (RFC 9457, v5) and ``legacy_error`` (``{"error": …}``, v4),
  and the v4 server's wording of 401/403/404.

The routes, request rules and streams that use them are in simulators/allenai.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.responses import Response

V4_UNAUTHORIZED = (
    "The server could not verify that you are authorized to access the URL requested. You either supplied the "
    "wrong credentials (e.g. a bad password), or your browser doesn't understand how to supply the credentials "
    "required."
)
V4_FORBIDDEN = (
    "You don't have the permission to access the requested resource. It is either read-protected or not "
    "readable by the server."
)

V4_NOT_FOUND = (
    "404 Not Found: The requested URL was not found on the server. If you entered the URL manually please check "
    "your spelling and try again."
)


# --- models ---------------------------------------------------------------------------------------


@dataclass
class SimModel:
    id: str
    name: str
    host: str = "modal_openai"
    prompt_type: str = "text_only"  # text_only | multi_modal | files_only
    can_think: bool = False
    system_prompt: str | None = None
    visible: bool = True

    @property
    def accepts_files(self) -> bool:
        return self.prompt_type != "text_only"

    # fmt: off
    def v5(self) -> dict[str, Any]:
        """The camelCase model object of ``GET /v5/models/`` (allenai-current.md §4)."""
        data: dict[str, Any] = {
            "id": self.id, "name": self.name, "description": f"{self.name} (simulated)", "host": self.host,
            "modelType": "chat", "promptType": self.prompt_type, "internal": False, "familyId": None,
            "familyName": None, "informationUrl": None, "systemPrompt": self.system_prompt,
            "acceptsFiles": self.accepts_files, "availableTools": [], "canCallTools": False,
            "canThink": self.can_think, "infiniGramIndex": None,
            "temperatureDefault": 0.7, "temperatureUpper": 1.0, "temperatureLower": 0.0, "temperatureStep": 0.01,
            "topPDefault": 1.0, "topPUpper": 1.0, "topPLower": 0.01, "topPStep": 0.01,
            "maxTokensDefault": 2048, "maxTokensUpper": 2048, "maxTokensLower": 1, "maxTokensStep": 1,
            "stopDefault": None,
        }
        if self.accepts_files:
            data |= {
                "acceptedFileTypes": ["image/*"], "maxFilesPerMessage": 1, "requireFileToPrompt": "no_requirement",
                "maxTotalFileSize": 10_000_000, "allowFilesInFollowups": True,
            }
        return data | {"isVisible": self.visible, "isDeprecated": not self.visible}
    # fmt: on

    def v4(self) -> dict[str, Any]:
        snake = {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): value for key, value in self.v5().items()}
        return dict(sorted(snake.items()))


# fmt: off
DEFAULT_MODELS = [
    SimModel("olmo-3.1-32b-instruct", "Olmo 3.1 32B Instruct",
             system_prompt="You are Olmo, a helpful AI assistant built by Ai2."),
    SimModel("olmo-3.1-32b-think", "Olmo 3.1 32B Think", can_think=True),
    SimModel("molmo2-8b", "Molmo 2 8B", prompt_type="multi_modal"),
    # the seed's models: hidden and deprecated, but still accepted by the chat routes
    SimModel("tulu3-405b", "Tülu 3 405B", host="inferd", visible=False),
    SimModel("OLMo-2-1124-13B-Instruct", "OLMo 2 13B Instruct", host="modal", visible=False,
             system_prompt="You are OLMo 2 Instruct, a helpful, open-source AI Assistant built by the Allen "
                           "Institute for AI."),
    SimModel("tulu-3-1-8b", "Tülu 3.1 8B", host="modal", visible=False),
    SimModel("Llama-3-1-Tulu-3-70B", "Llama 3.1 Tülu 3 70B", host="modal", visible=False),
    SimModel("olmoe-0125", "OLMoE 0125", host="modal", visible=False),
    SimModel("olmo-2-0325-32b-instruct", "OLMo 2 32B Instruct", host="modal", visible=False),
    SimModel("mm-olmo-uber-model-v4-synthetic", "Molmo", host="modal", prompt_type="multi_modal", visible=False),
]
# fmt: on


# --- messages -------------------------------------------------------------------------------------


@dataclass
class SimMessage:
    id: str
    role: str
    content: str
    creator: str
    root: str
    parent: str | None
    model: SimModel
    opts: dict[str, Any]
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    children: list[str] = field(default_factory=list)
    thinking: str | None = None
    final: bool = False
    finish_reason: str | None = None
    error_description: str | None = None
    file_names: list[str] = field(default_factory=list)


# fmt: off
def flat_v5(m: SimMessage, *, error: bool = False) -> dict[str, Any]:
    """A v5 FlatMessage: pydantic field order, computed fields last (allenai-current.md §2.2)."""
    return {
        "id": m.id, "content": m.content, "inputParts": None, "creator": m.creator, "role": m.role,
        "opts": {"maxTokens": m.opts["max_tokens"], "temperature": m.opts["temperature"],
                 "topP": m.opts["top_p"], "stop": [], "n": 1, "logprobs": None},
        "root": m.root, "created": _iso(m.created, z=True), "modelId": m.model.id, "modelHost": m.model.host,
        "agentId": None, "deleted": None, "parent": m.parent, "template": None, "children": list(m.children),
        "completion": None, "final": m.final, "original": None, "private": False,
        "modelType": "chat" if m.role == "assistant" else None, "finishReason": m.finish_reason,
        "harmful": None, "expirationTime": None, "labels": [],
        "fileUrls": [f"/files/{name}" for name in m.file_names] or None,
        "toolCalls": None, "thinking": m.thinking, "toolDefinitions": [], "extraParameters": None,
        "errorCode": "otherError" if error else None, "errorDescription": m.error_description,
        "errorSeverity": "error" if error else None,
        "snippet": _snippet(m.content), "isLimitReached": False, "isOlderThan30Days": False,
    }


def flat_v4_threads(m: SimMessage, *, error: bool = False) -> dict[str, Any]:
    """A ``/v4/threads/`` FlatMessage: the v5 keys, Flask's datetimes, anonymous threads private and
    expiring after a day (allenai-current.md §2.2, example A); ``v4_threads_line`` sorts the keys."""
    return flat_v5(m, error=error) | {
        "created": _iso(m.created, z=False), "private": True, "toolCalls": [],
        "expirationTime": _iso(m.created + timedelta(days=1), z=False),
        "harmful": False if m.role == "system" else None,
    } | ({"errorCode": "toolCallError"} if error else {})


def _flat_v4(m: SimMessage, children: list[dict[str, Any]] | None) -> dict[str, Any]:
    """A message of the seed protocol, in its dataclass key order (web-backends.md §2.4)."""
    return {
        "id": m.id, "content": m.content, "snippet": _snippet(m.content), "creator": m.creator, "role": m.role,
        "opts": {"max_tokens": m.opts["max_tokens"], "temperature": m.opts["temperature"], "n": 1,
                 "top_p": m.opts["top_p"], "logprobs": None, "stop": None},
        "root": m.root, "created": _iso(m.created, z=False), "model_id": m.model.id,
        "model_host": m.model.host, "deleted": None, "parent": m.parent, "template": None,
        "logprobs": [] if m.final and m.role == "assistant" else None, "children": children,
        "completion": None, "final": m.final, "original": None, "private": True,
        "model_type": "chat" if m.role == "assistant" else None, "finish_reason": m.finish_reason,
        "harmful": None if m.role == "assistant" else False,
        "expiration_time": _iso(m.created + timedelta(days=1), z=False), "labels": [],
        "file_urls": [f"/files/{name}" for name in m.file_names] or None,
    }
# fmt: on


def tree_v4(chain: list[SimMessage]) -> dict[str, Any]:
    """The seed protocol's head (or final) message: ``chain[0]`` with the rest nested in ``children``."""
    node: dict[str, Any] | None = None
    for message in reversed(chain):
        node = _flat_v4(message, [node] if node else None)
    assert node is not None
    return node


def _snippet(text: str) -> str:
    words = text.split()
    return " ".join(words[:16]) + ("…" if len(words) > 16 else "")


def _iso(moment: datetime, *, z: bool) -> str:
    text = moment.isoformat()
    return text.replace("+00:00", "Z") if z else text


# --- lines and error envelopes --------------------------------------------------------------------


def v5_line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def v4_line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode() + b"\n"  # Python's default ", " / ": " separators, ASCII escapes


def v4_threads_line(obj: dict[str, Any]) -> bytes:
    """Flask's JSON provider: sorted keys (nested ones too), ", " / ": ", ASCII escapes."""
    return json.dumps(obj, sort_keys=True).encode() + b"\n"


def problem(status: int, type_: str, title: str, detail: str | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    return Response(json.dumps(body | extra), status, media_type="application/problem+json")


def validation_problem(errors: list[dict[str, Any]]) -> Response:
    return problem(422, "request-validation-failed", "Request validation error.", errors=errors)


def invalid(type_: str, loc: list[str], msg: str, value: Any = None) -> dict[str, Any]:
    """One entry of a request-validation problem's ``errors``."""
    return {"type": type_, "loc": loc, "msg": msg, "input": value}


def legacy_error(status: int, message: str, **extra: Any) -> Response:
    body = {"error": {"code": status, "message": message, **extra}}
    return Response(json.dumps(body, sort_keys=True), status, media_type="application/json")
