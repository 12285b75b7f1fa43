"""``GET /v1/models`` and the ``backend/model`` ids of the ``/v1`` API.

An id is a registry backend name (providers/registry.py), a slash, and that backend's model id, e.g.
``allenai/olmo-3.1-32b-instruct`` or ``huggingchat/meta-llama/Llama-3.3-70B-Instruct``. The list comes
from the runner's cached model catalogue (runner/catalog.py: never a network call on this request) and
each backend's state from the database, as the Backends page shows it (runner/backend_health.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api import shared, tokens
from api.v1_errors import V1Error, model_not_found, unauthorized
from providers import registry
from providers.base import ModelInfo
from runner import backend_health, health
from runner.runner import get_runner

PATH = "/v1/models"
ONE_PATH = "/v1/models/{model_id:path}"


@dataclass(frozen=True)
class Target:
    """The backend and model a ``backend/model`` id names."""

    backend: str
    model: str
    info: ModelInfo | None  # the catalogue's entry, when the model is listed


def resolve(model_id: str) -> Target:
    """The backend and model of an id; :class:`V1Error` 404 when no backend has it, 403 when it is disabled.

    A model missing from a backend's list is unknown once the list came from the backend itself; while only
    the built-in fallback list is known, the backend is asked and its own "no such model" becomes the 404.
    A routing suffix (``model:fastest``) is compared without it.
    """
    name, _, model = model_id.partition("/")
    info = registry.all_backends().get(name)
    if info is None or not model:
        raise model_not_found(model_id)
    if info.status == "disabled":
        raise V1Error(403, f"{info.display_name} is switched off by an admin of this Chatdeck.", "backend_disabled",
                      "model")
    model = info.resolve_model(model)
    catalog = get_runner().catalog
    listed = {m.id: m for m in catalog.models(name)}
    found = listed.get(model) or listed.get(model.partition(":")[0])
    if found is None and catalog.is_live(name):
        raise model_not_found(model_id)
    return Target(name, model, found)


def _entry(backend: str, model: ModelInfo, display_name: str, state: str) -> dict[str, object]:
    return {"id": f"{backend}/{model.id}", "object": "model", "created": 0, "owned_by": backend,
            "chatdeck": {"name": model.label, "backend": display_name, "state": state,
                         "state_label": health.LABELS.get(state, state), "vision": model.vision,
                         "reasoning": model.reasoning}}


def listing(owner: int) -> dict[str, object]:
    """Every model of every backend the user may use (not those an admin switched off), with its backend's state."""
    return {"object": "list", "data": _entries(owner)}


def _entries(owner: int) -> list[dict[str, object]]:
    """The entries of :func:`listing`."""
    states = backend_health.states(owner)
    catalog = get_runner().catalog
    return [
        _entry(name, model, info.display_name, states.get(name, health.UNKNOWN))
        for name, info in registry.all_backends().items() if info.status != "disabled"
        for model in catalog.models(name)
    ]


async def handle(request: Request) -> Response:
    try:
        owner = await shared.authenticate(request.headers.get("authorization"))
    except tokens.InvalidTokenError:
        return unauthorized().response()
    return JSONResponse(await run_in_threadpool(listing, owner))


async def handle_one(request: Request) -> Response:
    """``GET /v1/models/{backend/model}``: one entry of the list, or 404 (``client.models.retrieve``)."""
    try:
        owner = await shared.authenticate(request.headers.get("authorization"))
    except tokens.InvalidTokenError:
        return unauthorized().response()
    model_id = request.path_params["model_id"]
    entries = await run_in_threadpool(_entries, owner)
    found = next((entry for entry in entries if entry["id"] == model_id), None)
    return JSONResponse(found) if found is not None else model_not_found(model_id).response()
