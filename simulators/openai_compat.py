"""A strict, scriptable, recording simulator of an OpenAI-compatible chat API (the Hugging Face router).

Routes (under ``/v1``, as on router.huggingface.co):

* ``GET /v1/models``: ``{"object": "list", "data": [{"id", "owned_by", "architecture", "providers"}]}``;
* ``POST /v1/chat/completions``: with ``"stream": true`` Server-Sent Events (``data: {chunk}`` lines,
  a blank line after each, ``data: [DONE]`` last): a role chunk, reasoning deltas (in
  ``reasoning_content`` or ``reasoning``, see ``Script.reasoning_field``), content deltas, a chunk
  with ``finish_reason``, a usage chunk when ``stream_options.include_usage``; without it, one JSON
  completion.

Strict like the real server: a Bearer token from ``tokens`` is required (unless ``require_auth`` is
off, like a local Ollama), the body is checked (types, ranges), an unknown model answers 404 and an
unknown routing suffix 400; errors use the OpenAI envelope ``{"error": {"message", "type", "code"}}``.

``flavor`` makes it behave like another OpenAI-compatible server (shared/protocols/observed-servers.md):

* ``"router"`` (the default): the Hugging Face router, as above;
* ``"llama-server"``: llama.cpp's server: one model whose id is free-form (the model file's path), any
  ``model`` value answered by it, a first chunk with ``delta.role`` and ``content: null``, a leading space
  on the first token, a last chunk with ``choices: []``, ``usage`` and llama.cpp's ``timings``;
* ``"litellm"``: the LiteLLM proxy: free-form ids (``llama3.2:1b``, ``publisher/name:provider``), an unknown
  model answered with HTTP 400 ``/chat/completions: Invalid model name passed in model=…``, ``usage`` sent
  with a non-empty ``choices``.

With ``Script.context_size`` set, a prompt of more words than that answers HTTP 400 with llama-server's
``request (N tokens) exceeds the available context size (M tokens), try increasing it``.

Usage in a test::

    sim = OpenAICompatSimulator()
    sim.script.chunks = ["Hel", "lo"]                 # or .reply / .thinking / .first_byte_delay ...
    sim.script.http_error = ForcedError(402, "You have exceeded your monthly credits")
    with serve(sim.app) as url: provider = OpenAICompatible(base_url=url + "/v1", token=SIM_TOKEN)

Standalone: ``python -m simulators.openai_compat --port 8766`` (``--hostile URL``: answers full of remote
images and markdown tricks, see simulators/hostile.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from simulators.common import Abort, BaseScript, RecordedRequest, RecordingSimulator, pause

BACKEND = "Hugging Face Inference"  # as default replies name it
SIM_TOKEN = "hf_simulated_token_0123456789"
ROUTING = ("fastest", "cheapest")
FLAVORS = ("router", "llama-server", "litellm")
ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True)
class SimModel:
    id: str
    reasoning: bool = False
    vision: bool = False
    providers: tuple[str, ...] = ("together", "nebius")


DEFAULT_MODELS = [
    SimModel("openai/gpt-oss-120b", reasoning=True),
    SimModel("meta-llama/Llama-3.3-70B-Instruct"),
    SimModel("meta-llama/Llama-3.1-8B-Instruct", providers=("cerebras", "novita")),
    SimModel("deepseek-ai/DeepSeek-R1", reasoning=True),
    SimModel("google/gemma-3-27b-it", vision=True),
]


@dataclass
class Script(BaseScript):
    """Per-test knobs: the generic ones of ``BaseScript`` and these."""

    reasoning_field: str = "reasoning_content"  # or "reasoning" (Ollama, the HF router)
    finish_reason: str = "stop"  # "length" for an answer cut at max_tokens
    send_done: bool = True  # end with data: [DONE]
    usage: bool = True  # a usage chunk when the client asks for one
    context_size: int | None = None  # tokens (words here) a request may hold; more answers HTTP 400
    hostile: str | None = None  # one of HOSTILE: a backend that never ends (see _hostile_sse)
    hostile_bytes: int | None = None  # stop a hostile stream after about this many bytes (None: never)


class OpenAICompatSimulator(RecordingSimulator):
    """The OpenAI-compatible API in miniature. ``app`` is the Starlette app to serve."""

    def __init__(self, *, models: list[SimModel] | None = None, tokens: set[str] | None = None,
                 require_auth: bool = True, flavor: str = "router") -> None:
        super().__init__()
        if flavor not in FLAVORS:
            raise ValueError(f"unknown flavor {flavor!r}")
        self.flavor = flavor
        self.script = Script()
        self.models = {m.id: m for m in (models or DEFAULT_MODELS)}
        self.tokens = tokens if tokens is not None else {SIM_TOKEN}
        self.require_auth = require_auth
        self.hostile_sent = 0  # bytes a hostile stream has written (script.hostile)
        self.app = Starlette(
            routes=[
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
            ]
        )

    def _unauthorized(self, record: RecordedRequest) -> Response | None:
        if not self.require_auth:
            return None
        auth = record.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return error(401, "Invalid username or password.", "authentication_error")
        if auth.removeprefix("Bearer ") not in self.tokens:
            return error(401, "Invalid credentials in Authorization header", "authentication_error")
        return None

    async def _models(self, request: Request) -> Response:
        record = await self._record(request)
        if self.script.models_error:
            return self._forced(self.script.models_error, record, _envelope)
        if (denied := self._unauthorized(record)) is not None:
            return self._finish(record, denied)
        data = [
            {
                "id": m.id, "object": "model", "created": 1_700_000_000, "owned_by": m.id.split("/")[0],
                "architecture": {"input_modalities": ["text", "image"] if m.vision else ["text"]},
                "providers": [{"provider": p, "status": "live"} for p in m.providers],
            }
            for m in self.models.values()
        ]
        return self._finish(record, JSONResponse({"object": "list", "data": data}))

    async def _chat(self, request: Request) -> Response:
        record = await self._record(request)
        script = self.script
        if script.http_error:
            return self._forced(script.http_error, record, _envelope)
        if (denied := self._unauthorized(record)) is not None:
            return self._finish(record, denied)
        body = record.json_body
        if problem := _invalid(body, record.content_type):
            return self._finish(record, error(422, problem, "invalid_request_error"))
        model_or_error = self._model(body["model"])
        if isinstance(model_or_error, Response):
            return self._finish(record, model_or_error)
        model = model_or_error
        if script.context_size is not None and (used := _words(body["messages"])) > script.context_size:
            message = (f"request ({used} tokens) exceeds the available context size ({script.context_size} tokens), "
                       "try increasing it")
            return self._finish(record, error(400, message, "exceed_context_size_error"))
        if script.html_200:
            return self._finish(record, HTMLResponse("<!doctype html><html><body>Hugging Face</body></html>"))
        prompt = _last_user_text(body["messages"])
        if not body.get("stream"):
            return self._finish(record, JSONResponse(self._completion(body, prompt, model)))
        usage = script.usage and bool((body.get("stream_options") or {}).get("include_usage"))
        if script.hostile:
            return self._finish(record, self._stream(self._hostile_sse(body), "text/event-stream", record))
        return self._finish(record, self._stream(self._sse(body, prompt, model, usage, record), "text/event-stream",
                                                 record))

    def _model(self, requested: str) -> SimModel | Response:
        """The model a request names, or the error this flavor of server answers for an unknown one."""
        if self.flavor == "llama-server":
            return next(iter(self.models.values()))  # any value: the one model it serves
        if requested in self.models:
            return self.models[requested]
        if self.flavor == "litellm":
            message = (f"/chat/completions: Invalid model name passed in model={requested}. "
                       "Call `/v1/models` to view available models for your key.")
            return error(400, message, "None", "400")
        model_id, _, suffix = requested.partition(":")
        model = self.models.get(model_id)
        if model is None:
            message = f"The requested model '{model_id}' does not exist."
            return error(404, message, "invalid_request_error", "model_not_found")
        if suffix and suffix not in ROUTING and suffix not in model.providers:
            return error(400, f"Unknown provider or policy '{suffix}'", "invalid_request_error")
        return model

    def _completion(self, body: dict[str, Any], prompt: str, model: SimModel) -> dict[str, Any]:
        text = "".join(self.script.answer_chunks(prompt, BACKEND))
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if thinking := "".join(self.script.thinking_pieces(prompt, can_think=model.reasoning)):
            message[self.script.reasoning_field] = thinking
        return {
            "id": "chatcmpl-sim", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": self.script.finish_reason}],
            "usage": _usage(body, len(text.split())),
        }

    async def _sse(
        self, body: dict[str, Any], prompt: str, model: SimModel, usage: bool, record: RecordedRequest
    ) -> AsyncIterator[bytes]:
        script = self.script
        chunks = script.answer_chunks(prompt, BACKEND)
        thinking = script.thinking_pieces(prompt, can_think=model.reasoning)
        base = {"id": "chatcmpl-sim", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": body["model"]}

        def chunk(delta: dict[str, Any], finish: str | None = None, kind: str = "delta") -> bytes:
            obj = {**base, "choices": [{"index": 0, "delta": script.decorate(kind, delta), "finish_reason": finish}]}
            return _data(script.decorate("chunk", obj))

        await pause(script.first_byte_delay)
        if script.extra_fields:
            yield b": keep-alive\n\nevent: simUnknownEvent\ndata: {\"choices\": []}\n\n"
        llama = self.flavor == "llama-server"
        yield chunk({"role": "assistant", "content": None if llama else ""})
        for piece in thinking:
            await pause(script.chunk_delay)
            yield chunk({script.reasoning_field: piece})
        for index in range(len(chunks) + 1):
            if index == script.disconnect_after:
                raise Abort
            if index == script.garbled_after:
                yield b"data: " + script.garbled + b"\n\n"
            if index == script.error_after:
                yield _data({"error": {"message": script.error_text, "type": "server_error", "code": 500}})
                return
            if index == len(chunks):
                break
            if index or thinking:
                await pause(script.chunk_delay)
            record.first_text_at = record.first_text_at or time.monotonic()
            yield chunk({"content": (" " if llama and not index else "") + chunks[index]})
        if usage and self.flavor == "litellm":  # usage rides on the finishing chunk, choices not empty
            obj = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": script.finish_reason}],
                   "usage": _usage(body, len(chunks))}
            yield _data(script.decorate("chunk", obj))
        else:
            yield chunk({}, finish=script.finish_reason, kind="final")
        if usage and self.flavor != "litellm":
            last: dict[str, Any] = {**base, "choices": [], "usage": _usage(body, len(chunks))}
            if llama:
                last["timings"] = {"prompt_n": last["usage"]["prompt_tokens"], "predicted_n": len(chunks),
                                   "predicted_ms": 12.5, "predicted_per_second": 80.0}
            yield _data(last)
        if script.send_done:
            yield b"data: [DONE]\n\n"


    # --- hostile backends (issue 14): streams that never end, for the reply cap and the deadlines ---------

    async def _hostile_sse(self, body: dict[str, Any]) -> AsyncIterator[bytes]:
        """A stream that never ends by itself, as ``script.hostile`` says (its bytes counted in ``hostile_sent``):

        * ``endless``: answer text in 64 KiB chunks, as fast as the client reads;
        * ``endless_line``: one ``data:`` line that never gets its newline, as fast as the client reads;
        * ``keepalive``: only SSE comments (``: keep-alive``), one every ``chunk_delay`` seconds;
        * ``trickle``: one word of answer every ``chunk_delay`` seconds.
        """
        script, base = self.script, {"id": "chatcmpl-sim", "object": "chat.completion.chunk", "model": body["model"]}
        text_block = ("All work and no play makes Jack a dull boy. " * 1490)[:65536]
        pieces = {
            "endless": _data({**base, "choices": [{"index": 0, "delta": {"content": text_block}}]}),
            "endless_line": b"x" * 65536,
            "keepalive": b": keep-alive\n\n",
            "trickle": _data({**base, "choices": [{"index": 0, "delta": {"content": "word "}}]}),
        }
        piece = pieces[script.hostile or ""]
        first = _data({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Before. "}}]})
        if script.hostile == "endless_line":
            first += b'data: {"choices": [{"index": 0, "delta": {"content": "'
        yield first
        while script.hostile_bytes is None or self.hostile_sent < script.hostile_bytes:
            if script.hostile in ("keepalive", "trickle"):
                await pause(script.chunk_delay or 0.05)
            else:
                await asyncio.sleep(0)  # let the client's disconnect be noticed
            self.hostile_sent += len(piece)
            yield piece


def error(status: int, message: str, kind: str, code: str | int | None = None) -> JSONResponse:
    """An error in the OpenAI envelope."""
    return JSONResponse({"error": {"message": message, "type": kind, "code": code}}, status)


def _envelope(status: int, message: str) -> Response:
    return error(status, message, "server_error" if status >= 500 else "invalid_request_error")


def _data(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def _invalid(body: Any, content_type: str) -> str | None:
    """Why a chat body is refused (as the real server's 422 would say), or None."""
    if "json" not in content_type or not isinstance(body, dict):
        return "the body must be a JSON object"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: a non-empty list is required"
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            return f"messages.{i}.role: must be one of {', '.join(ROLES)}"
        if not isinstance(m.get("content"), str | list):
            return f"messages.{i}.content: must be a string or a list of parts"
    for key, low, high in (("temperature", 0.0, 2.0), ("top_p", 0.0, 1.0)):
        value = body.get(key)
        if value is not None and (not isinstance(value, int | float) or not low <= value <= high):
            return f"{key}: must be a number between {low} and {high}"
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        return "max_tokens: must be a positive integer"
    if "stream" in body and not isinstance(body["stream"], bool):
        return "stream: must be a boolean"
    return None


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content)
    return ""


def _words(messages: list[dict[str, Any]]) -> int:
    """The prompt's size in this simulator's tokens (words)."""
    return sum(len(str(m.get("content", "")).split()) for m in messages)


def _usage(body: dict[str, Any], completion_tokens: int) -> dict[str, int]:
    prompt_tokens = _words(body["messages"])
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def main(argv: list[str] | None = None) -> None:
    from simulators.serve import run_forever

    parser = argparse.ArgumentParser(description="Serve the OpenAI-compatible (Hugging Face) simulator on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--chunk-delay", type=float, default=0.02, help="seconds between answer chunks")
    parser.add_argument("--first-byte-delay", type=float, default=0.0, help="seconds before the first chunk")
    parser.add_argument("--no-auth", action="store_true", help="accept requests without a token (like Ollama)")
    parser.add_argument("--flavor", choices=FLAVORS, default="router", help="which server to behave like")
    parser.add_argument("--hostile", metavar="ATTACKER_URL",
                        help="answer with remote images and markdown tricks pointing at this URL (security tests)")
    args = parser.parse_args(argv)
    models = None
    if args.hostile:
        from simulators.hostile import hostile_model_id

        models = [SimModel(hostile_model_id(args.hostile), reasoning=True), *DEFAULT_MODELS]
    sim = OpenAICompatSimulator(require_auth=not args.no_auth, flavor=args.flavor, models=models)
    if args.hostile:
        from simulators.hostile import script_hostile

        script_hostile(sim.script, args.hostile)
    sim.script.chunk_delay, sim.script.first_byte_delay = args.chunk_delay, args.first_byte_delay
    print(f"token: {SIM_TOKEN}")
    run_forever(sim.app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
