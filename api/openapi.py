"""The OpenAPI 3.1 description of the REST API, served at ``GET /api/openapi.json``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from api import health, v1_openapi
from api.chat import INVALID_MODEL, PATH, SERVICE_GONE, TOO_MANY, ChatBody


def _error(status: int, message: str, description: str) -> dict[str, Any]:
    example = {"statusCode": status, "statusMessage": message}
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}, "example": example}}}


def _health_response(description: str, example: dict[str, str]) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}, "example": example}}}


HEALTH_PATH = {
    "get": {
        "operationId": "health",
        "summary": "Whether this replica can serve, its database included (for load balancers; no token)",
        "security": [],
        "responses": {
            "200": _health_response("The database answered", {"status": "ok", "database": "ok", "replica": "a"}),
            "503": _health_response(
                f"The database failed or did not answer within {health.TIMEOUT:g} s; `database` names the kind of "
                "failure only", {"status": "unavailable", "database": "OperationalError", "replica": "a"}),
        },
    }
}


def spec() -> dict[str, Any]:
    schema = ChatBody.model_json_schema(ref_template="#/components/schemas/{model}")
    body_ref = {"$ref": "#/components/schemas/ChatRequest"}
    path_param = {"in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Chatdeck REST API", "version": "1",
                 "description": "Chat through Chatdeck: seed 002's endpoint for the Hugging Face (or other "
                                "OpenAI-compatible) backend, and an OpenAI-compatible /v1 for every backend; every "
                                "chat is saved and visible in the UI. Issue a token on the Settings page."},
        "paths": {
            PATH: {
                "post": {
                    "operationId": "huggingfaceChat",
                    "summary": "Send the chat's messages; the reply streams back as text",
                    "security": [{"bearerAuth": []}],
                    "parameters": [
                        {"name": "model_publisher", **path_param,
                         "description": "e.g. meta-llama; `_` for a model id without a publisher (the free-form "
                                        "ids of other OpenAI-compatible servers: `_/llama3.2:1b`)"},
                        {"name": "model_name", **path_param,
                         "description": "e.g. Llama-3.3-70B-Instruct, optionally with a routing suffix "
                                        "(:fastest, :cheapest, or a provider name). Percent-encode what is not a "
                                        "plain path segment: llama-server's `/models/x.gguf` is "
                                        "`_/%2Fmodels%2Fx.gguf`. The id must be one the server lists."},
                        {"name": "chat_id", "in": "query", "required": True,
                         "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                         "description": "Names one of your conversations: the id of one (as in the UI's ?c=), or "
                                        "any string, which names a conversation created on first use."},
                    ],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": body_ref}}},
                    "responses": {
                        "200": {
                            "description": "The reply's text, streamed (chunked) as it is written. A failure after "
                                           "the text started ends the connection without the closing chunk.",
                            "headers": {
                                "Cache-Control": {"schema": {"type": "string", "const": "no-cache"}},
                                "X-Accel-Buffering": {"schema": {"type": "string", "const": "no"}},
                                "X-Conversation-Id": {"schema": {"type": "string"},
                                                      "description": "The conversation in the UI: /?c=<id>"},
                            },
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        },
                        "400": _error(400, INVALID_MODEL,
                                      f'"{INVALID_MODEL}", "{SERVICE_GONE}" (the backend is disabled or the model '
                                      'is gone), or "Invalid request" with data.errors for a malformed request'),
                        "401": _error(401, "Unauthorized", "Missing, malformed, expired, revoked or forged token"),
                        "413": _error(413, "Payload Too Large", "The body is larger than 4 MiB (refused while "
                                      "reading it)"),
                        "429": {
                            **_error(429, TOO_MANY, "Over your messages-per-minute limit; nothing was saved or sent. "
                                                    "data.message says how many and when to try again"),
                            "headers": {"Retry-After": {
                                "schema": {"type": "integer", "minimum": 1},
                                "description": "Seconds until the next message is accepted"}},
                        },
                        "500": _error(500, "Internal Server Error", "Chatdeck failed; nothing more is said"),
                        "502": _error(502, "Bad Gateway", "The backend refused (data.message says why, e.g. its "
                                                          "token or credits)"),
                        "503": _error(503, "Service Unavailable", "The backend is unreachable or overloaded"),
                    },
                }
            },
            health.PATH: HEALTH_PATH,
            **v1_openapi.PATHS,
        },
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {
                "ChatRequest": {k: v for k, v in schema.items() if k != "$defs"},
                **schema.get("$defs", {}),
                **v1_openapi.SCHEMAS,
                "Health": {
                    "type": "object", "required": ["status", "database", "replica"],
                    "properties": {
                        "status": {"type": "string", "enum": ["ok", "unavailable"]},
                        "database": {"type": "string", "description": '"ok", or the kind of failure'},
                        "replica": {"type": "string", "description": "$CHATDECK_REPLICA, else the host name"},
                    },
                },
                "Error": {
                    "type": "object", "required": ["statusCode", "statusMessage"],
                    "properties": {"statusCode": {"type": "integer"}, "statusMessage": {"type": "string"},
                                   "data": {"type": "object"}},
                },
            },
        },
    }


async def handle(_request: Request) -> JSONResponse:
    return JSONResponse(spec())
