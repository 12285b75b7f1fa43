"""deploy/nginx.conf removes a client's own identity headers (the address and the display name) before a
request reaches the app: nginx runs the rendered template in the foreground, its upstream a small echo
server on loopback that answers with the headers it received.

Without nginx this skips with the reason, except where CHATDECK_REQUIRE_BROWSER=1 or CI=true.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulators.serve import serve
from tests.sim_fixtures import free_port, wait_for
from tests.test_replicas import MAIN_CONF, TEMPLATE, _nginx_binary, render


async def _echo(request: Request) -> JSONResponse:
    return JSONResponse([[k, v] for k, v in request.headers.items()])


@pytest.fixture
def proxy_url(tmp_path: Path) -> Iterator[str]:
    nginx = _nginx_binary()
    echo = Starlette(routes=[Route("/{path:path}", _echo, methods=["GET", "POST"])])
    with serve(echo) as upstream:
        port = free_port()
        (tmp_path / "chatdeck.conf").write_text(
            render(TEMPLATE.read_text(), f"127.0.0.1:{port}", [upstream.removeprefix("http://")]))
        (tmp_path / "nginx.conf").write_text(MAIN_CONF.format(tmp=tmp_path))
        process = subprocess.Popen(  # noqa: S603 - nginx with our configuration
            [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "error.log"),
             "-g", f"daemon off; pid {tmp_path / 'nginx.pid'};"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited: {(tmp_path / 'error.log').read_text()}")
            try:
                return httpx.get(url + "/", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            assert wait_for(up, 15), f"nginx did not come up: {(tmp_path / 'error.log').read_text()}"
            yield url
        finally:
            process.send_signal(signal.SIGQUIT)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def test_a_clients_own_identity_headers_never_reach_the_app(proxy_url: str) -> None:
    forged = [("X-Forwarded-Email", "eve@evil.org"), ("X-Forwarded-User", "Admin"),
              ("x-forwarded-user", "Someone else"), ("X-Other", "kept")]
    received = httpx.get(proxy_url + "/api/anything", headers=forged, timeout=10).json()
    names = [name.lower() for name, _ in received]
    assert "x-forwarded-email" not in names and "x-forwarded-user" not in names, received
    assert ["x-other", "kept"] in received  # other headers pass
