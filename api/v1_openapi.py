"""The ``/v1`` paths and schemas of the OpenAPI description (merged into api/openapi.py's document)."""

from __future__ import annotations

from typing import Any

from api.v1_answer import CONVERSATION_HEADER, DISCONNECT_HEADER
from api.v1_request import SYSTEM_CLOSE, SYSTEM_OPEN
from providers import registry

ERROR_REF = {"$ref": "#/components/schemas/OpenAIError"}


def _error(description: str, code: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {
        "schema": ERROR_REF, "example": {"error": {"message": "…", "type": "…", "param": None, "code": code}}}}}


RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer", "minimum": 1},
                               "description": "Seconds to wait, where known"}}
CONVERSATION = {CONVERSATION_HEADER: {"schema": {"type": "string"},
                                      "description": "The conversation the call was saved in (open it at /?c=<id>)"}}

CHAT = {
    "post": {
        "operationId": "createChatCompletion",
        "summary": "OpenAI's Chat Completions for every backend; every call is saved as a conversation",
        "description": (
            "`model` is an id from GET /v1/models (`backend/model`). Stateless clients resend the whole history: "
            "when the earlier messages (roles and text) equal the whole visible history of one of your 20 most "
            "recently active conversations, that conversation continues (web backends get only the new message); "
            f"otherwise a new one starts. System (or developer) messages are folded into the next user message "
            f"between `{SYSTEM_OPEN}` and `{SYSTEM_CLOSE}`. Images: `image_url` parts with `data:` URLs, for models "
            "marked `chatdeck.vision`. Tools, n > 1, logprobs, stop, penalties, seed and response formats are "
            "refused with a 400 naming the parameter."),
        "security": [{"bearerAuth": []}],
        "parameters": [
            {"name": CONVERSATION_HEADER, "in": "header", "required": False, "schema": {"type": "string"},
             "description": "Continue this conversation of yours (its id, as in the UI's ?c=)."},
            {"name": DISCONNECT_HEADER, "in": "header", "required": False,
             "schema": {"type": "string", "enum": ["finish", "cancel"], "default": "finish"},
             "description": "What closing the connection does: `finish` (the reply is finished and saved) or "
                            "`cancel` (the backend request is stopped; the partial reply is saved, marked stopped)."},
        ],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ChatCompletionRequest"}}}},
        "responses": {
            "200": {"description": "A `chat.completion` object, or with `stream: true` server-sent events: "
                                   "`chat.completion.chunk`s (role first; text in `delta.content`, reasoning in "
                                   "`delta.reasoning_content`; `finish_reason` stop or length; a usage chunk when "
                                   "`stream_options.include_usage`), then `data: [DONE]`. A failure after the text "
                                   "began is a `data: {\"error\": …}` event without `[DONE]`.",
                    "headers": CONVERSATION,
                    "content": {"application/json": {"schema": {"type": "object"}},
                                "text/event-stream": {"schema": {"type": "string"}}}},
            "400": _error("Malformed request, unsupported parameter (`param` names it), image for a text-only "
                          "model or not a data URL", "unsupported_parameter"),
            "401": _error("Missing, malformed, expired or revoked token", "invalid_api_key"),
            "403": _error("The backend is switched off by an admin, or needs a login you have not saved in "
                          "Settings (or the backend rejected it)", "backend_disabled"),
            "404": _error("Unknown model, or no conversation of yours has the id in X-Chatdeck-Conversation",
                          "model_not_found"),
            "413": _error("The body is larger than 16 MiB", "request_too_large"),
            "429": {**_error("Over your messages-per-minute limit (nothing saved or sent), or the backend is "
                             "limiting requests (`backend_rate_limited`)", "rate_limit_exceeded"),
                    "headers": RETRY_AFTER},
            "500": _error("Chatdeck failed", "internal_error"),
            "502": _error("The backend answered with an error (its words in `message`)", "backend_error"),
            "503": _error("The backend did not answer, or the reply was stopped", "backend_unavailable"),
        },
    }
}

MODELS = {
    "get": {
        "operationId": "listModels",
        "summary": "The models of every backend you may use, ids `backend/model`, with each backend's state",
        "security": [{"bearerAuth": []}],
        "responses": {
            "200": {"description": "`{\"object\": \"list\", \"data\": [...]}`; each model's `owned_by` is its "
                                   "backend and `chatdeck` holds the backend's state (ready, needs_credentials, "
                                   "rate_limited, ...), whether it takes images and whether it reasons",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ModelList"}}}},
            "401": _error("Missing, malformed, expired or revoked token", "invalid_api_key"),
        },
    }
}

MESSAGE = {"type": "object", "required": ["role"], "properties": {
    "role": {"type": "string", "enum": ["system", "developer", "user", "assistant"]},
    "content": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object", "properties": {
        "type": {"type": "string", "enum": ["text", "image_url"]}, "text": {"type": "string"},
        "image_url": {"type": "object", "properties": {"url": {"type": "string", "pattern": "^data:image/"}}}}}}]},
}}

# "backend/model-id": the default backend and its first model (allenai/olmo-3.1-32b-instruct)
EXAMPLE_MODEL = f"{registry.DEFAULT_BACKEND}/{registry.BACKENDS[registry.DEFAULT_BACKEND].fallback_models[0].id}"

SCHEMAS: dict[str, Any] = {
    "ChatCompletionRequest": {"type": "object", "required": ["model", "messages"], "properties": {
        "model": {"type": "string", "examples": [EXAMPLE_MODEL]},
        "messages": {"type": "array", "minItems": 1, "maxItems": 1000, "items": MESSAGE},
        "stream": {"type": "boolean"},
        "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "max_tokens": {"type": "integer", "minimum": 1},
        "max_completion_tokens": {"type": "integer", "minimum": 1},
        "user": {"type": "string", "description": "accepted, not used"},
    }},
    "ModelList": {"type": "object", "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": {
        "type": "object", "properties": {
            "id": {"type": "string"}, "object": {"const": "model"}, "created": {"type": "integer"},
            "owned_by": {"type": "string"},
            "chatdeck": {"type": "object", "properties": {
                "name": {"type": "string"}, "backend": {"type": "string"}, "state": {"type": "string"},
                "state_label": {"type": "string"}, "vision": {"type": "boolean"}, "reasoning": {"type": "boolean"}}},
        }}}}},
    "OpenAIError": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["message", "type", "code"], "properties": {
            "message": {"type": "string"}, "type": {"type": "string"}, "param": {"type": ["string", "null"]},
            "code": {"type": ["string", "null"]}}}}},
}

ONE_MODEL = {
    "get": {
        "operationId": "retrieveModel",
        "summary": "One entry of GET /v1/models",
        "security": [{"bearerAuth": []}],
        "parameters": [{"name": "model_id", "in": "path", "required": True, "schema": {"type": "string"},
                        "description": "backend/model (its slashes unescaped)"}],
        "responses": {"200": {"description": "The model, as listed", "content": {"application/json": {
                          "schema": {"type": "object"}}}},
                      "401": _error("Missing, malformed, expired or revoked token", "invalid_api_key"),
                      "404": _error("Not among the models you may use", "model_not_found")},
    }
}

PATHS = {"/v1/chat/completions": CHAT, "/v1/models": MODELS, "/v1/models/{model_id}": ONE_MODEL}
