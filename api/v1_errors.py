"""OpenAI's error shape for the ``/v1`` API: ``{"error": {"message", "type", "param", "code"}}``.

The official clients turn the status into their exception classes (401 AuthenticationError, 403
PermissionDeniedError, 404 NotFoundError, 429 RateLimitError, 400 BadRequestError, 5xx
InternalServerError) and show ``message``; ``code`` says which case it is, for programs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.responses import JSONResponse

TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_error",
         404: "invalid_request_error", 413: "invalid_request_error", 429: "rate_limit_error",
         500: "server_error", 502: "api_error", 503: "api_error"}


@dataclass
class V1Error(Exception):
    """A refusal with its HTTP status, in OpenAI's terms (raised anywhere in the /v1 code, answered once)."""

    status: int
    message: str
    code: str
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def body(self) -> dict[str, object]:
        return {"error": {"message": self.message, "type": TYPES.get(self.status, "api_error"),
                          "param": self.param, "code": self.code}}

    def response(self, extra_headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(self.body(), self.status, headers={**self.headers, **(extra_headers or {})} or None)


def unauthorized() -> V1Error:
    return V1Error(401, "Missing, malformed, expired or revoked API token: issue one under Settings → API tokens.",
                   "invalid_api_key", headers={"WWW-Authenticate": 'Bearer realm="chatdeck"'})


def bad_request(message: str, param: str | None, code: str = "invalid_value") -> V1Error:
    return V1Error(400, message, code, param)


def unsupported(param: str, why: str = "") -> V1Error:
    return V1Error(400, f"Chatdeck does not support the parameter '{param}'{why}.", "unsupported_parameter", param)


def model_not_found(model: str) -> V1Error:
    return V1Error(404, f"The model '{model}' does not exist or you do not have access to it. GET /v1/models "
                        "lists the ids (backend/model).", "model_not_found", "model")


def rate_limited(message: str, retry_after: float | int | None, code: str = "rate_limit_exceeded") -> V1Error:
    headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after is not None else {}
    return V1Error(429, message, code, headers=headers)
