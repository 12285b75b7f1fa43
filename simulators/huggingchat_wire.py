"""HuggingChat's bodies as the server writes them (web-backends.md §1, §5.1), for the simulator.

Models, conversations and messages; superjson and SvelteKit ``__data.json`` (devalue-flattened)
encodings; the hook's and the routes' error bodies; the padded stream lines.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse, Response

PAD = 16  # stream tokens are right-padded with NULs to this many characters
TAIL = " " * 4096  # written after the finalAnswer line, without a newline
EMPTY_DATA_JSON = '{"type":"data","nodes":[null,null]}'  # __data.json of today's server, for any id
# The message POST's ``data`` schema; the server drops any other field silently.
MESSAGE_FIELDS = frozenset({"inputs", "id", "is_retry", "generationId", "files", "selectedMcpServerNames", "timezone"})
LOGIN_PAGE = (
    "<!doctype html><html><head><title>Hugging Face – Sign in</title></head>"
    "<body><form action=\"/login\"><input name=\"username\"></form></body></html>"
)


@dataclass
class SimModel:
    id: str
    multimodal: bool = False
    reasoning: bool = False  # the model thinks (its answers carry reasoning)
    unlisted: bool = False
    listed_reasoning: bool | None = None  # what the model list says (None: ``reasoning``); router models: False

    def wire(self) -> dict[str, Any]:
        listed = self.reasoning if self.listed_reasoning is None else self.listed_reasoning
        return {"id": self.id, "name": self.id, "displayName": self.id, "description": f"{self.id} (simulated)",
                "reasoning": listed, "supportsReasoning": listed, "multimodal": self.multimodal,
                **({"multimodalAcceptedMimetypes": ["image/*"]} if self.multimodal else {}),
                "tools": not self.multimodal, "unlisted": self.unlisted, "hasInferenceAPI": True}


DEFAULT_MODELS = [
    SimModel("Qwen/Qwen2.5-72B-Instruct"),
    SimModel("meta-llama/Llama-3.3-70B-Instruct"),
    SimModel("meta-llama/Llama-3.2-11B-Vision-Instruct", multimodal=True),
    SimModel("Qwen/QwQ-32B", reasoning=True),
    SimModel("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", reasoning=True, listed_reasoning=False),  # router-found
    SimModel("old/unlisted-model", unlisted=True),
]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class SimMessage:
    id: str
    role: str  # "from" on the wire
    content: str
    ancestors: list[str]
    children: list[str] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    reasoning: str = ""
    created: str = field(default_factory=now)

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "from": self.role, "content": self.content, "createdAt": self.created,
                               "updatedAt": self.created, "children": self.children, "ancestors": self.ancestors}
        if self.role == "user":
            out["files"] = [{k: f[k] for k in ("type", "name", "mime")} for f in self.files]
        if self.role == "assistant":
            out |= {"updates": self.updates, "interrupted": False}
            out |= {"reasoning": self.reasoning} if self.reasoning else {}
        return out


@dataclass
class SimConversation:
    id: str
    session: str  # the hf-chat cookie that owns it
    model: str
    messages: list[SimMessage]
    title: str = "New Chat"
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # sha -> (mime, bytes): generated files

    @classmethod
    def new(cls, conversation_id: str, session: str, model: str, preprompt: str = "") -> SimConversation:
        """chat-ui's new conversation: one root system message holding the preprompt (the system prompt)."""
        return cls(conversation_id, session, model, [SimMessage(str(uuid.uuid4()), "system", preprompt, [])])

    def find(self, message_id: str) -> SimMessage | None:
        return next((m for m in self.messages if m.id == message_id), None)

    def add(self, role: str, content: str, parent: SimMessage) -> SimMessage:
        message = SimMessage(str(uuid.uuid4()), role, content, [*parent.ancestors, parent.id])
        parent.children.append(message.id)
        self.messages.append(message)
        return message

    def payload(self) -> dict[str, Any]:
        return {"messages": [m.wire() for m in self.messages], "title": self.title, "model": self.model,
                "preprompt": self.messages[0].content, "rootMessageId": self.messages[0].id, "id": self.id,
                "updatedAt": now(),
                "modelId": self.model, "modelTools": False, "shared": False}


# --- encodings ------------------------------------------------------------------------------------


def superjson(value: Any) -> str:
    meta = {"values": {"updatedAt": ["Date"]}, "v": 1} if isinstance(value, dict) and "updatedAt" in value else None
    return json.dumps({"json": value, **({"meta": meta} if meta else {})}, separators=(",", ":"), ensure_ascii=False)


def devalue(root: Any) -> list[Any]:
    """SvelteKit's flattened form: one array, references by index, equal primitives stored once."""
    out: list[Any] = []
    seen: dict[tuple[str, Any], int] = {}

    def add(value: Any) -> int:
        if value is None or isinstance(value, bool | int | float | str):
            key = (type(value).__name__, value)
            if key not in seen:
                seen[key] = len(out)
                out.append(value)
            return seen[key]
        index = len(out)
        out.append(None)
        if isinstance(value, dict):
            out[index] = {k: add(v) for k, v in value.items()}
        else:
            out[index] = [add(v) for v in value]
        return index

    add(root)
    return out


def data_json(conversation: SimConversation | None, error: tuple[int, str] | None = None) -> str:
    """A conversation page's ``__data.json`` (HTTP 200 even for an error node)."""
    layout = {"type": "data", "data": devalue({"nConversations": 1, "settings": {"ethicsModalAccepted": True}}),
              "uses": {"dependencies": ["conversation:list"]}}
    if error is not None:
        page: dict[str, Any] = {"type": "error", "error": {"message": error[1]}, "status": error[0]}
    else:
        assert conversation is not None
        data = conversation.payload()
        page_value = {k: data[k] for k in ("messages", "title", "model", "preprompt", "rootMessageId")}
        page = {"type": "data", "data": devalue(page_value | {"assistant": None, "shared": False}),
                "uses": {"dependencies": ["conversation"], "params": ["id"]}}
    return json.dumps({"type": "data", "nodes": [layout, page]}, separators=(",", ":"), ensure_ascii=False) + "\n"


def line(update: dict[str, Any]) -> bytes:
    """One update as JSON.stringify writes it: compact, non-ASCII as is, NULs escaped."""
    return (json.dumps(update, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def padded(token: str) -> str:
    return token.ljust(PAD, "\x00")


# --- error bodies -----------------------------------------------------------------------------------


def hook_error(status: int, message: str, accept: str, content_type: str) -> Response:
    """The server hook's ``errorResponse``: JSON when the request asked for or sent JSON, else plain text."""
    if "application/json" in accept or "application/json" in content_type:
        return JSONResponse({"error": message}, status)
    return PlainTextResponse(message, status)


def route_error(status: int, message: str) -> Response:
    """SvelteKit ``error()`` thrown in a ``+server.ts`` route, for a non-HTML request."""
    return JSONResponse({"message": message}, status)
