"""The OpenAPI 3.1 description of the REST API, served at ``GET /api/openapi.json``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from api.chat import INVALID_MODEL, PATH, SERVICE_GONE, ChatBody


def _error(status: int, message: str, description: str) -> dict[str, Any]:
    example = {"statusCode": status, "statusMessage": message}
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}, "example": example}}}


def spec() -> dict[str, Any]:
    schema = ChatBody.model_json_schema(ref_template="#/components/schemas/{model}")
    body_ref = {"$ref": "#/components/schemas/ChatRequest"}
    path_param = {"in": "path", "required": True, "schema": {"type": "string", "pattern": r"^[A-Za-z0-9][\w.-]*$"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Chatdeck REST API", "version": "1",
                 "description": "Chat with Hugging Face models through Chatdeck; every chat is saved and visible in "
                                "the UI. Issue a token on the Settings page."},
        "paths": {
            PATH: {
                "post": {
                    "operationId": "huggingfaceChat",
                    "summary": "Send the chat's messages; the reply streams back as text",
                    "security": [{"bearerAuth": []}],
                    "parameters": [
                        {"name": "model_publisher", **path_param, "description": "e.g. meta-llama"},
                        {"name": "model_name", **path_param,
                         "description": "e.g. Llama-3.3-70B-Instruct, optionally with a routing suffix "
                                        "(:fastest, :cheapest, or a provider name)"},
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
                        "500": _error(500, "Internal Server Error", "Chatdeck failed; nothing more is said"),
                        "502": _error(502, "Bad Gateway", "The backend refused (data.message says why, e.g. its "
                                                          "token or credits)"),
                        "503": _error(503, "Service Unavailable", "The backend is unreachable or overloaded"),
                    },
                }
            }
        },
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {
                "ChatRequest": {k: v for k, v in schema.items() if k != "$defs"},
                **schema.get("$defs", {}),
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
