"""Two replicas behind nginx (deploy/nginx.conf) on one PostgreSQL database: a conversation started through
one replica is listed, shown and continued through the other.

Two real app processes (``streamlit run``, CHATDECK_REPLICA a and b, the same secrets), nginx in the
foreground from the rendered template, the Ai2 simulator, chromium. nginx's access log records which
replica served each request, so the test can tell that each browser really stayed on its replica.
Without nginx this skips with the reason, except where CHATDECK_REQUIRE_BROWSER=1 or CI=true: there it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect
from websockets.sync.client import connect
from websockets.typing import Origin, Subprotocol

from storage import repository as repo
from storage.db import make_engine, session
from tests.browser_fixtures import AppServer, send, start_app, stop_app, wait_for_app
from tests.sim_fixtures import SimHandle, free_port, wait_for
from tests.team_fixtures import fresh_database

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx.conf"
COOKIE = "chatdeck_replica"
SECRETS = {"CHATDECK_SECRET_KEY": "replicas-test-secret-0123456789",
           "STREAMLIT_SERVER_COOKIE_SECRET": "replicas-test-cookie-secret-0123456789"}
FIRST = [f"alpha{i} " for i in range(12)]
SECOND = [f"beta{i} " for i in range(8)]

# The test's own main configuration around the template (Debian's /etc/nginx/nginx.conf in production):
# logs and temporary files in the test's directory, and a log line naming the replica that answered.
MAIN_CONF = """\
error_log {tmp}/error.log;
events {{ worker_connections 256; }}
http {{
    log_format replicas '$request_method $uri $status $upstream_addr';
    access_log {tmp}/access.log replicas;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/chatdeck.conf;
}}
"""


def _nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
    if found is None:
        if os.environ.get("CHATDECK_REQUIRE_BROWSER") == "1" or os.environ.get("CI") == "true":
            pytest.fail("nginx is not installed, and the replica test is required here (apt-get install nginx)")
        pytest.skip("no nginx on this machine (apt-get install nginx); the replica test is skipped")
    return found


def render(template: str, listen: str, upstreams: list[str]) -> str:
    """The template with its placeholders filled in, as ``envsubst`` would (deploy/README.md)."""
    values = {"CHATDECK_LISTEN": listen, "CHATDECK_SERVER_NAME": "localhost",
              "CHATDECK_UPSTREAM_SERVERS": " ".join(f"server {u};" for u in upstreams)}
    for name, value in values.items():
        template = template.replace("${" + name + "}", value)
    assert "${CHATDECK_" not in template
    return template


@dataclass
class Proxy:
    url: str
    access_log: Path
    process: subprocess.Popen[bytes]

    def upstreams(self, uri: str) -> list[str]:
        """The upstream address of every logged request for ``uri`` (in order)."""
        if not self.access_log.exists():
            return []
        return [fields[3] for fields in (line.split() for line in self.access_log.read_text().splitlines())
                if len(fields) >= 4 and fields[1] == uri]


@dataclass
class Deployment:
    proxy: Proxy
    replicas: dict[str, AppServer]  # name -> app process
    database: str


@pytest.fixture
def deployment(tmp_path: Path, allenai_sim: SimHandle) -> Iterator[Deployment]:
    nginx = _nginx_binary()
    with fresh_database("chatdeck_replicas") as database:
        replicas: dict[str, AppServer] = {}
        proxy_process: subprocess.Popen[bytes] | None = None
        try:
            for name in ("a", "b"):
                replicas[name] = start_app(tmp_path, {"CHATDECK_DATABASE_URL": database, "CHATDECK_REPLICA": name,
                                                      "CHATDECK_ALLENAI_URL": allenai_sim.url, **SECRETS})
            conf = tmp_path / "nginx"
            conf.mkdir()
            port = free_port()
            upstreams = [server.url.removeprefix("http://") for server in replicas.values()]
            (conf / "chatdeck.conf").write_text(render(TEMPLATE.read_text(), f"127.0.0.1:{port}", upstreams))
            (conf / "nginx.conf").write_text(MAIN_CONF.format(tmp=conf))
            proxy_process = subprocess.Popen(  # noqa: S603 - nginx with our configuration
                [nginx, "-p", str(conf), "-c", str(conf / "nginx.conf"), "-e", str(conf / "error.log"),
                 "-g", f"daemon off; pid {conf / 'nginx.pid'};"],
                stdout=subprocess.DEVNULL, stderr=(conf / "stderr.log").open("wb"))
            proxy = Proxy(f"http://127.0.0.1:{port}", conf / "access.log", proxy_process)

            def up() -> bool:
                if proxy_process.poll() is not None:
                    raise RuntimeError(f"nginx exited:\n{(conf / 'stderr.log').read_text()}")
                try:
                    return httpx.get(proxy.url + "/api/health", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            assert wait_for(up, 15), "nginx did not come up"
            yield Deployment(proxy, replicas, database)
        finally:
            if proxy_process is not None:
                proxy_process.send_signal(signal.SIGQUIT)  # graceful: finishes the log lines
                try:
                    proxy_process.wait(10)
                except subprocess.TimeoutExpired:
                    proxy_process.kill()
            for server in replicas.values():
                stop_app(server)


def pinning_cookies(proxy: Proxy) -> dict[str, str]:
    """A cookie value that nginx sends to each replica, found by asking /api/health (it names its replica)."""
    found: dict[str, str] = {}
    for i in range(200):
        value = f"probe-{i}"
        response = httpx.get(proxy.url + "/api/health", cookies={COOKIE: value}, timeout=10)
        assert response.status_code == 200 and "set-cookie" not in response.headers  # it had one already
        found.setdefault(response.json()["replica"], value)
        if len(found) == 2:
            return found
    raise AssertionError(f"nginx sent 200 different cookies to the same replica: {found}")


def test_sticky_cookie_health_and_metrics_through_nginx(deployment: Deployment) -> None:
    proxy = deployment.proxy
    # A first visit gets the cookie, and that cookie keeps it on the replica that answered.
    first = httpx.get(proxy.url + "/api/health", timeout=10)
    assert first.status_code == 200 and first.json()["database"] == "ok"
    assert first.headers["cache-control"] == "no-store"
    value = first.cookies[COOKIE]
    for _ in range(5):
        again = httpx.get(proxy.url + "/api/health", cookies={COOKIE: value}, timeout=10)
        assert again.json()["replica"] == first.json()["replica"]
        assert "set-cookie" not in again.headers
    assert set(pinning_cookies(proxy)) == {"a", "b"}

    # Streamlit's unauthenticated metrics exist on each replica, but no spelling of them gets through nginx.
    assert httpx.get(deployment.replicas["a"].url + "/_stcore/metrics", timeout=10).status_code == 200
    for path in ("/_stcore/metrics", "/_stcore//metrics", "/_stcore/%6Detrics", "/_stcore/metrics/x"):
        response = httpx.get(proxy.url + path, timeout=10)
        assert response.status_code == 404, path
        assert "active_sessions" not in response.text and "session_events" not in response.text
    assert httpx.get(proxy.url + "/_stcore/health", timeout=10).text == "ok"


def test_the_websocket_is_compressed_through_nginx_when_the_client_offers_it(deployment: Deployment) -> None:
    """permessage-deflate, as a browser offers it, is agreed with the replica through nginx (.streamlit/config.toml)."""
    url = deployment.proxy.url.replace("http://", "ws://") + "/_stcore/stream"
    for offer, agreed in (("deflate", True), (None, False)):
        with connect(url, subprotocols=[Subprotocol("streamlit")], origin=Origin(deployment.proxy.url),
                     compression=offer, proxy=None, open_timeout=10) as ws:
            assert ws.response is not None
            extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "")
            assert ("permessage-deflate" in extensions) is agreed, extensions


def test_security_headers_once_through_nginx(deployment: Deployment) -> None:
    """The app's CSP and companions pass through nginx exactly once, and nginx's own answers carry them too."""
    from api.security_headers import content_security_policy

    proxy = deployment.proxy
    for path, status in (("/", 200), ("/api/health", 200), ("/_stcore/health", 200), ("/_stcore/metrics", 404)):
        response = httpx.get(proxy.url + path, timeout=10)
        assert response.status_code == status, path
        [policy] = response.headers.get_list("content-security-policy")
        if status == 200:  # the app's own policy, passed on
            assert policy == content_security_policy(), path
        else:  # nginx's answer: the same policy without the hash of Streamlit's inline script
            assert "img-src 'self' data: blob:" in policy and "frame-ancestors 'self'" in policy
            assert "connect-src 'self'" in policy and "sha256" not in policy
        assert response.headers.get_list("x-content-type-options") == ["nosniff"], path
        assert response.headers.get_list("referrer-policy") == ["no-referrer"], path


def test_a_conversation_started_on_one_replica_continues_on_the_other(
    deployment: Deployment, allenai_sim: SimHandle, browser: object
) -> None:
    proxy, sim = deployment.proxy, allenai_sim.sim
    cookies = pinning_cookies(proxy)
    port = {name: server.url.rsplit(":", 1)[1] for name, server in deployment.replicas.items()}

    def pinned_page(name: str) -> tuple[object, object]:
        context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
        context.add_cookies([{"name": COOKIE, "value": cookies[name], "url": proxy.url}])
        return context, context.new_page()

    # Through replica a: a reply streams over the websocket nginx upgraded.
    sim.script.chunks, sim.script.chunk_delay = FIRST, 0.05
    context, page = pinned_page("a")
    try:
        page.goto(proxy.url)  # type: ignore[attr-defined]
        wait_for_app(page)
        send(page, "Started on replica a")
        expect(page.get_by_text("".join(FIRST).strip())).to_be_visible(timeout=20_000)  # type: ignore[attr-defined]
        wait_for_app(page)
        match = re.search(r"[?&]c=([0-9a-f]{32})", page.url)  # type: ignore[attr-defined]
        assert match, page.url  # type: ignore[attr-defined]
        conversation = match.group(1)
    finally:
        context.close()  # type: ignore[attr-defined]
    # nginx logs a websocket when it closes: this browser's went to a, and only to a.
    assert wait_for(lambda: len(proxy.upstreams("/_stcore/stream")) >= 1, 10)
    assert {u.rsplit(":", 1)[1] for u in proxy.upstreams("/_stcore/stream")} == {port["a"]}

    # Through replica b: the conversation is listed and shown from the database, and continues there.
    sim.script.chunks, sim.script.chunk_delay = SECOND, 0.05
    context, page = pinned_page("b")
    try:
        page.goto(f"{proxy.url}/?c={conversation}")  # type: ignore[attr-defined]
        wait_for_app(page)
        sidebar = page.get_by_test_id("stSidebar")  # type: ignore[attr-defined]
        expect(sidebar.get_by_role("button", name="Started on replica a")).to_be_visible(timeout=20_000)
        expect(page.get_by_text("".join(FIRST).strip())).to_be_visible()  # type: ignore[attr-defined]
        send(page, "Continued on replica b")
        expect(page.get_by_text("".join(SECOND).strip())).to_be_visible(timeout=20_000)  # type: ignore[attr-defined]
        wait_for_app(page)
        assert page.get_by_test_id("stException").count() == 0  # type: ignore[attr-defined]
    finally:
        context.close()  # type: ignore[attr-defined]
    assert wait_for(lambda: len(proxy.upstreams("/_stcore/stream")) >= 2, 10)
    assert [u.rsplit(":", 1)[1] for u in proxy.upstreams("/_stcore/stream")] == [port["a"], port["b"]]

    # b sent only the follow-up, with the parent id of a's answer: it continued a's conversation.
    first_request, second_request = sim.chat_requests()
    stored = {m.id: m for thread in sim.threads.values() for m in thread}  # the simulator's own store
    assert second_request.form["content"] == "Continued on replica b"
    parent = stored[second_request.form["parent"]]
    assert parent.role == "assistant" and parent.content.strip() == "".join(FIRST).strip()
    assert second_request.headers["x-anonymous-user-id"] == first_request.headers["x-anonymous-user-id"]

    engine = make_engine(deployment.database)
    try:
        with session(engine) as s:
            owner = repo.local_user(s).id
            rows = [(m.role, m.status) for m in repo.recent_messages(s, owner, conversation, limit=10)]
    finally:
        engine.dispose()
    assert rows == [("user", "complete"), ("assistant", "complete")] * 2
