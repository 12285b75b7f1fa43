"""What the REST endpoint refuses of a request's body, over real HTTP against the app (``streamlit run``
in a subprocess): a body over the size limit is refused with 413 while it is being read (a chunked body
that never ends, a Content-Length larger than the limit with no body behind it), and text with NUL
characters is refused with 400 (PostgreSQL cannot store them).

The oversized requests go through a raw socket, so the test controls exactly what is sent: the body is
never finished, and the answer must come anyway.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from api import tokens
from api.chat import MAX_BODY
from simulators.openai_compat import SIM_TOKEN, OpenAICompatSimulator
from simulators.serve import serve
from storage import repository as repo
from storage.db import make_engine, session
from tests.browser_fixtures import AppServer, start_app, stop_app

SECRET = "rest-input-test-secret-0123456789"
CHAT = "/api/ai/huggingface/meta-llama/Llama-3.3-70B-Instruct/chat"
CHUNK = 64 * 1024
ANSWER_WAIT = 30.0  # seconds the socket waits for the answer (without the fix it never comes)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, str]]:
    mp = pytest.MonkeyPatch()
    mp.setenv("CHATDECK_SECRET_KEY", SECRET)
    tmp: Path = tmp_path_factory.mktemp("rest-input")
    sim = OpenAICompatSimulator()
    with serve(sim.app) as sim_url:
        server = start_app(tmp, {"CHATDECK_HF_URL": sim_url + "/v1", "HF_TOKEN": SIM_TOKEN,
                                 "CHATDECK_SECRET_KEY": SECRET})
        engine = make_engine(f"sqlite:///{tmp / 'app.db'}")
        with session(engine) as s:
            owner = repo.get_or_create_user(s, "writer").id
            token = tokens.issue(s, owner, name="test", lifetime=timedelta(days=1)).token
        try:
            yield server, token
        finally:
            stop_app(server)
            engine.dispose()
            mp.undo()


def _open(server: AppServer, token: str, length_header: str) -> socket.socket:
    """A connection with the request's head sent, and nothing of its body yet."""
    url = urlsplit(server.url)
    sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=ANSWER_WAIT)
    head = (f"POST {CHAT}?chat_id=big HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\n{length_header}\r\n\r\n")
    sock.sendall(head.encode())
    return sock


def _answer(sock: socket.socket) -> tuple[int, bytes]:
    """The answer's status code and body (the answer has a Content-Length: it is a JSON error)."""
    received = b""
    while b"\r\n\r\n" not in received:
        data = sock.recv(65536)
        if not data:
            break
        received += data
    head, _, body = received.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        data = sock.recv(65536)
        if not data:
            break
        body += data
    return int(head.split(b" ", 2)[1]), body


def test_a_chunked_body_that_never_ends_is_refused_once_it_passes_the_limit(app: tuple[AppServer, str]) -> None:
    server, token = app
    with _open(server, token, "Transfer-Encoding: chunked") as sock:
        piece = b"x" * CHUNK
        for _ in range(MAX_BODY // CHUNK + 1):  # one chunk past the limit, and never the closing chunk
            sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        status, body = _answer(sock)
    assert status == 413, body
    assert json.loads(body)["statusMessage"] == "Payload Too Large"


def test_a_content_length_over_the_limit_is_refused_before_any_body(app: tuple[AppServer, str]) -> None:
    server, token = app
    with _open(server, token, f"Content-Length: {100 * MAX_BODY}") as sock:  # no body is ever sent
        status, body = _answer(sock)
    assert status == 413, body


def test_a_body_within_the_limit_is_still_read_whole(app: tuple[AppServer, str]) -> None:
    server, token = app
    answer = httpx.post(server.url + CHAT, params={"chat_id": "fits"}, timeout=60,  # many chunks on the wire
                        headers={"Authorization": f"Bearer {token}"},
                        json={"messages": [{"role": "user", "content": "y" * 199_000}]})
    assert answer.status_code == 200, answer.text


def test_text_with_nul_characters_is_refused(app: tuple[AppServer, str]) -> None:
    server, token = app
    answer = httpx.post(server.url + CHAT, params={"chat_id": "nul"}, timeout=30,
                        headers={"Authorization": f"Bearer {token}"},
                        json={"messages": [{"role": "user", "content": "Hello\x00there"}]})
    assert answer.status_code == 400
    error = answer.json()["data"]["errors"][0]
    assert error["loc"] == ["body", "messages", 0, "content"] and "NUL" in error["msg"]
