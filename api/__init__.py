"""Chatdeck's REST API, served by the app itself beside the UI (``st.App(routes=api.routes())``).

* ``api/chat.py``: ``POST /api/ai/huggingface/{model_publisher}/{model_name}/chat`` (seed 002);
* ``api/tokens.py``: the JWT bearer tokens users issue in Settings;
* ``api/openapi.py``: the OpenAPI description, served at ``GET /api/openapi.json``;
* ``api/health.py``: ``GET /api/health``, this replica's health with the database's.
"""

from __future__ import annotations

from starlette.routing import Route


def routes() -> list[Route]:
    from api import chat, health, openapi

    return [
        Route(chat.ROUTE, chat.handle, methods=["POST"]),
        Route("/api/openapi.json", openapi.handle, methods=["GET"]),
        Route(health.PATH, health.handle, methods=["GET"]),
    ]
