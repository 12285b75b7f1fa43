"""Which chat requests the simulated Ai2 Playground accepts, and how it refuses the rest.

``read_v5`` / ``read_v4_threads`` / ``read_v4`` check a recorded ``POST /v5/threads/chat``,
``POST /v4/threads/`` or ``POST /v4/message/stream`` in the real server's order (caller, form,
options, model, files, parent) and return the ``Turn`` it asks for, or raise ``Rejected`` carrying the answer in the
protocol's error envelope (simulators/allenai_wire.py). ``caller`` says who is asking.
The simulator that stores and streams the turn is simulators/allenai.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from simulators.allenai_wire import (
    V4_FORBIDDEN,
    V4_UNAUTHORIZED,
    SimMessage,
    SimModel,
    invalid,
    legacy_error,
    problem,
    validation_problem,
)
from simulators.common import RecordedRequest


@dataclass
class Turn:
    """A valid chat request: who asks which model what, below which message."""

    caller: str
    model: SimModel
    content: str
    parent: SimMessage | None
    opts: dict[str, Any]
    files: list[str]


class Rejected(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def rejected(v5: bool, message: str, v5_status: int = 422, type_: str = "unprocessable-problem") -> Rejected:
    """A request error in the protocol's envelope (v4 always answers 400)."""
    if v5:
        return Rejected(problem(v5_status, type_, type_.replace("-", " ").capitalize(), message))
    return Rejected(legacy_error(400, message))


def caller(record: RecordedRequest) -> str | None:
    """The user a request comes from: a bearer token's, else the anonymous id (None: neither)."""
    anonymous = record.headers.get("x-anonymous-user-id", "").strip()
    bearer = record.headers.get("authorization", "").removeprefix("Bearer ").strip()
    return f"auth0|{bearer}" if bearer else (anonymous or None)


def read_v5(
    record: RecordedRequest,
    models: dict[str, SimModel],
    messages: dict[str, SimMessage],
    threads: dict[str, list[SimMessage]],
) -> Turn:
    """The turn a ``POST /v5/threads/chat`` asks for (``messages``/``threads``: the stored conversations)."""
    user = caller(record)
    if user is None:
        raise Rejected(problem(401, "http-unauthorized", "Unauthorized", "Authentication required"))
    form = record.form
    if "form" not in record.content_type or "role" not in form:
        tag_error = invalid("union_tag_not_found", ["body"], "Unable to extract tag using discriminator 'role'")
        raise Rejected(validation_problem([tag_error]))
    if form["role"] != "user":
        expected = "does not match any of the expected tags: 'user', 'tool_call_result'"
        tag_error = invalid("union_tag_invalid", ["body"], f"Input tag '{form['role']}' found using 'role' {expected}")
        raise Rejected(validation_problem([tag_error]))
    if "captchaToken" in form or "captcha_token" in form:
        raise Rejected(problem(400, "bad-request-problem", "Bad Request", "Invalid captcha"))
    errors = [] if form.get("model") else [invalid("missing", ["body", "user", "model"], "Field required")]
    if not form.get("content", "").strip():
        message = "Value error, One of content or inputParts is required"
        errors.append(invalid("value_error", ["body", "user"], message))
    opts = _options(form, ("temperature", "topP", "maxTokens"), errors, v5=True)
    if errors:
        raise Rejected(validation_problem(errors))
    model = models.get(form["model"])
    if model is None:
        detail = f"Model with ID '{form['model']}' not found"
        raise Rejected(problem(422, "model-not-found", "Model not found", detail))
    _check_files(record, model, v5=True)
    parent = _check_parent(form.get("parent"), user, messages, threads, v5=True)
    return Turn(user, model, form["content"], parent, opts, [f.filename or "file" for f in record.files])


def read_v4_threads(
    record: RecordedRequest,
    models: dict[str, SimModel],
    messages: dict[str, SimMessage],
    threads: dict[str, list[SimMessage]],
) -> Turn:
    """The turn a ``POST /v4/threads/`` (multipart or JSON; camelCase, snake_case accepted) asks for.

    The Flask ``CreateMessageRequest`` of olmo-api at f0c14ee (allenai-current.md §1.1, §5.1).
    """
    user = caller(record)
    if user is None:
        raise Rejected(legacy_error(401, V4_UNAUTHORIZED))
    form = dict(record.form)
    if isinstance(record.json_body, dict):
        form |= {k: str(v) for k, v in record.json_body.items()}
    if "captchaToken" in form or "captcha_token" in form:  # a present token is assessed: ours cannot pass
        raise Rejected(legacy_error(400, "invalid_captcha"))
    problems: list[dict[str, Any]] = []
    if not form.get("model"):
        problems.append({"loc": ["model"], "msg": "Field required", "type": "missing"})
    if not form.get("content", "").strip():
        message = "Value error, One of content or inputParts is required"
        problems.append({"loc": [], "msg": message, "type": "value_error"})
    if form.get("role", "user") != "user":  # the simulator streams user turns only
        problems.append({"loc": ["role"], "msg": "Unsupported role", "type": "value_error"})
    opts = _options(form, ("temperature", "topP", "maxTokens"), problems, v5=False)
    if problems:
        text = f"{len(problems)} validation error for CreateMessageRequest\n" + "\n".join(
            f"{'.'.join(p['loc']) or 'body'}\n  {p['msg']}" for p in problems
        )
        raise Rejected(legacy_error(400, text, validation_errors=problems))
    return _legacy_turn(record, form, user, opts, models, messages, threads)


def read_v4(
    record: RecordedRequest,
    models: dict[str, SimModel],
    messages: dict[str, SimMessage],
    threads: dict[str, list[SimMessage]],
) -> Turn:
    """The turn a ``POST /v4/message/stream`` (form or JSON) asks for."""
    user = caller(record)
    if user is None:
        raise Rejected(legacy_error(401, V4_UNAUTHORIZED))
    form = dict(record.form)
    if isinstance(record.json_body, dict):
        form |= {k: str(v) for k, v in record.json_body.items()}
    if form.get("captcha_token") or form.get("captchaToken"):
        raise Rejected(legacy_error(400, "invalid_captcha"))
    missing = [name for name in ("model", "host", "content") if not form.get(name)]
    if missing:
        text = f"{len(missing)} validation error for CreateMessageRequestV4\n" + "\n".join(
            f"{name}\n  Field required [type=missing]" for name in missing
        )
        errors = [{"loc": [name], "msg": "Field required", "type": "missing"} for name in missing]
        raise Rejected(legacy_error(400, text, validation_errors=errors))
    problems: list[dict[str, Any]] = []
    opts = _options(form, ("temperature", "top_p", "max_tokens"), problems, v5=False)
    if problems:
        text = "validation error for CreateMessageRequestV4\n" + "\n".join(p["msg"] for p in problems)
        raise Rejected(legacy_error(400, text, validation_errors=problems))
    return _legacy_turn(record, form, user, opts, models, messages, threads)


def _legacy_turn(
    record: RecordedRequest,
    form: dict[str, str],
    user: str,
    opts: dict[str, Any],
    models: dict[str, SimModel],
    messages: dict[str, SimMessage],
    threads: dict[str, list[SimMessage]],
) -> Turn:
    """The turn of a validated v4 request (either v4 route): its model, files and parent, checked as the Flask
    API checks them, in its legacy error envelope."""
    model = models.get(form["model"])
    if model is None:
        raise Rejected(legacy_error(400, f"Invalid model {form['model']}"))
    _check_files(record, model, v5=False)
    parent = _check_parent(form.get("parent"), user, messages, threads, v5=False)
    return Turn(user, model, form["content"], parent, opts, [f.filename or "file" for f in record.files])


def _options(
    form: dict[str, str], names: tuple[str, str, str], errors: list[dict[str, Any]], *, v5: bool
) -> dict[str, Any]:
    """Sampling options (model defaults unless sent); bad numbers are collected into ``errors``."""
    opts: dict[str, Any] = {"temperature": 0.7, "top_p": 1.0, "max_tokens": 2048}
    for key, name, kind in zip(("temperature", "top_p", "max_tokens"), names, (float, float, int), strict=True):
        raw = form.get(name, form.get(key))
        if raw is None:
            continue
        try:
            opts[key] = kind(raw)
        except ValueError:
            expected = "number" if kind is float else "integer"
            errors.append(
                invalid(f"{kind.__name__}_parsing", ["body", "user", name], f"Input should be a valid {expected}", raw)
            )
    for key, (low, high) in {"temperature": (0.0, 1.0), "top_p": (0.01, 1.0), "max_tokens": (1, 2048)}.items():
        if not low <= opts[key] <= high:  # a plain ValueError on the server: 500 in v5, 400 in v4
            raise rejected(v5, f"{key} must be between {low} and {high}", 500, "unhandled-exception")
    return opts


def _check_files(record: RecordedRequest, model: SimModel, *, v5: bool) -> None:
    if record.files and not model.accepts_files:
        raise rejected(v5, "This model doesn't accept files")
    if any(not f.content_type.startswith(("image/", "video/")) for f in record.files):
        raise rejected(v5, "Unsupported file types in input", 400, "bad-request-problem")


def _check_parent(
    parent_id: str | None,
    user: str,
    messages: dict[str, SimMessage],
    threads: dict[str, list[SimMessage]],
    *,
    v5: bool,
) -> SimMessage | None:
    """The message to answer below: it must exist, be in the caller's thread, and not be a user's."""
    if not parent_id:
        return None
    parent = messages.get(parent_id)
    if parent is None:
        raise rejected(v5, f"Parent message {parent_id} not found", type_="invalid-parent")
    if threads[parent.root][0].creator != user:
        if v5:
            raise Rejected(problem(403, "forbidden-problem", "Forbidden", "Cannot create message when not creator"))
        raise Rejected(legacy_error(403, V4_FORBIDDEN))
    if parent.role == "user":
        raise rejected(v5, "Parent and child must have different roles", type_="invalid-parent")
    return parent
