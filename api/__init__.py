"""Chatdeck's REST API, served by the app itself beside the UI (``st.App(routes=api.routes())``).

* ``api/chat.py``: ``POST /api/ai/huggingface/{model_publisher}/{model_name}/chat`` (seed 002);
* ``api/tokens.py``: the bearer token of a request (the JWTs themselves, issued in Settings: access/api_tokens.py);
* ``api/openapi.py``: the OpenAPI description, served at ``GET /api/openapi.json``;
* ``api/health.py``: ``GET /api/health``, this replica's health with the database's;
* ``api/metrics.py``: ``GET /metrics``, Prometheus figures for admins or a metrics token;
* ``api/openai_v1.py``: ``POST /v1/chat/completions`` and (api/v1_models.py) ``GET /v1/models``, the
  OpenAI-compatible API for every backend.
"""

from __future__ import annotations

from starlette.routing import Route


def routes() -> list[Route]:
    from api import chat, health, metrics, openai_v1, openapi, v1_models

    return [
        Route(chat.ROUTE, chat.handle, methods=["POST"]),
        Route("/api/openapi.json", openapi.handle, methods=["GET"]),
        Route(health.PATH, health.handle, methods=["GET"]),
        Route(metrics.PATH, metrics.handle, methods=["GET"]),
        Route(openai_v1.PATH, openai_v1.handle, methods=["POST"]),
        Route(v1_models.PATH, v1_models.handle, methods=["GET"]),
        Route(v1_models.ONE_PATH, v1_models.handle_one, methods=["GET"]),
    ]
