"""``GET /api/health``: 200 when the database answers, a quick 503 naming only the kind of failure when not."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette

import api
import application
from simulators.serve import serve
from tests.sim_fixtures import free_port


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """An HTTP client for the API's routes, served by uvicorn on loopback."""
    with serve(Starlette(routes=api.routes())) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield http
    application.reset()


def test_health_is_ok_with_the_replicas_name(client: httpx.Client, db_url: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATDECK_DATABASE_URL", db_url)
    monkeypatch.setenv("CHATDECK_REPLICA", "replica-7")
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "replica": "replica-7"}
    assert response.headers["cache-control"] == "no-store"
    assert client.head("/api/health").status_code == 200  # what some load balancers send


def test_health_names_the_host_when_no_replica_is_set(client: httpx.Client, sqlite_url: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATDECK_DATABASE_URL", sqlite_url)
    monkeypatch.delenv("CHATDECK_REPLICA", raising=False)
    assert client.get("/api/health").json()["replica"] == socket.gethostname()


def test_an_unreachable_database_is_503_without_its_url(client: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"postgresql://chatdeck:s3cret-pw@127.0.0.1:{free_port()}/teamdb"  # nothing listens there
    monkeypatch.setenv("CHATDECK_DATABASE_URL", url)
    monkeypatch.setenv("CHATDECK_REPLICA", "a")
    response = client.get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["replica"] == "a"
    assert body["database"].startswith("OperationalError")
    for secret in ("s3cret-pw", "chatdeck:", "teamdb", "127.0.0.1", "postgresql"):
        assert secret not in response.text


def test_a_database_that_never_answers_is_503_after_the_timeout(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as silent:  # accepts TCP connections (the kernel does) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setenv("CHATDECK_DATABASE_URL", f"postgresql://u@127.0.0.1:{silent.getsockname()[1]}/d")
        response = client.get("/api/health")
    assert response.status_code == 503
    assert response.json()["database"] == "no answer within 3 s"
