"""In the browser: hostile content in every place Chatdeck draws outside text loads nothing from elsewhere.

A hostile OpenAI-compatible backend (simulators/hostile.py) answers with remote images and markdown
tricks (in the answer, streamed in small chunks, the reasoning, the error text and a model id), the
first prompt makes a hostile title, and a Chatdeck export and a ChatGPT export full of them are
imported (titles, model names, "answered by", sources with a URL breaking out of its link, an
attachment's name, reasoning status, an unknown backend's name). Every image points at an "attacker"
server on another loopback address (127.0.0.2). Throughout, the test records every request the
page makes and every console message, and at the end checks that:

* no request left for a host other than the app's, and the attacker server saw nothing;
* no element in the DOM refers to a remote resource (this does not rely on the CSP: it would catch an
  image the CSP merely blocked), and no CSP violation was reported (nothing even tried);
* every response carries the Content-Security-Policy and its companions (pages, static files, API).
"""

from __future__ import annotations

import base64
import io
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest
from PIL import Image
from playwright.sync_api import expect

from simulators.hostile import hostile_line, hostile_markdown, hostile_model_id, leak, script_hostile
from simulators.openai_compat import SIM_TOKEN, SimModel
from storage import chatgpt, transfer
from storage import repository as repo
from storage.db import make_engine, session
from tests.browser_fixtures import AppServer, send, start_app, stop_app, wait_for_app, watched_page
from tests.sim_fixtures import SimHandle

pytestmark = pytest.mark.browser

# Elements and attributes through which a page loads something by itself (links wait for a click).
LOADED_URLS_JS = """() => {
  const urls = [];
  for (const e of document.querySelectorAll('img,video,audio,source,iframe,embed,object,link,script,image,use,track')) {
    for (const name of ['src', 'srcset', 'href', 'xlink:href', 'data', 'poster']) {
      const value = e.getAttribute(name);
      if (value) urls.push(new URL(value.split(/\\s+/)[0], document.baseURI).href);
    }
  }
  for (const e of document.querySelectorAll('[style*="url("]')) urls.push(e.getAttribute('style'));
  return urls;
}"""



class _Recorder(BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def attacker() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on another loopback address that records every request it gets."""
    hits: list[str] = []
    handler = type("Recorder", (_Recorder,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.2", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.2:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


@pytest.fixture
def hostile(attacker: tuple[str, list[str]], allenai_sim: SimHandle, huggingface_sim: SimHandle) -> str:
    url = attacker[0]
    model = hostile_model_id(url)
    huggingface_sim.sim.models = {model: SimModel(model, reasoning=True), **huggingface_sim.sim.models}
    for handle in (allenai_sim, huggingface_sim):
        script_hostile(handle.sim.script, url)
        handle.sim.script.chunk_delay = 0.005
    return url


@pytest.fixture
def app_server(tmp_path: Path, hostile: str, allenai_sim: SimHandle, huggingface_sim: SimHandle) -> Iterator[AppServer]:
    server = start_app(tmp_path, {
        "CHATDECK_ALLENAI_URL": allenai_sim.url, "CHATDECK_HF_URL": huggingface_sim.url, "HF_TOKEN": SIM_TOKEN,
        "CHATDECK_SECRET_KEY": "browser-hostile",
    })
    yield server
    stop_app(server)


@pytest.fixture
def watched(browser: object, app_server: AppServer) -> Iterator[tuple[object, list[str], list[str]]]:
    """A page, every URL it requested, and its console messages."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    yield watched_page(context)
    context.close()


def _png() -> str:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def _chatdeck_export(url: str) -> tuple[str, bytes]:
    cid = uuid.uuid4().hex
    model = hostile_line(url, "imported-model")[:255]
    created = "2026-01-02T03:04:05+00:00"
    breakout = f"https://example.org/a) ![src]({leak(url, 'source-breakout')})"
    assistant = {
        "role": "assistant", "content": hostile_markdown(url, "imported-answer"), "created_at": created,
        "reasoning": hostile_markdown(url, "imported-reasoning"), "provider": hostile_line(url, "backend")[:100],
        "model": model, "status": "error", "error": hostile_line(url, "imported-error"),
        "extra": {"sources": [{"url": breakout, "title": hostile_line(url, "source-title")},
                              {"url": leak(url, "source-url"), "title": ""}],
                  "answered_by": {"model": hostile_line(url, "answered-by"), "route": None, "provider": None},
                  "reasoning_status": hostile_line(url, "reasoning-status")},
    }
    user = {"role": "user", "content": hostile_markdown(url, "imported-prompt"), "created_at": created,
            "attachments": [{"name": hostile_line(url, "attachment")[:255], "mime": "image/png",
                             "data_b64": _png()}]}
    document = {"format": transfer.FORMAT, "version": transfer.VERSION, "conversations": [{
        "id": cid, "title": hostile_line(url, "imported-title"), "provider": hostile_line(url, "backend")[:100],
        "model": model, "created_at": created, "updated_at": created, "messages": [user, assistant],
    }]}
    return cid, json.dumps(document).encode()


def _chatgpt_export(url: str) -> bytes:
    def node(node_id: str, parent: str | None, role: str, text: str) -> dict[str, object]:
        return {"id": node_id, "parent": parent, "message": {
            "author": {"role": role}, "create_time": 1_767_000_000,
            "metadata": {"model_slug": "gpt-![m](//127.0.0.2/m)"},
            "content": {"content_type": "text", "parts": [text]}}}

    mapping = {"n1": node("n1", None, "user", hostile_markdown(url, "chatgpt-prompt")),
               "n2": node("n2", "n1", "assistant", hostile_markdown(url, "chatgpt-answer"))}
    return json.dumps([{"id": "hostile-gpt", "title": hostile_line(url, "chatgpt-title"), "create_time": 1_767_000_000,
                        "update_time": 1_767_000_100, "mapping": mapping, "current_node": "n2"}]).encode()


def _import(page: object, app: AppServer, name: str, data: bytes) -> None:
    page.goto(app.url + "/settings")  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(  # type: ignore[attr-defined]
        files=[{"name": name, "mimeType": "application/json", "buffer": data}])
    expect(page.get_by_role("button", name=f"Remove {name}")).to_be_visible(timeout=15_000)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Import", exact=True).click()  # type: ignore[attr-defined]
    expect(page.get_by_text("1 conversation imported")).to_be_visible(timeout=20_000)  # type: ignore[attr-defined]


def _open(page: object, url: str) -> None:
    page.goto(url)  # type: ignore[attr-defined]
    wait_for_app(page)
    expect(page.get_by_test_id("stChatMessage").first).to_be_visible(timeout=20_000)  # type: ignore[attr-defined]


def _assert_nothing_remote(page: object, app: AppServer, requests: list[str], console: list[str],
                           hits: list[str]) -> None:
    own = urlsplit(app.url).netloc
    elsewhere = [u for u in requests if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).netloc != own]
    assert elsewhere == [], elsewhere
    loaded = page.evaluate(LOADED_URLS_JS)  # type: ignore[attr-defined]
    remote = [u for u in loaded if "127.0.0.2" in u or (u.startswith("http") and urlsplit(u).netloc != own)]
    assert remote == [], remote
    violations = [m for m in console if "Content Security Policy" in m or "Refused to" in m]
    assert violations == [], violations
    assert hits == []


def test_hostile_content_everywhere_loads_nothing_from_elsewhere(
    app_server: AppServer, watched: tuple[object, list[str], list[str]], attacker: tuple[str, list[str]],
    huggingface_sim: SimHandle, tmp_path: Path,
) -> None:
    page, requests, console = watched
    url, hits = attacker
    model = hostile_model_id(url)

    # Every response carries the policy: the page, Streamlit's static files, the REST API's health.
    response = page.goto(f"{app_server.url}/?provider=huggingface&model={quote(model, safe='')}")  # type: ignore[attr-defined]
    policy = response.headers["content-security-policy"]
    assert "img-src 'self' data: blob:" in policy and "connect-src 'self'" in policy
    assert "frame-ancestors 'self'" in policy and "default-src 'self'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    static = next(u for u in page.evaluate("() => [...document.scripts].map(s => s.src)") if u)  # type: ignore[attr-defined]
    for address in (static, app_server.url + "/_stcore/health", app_server.url + "/api/health"):
        headers = httpx.get(address).headers
        assert headers["content-security-policy"] == policy and headers["x-content-type-options"] == "nosniff"
    wait_for_app(page)

    # The sidebar's model picker lists the hostile model id; open its options once.
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").nth(1).click()  # type: ignore[attr-defined]
    page.keyboard.press("Escape")  # type: ignore[attr-defined]

    # A hostile first prompt becomes the title (sidebar and heading); the answer streams hostile markdown
    # in 7-character chunks, with hostile reasoning; the model id is in the caption under it.
    send(page, f"Secret ![t]({leak(url, 'title')})")
    reply = page.get_by_test_id("stChatMessage").nth(1)  # type: ignore[attr-defined]
    expect(reply.get_by_text("Autolink", exact=False).last).to_be_visible(timeout=30_000)
    expect(reply.get_by_text("first token", exact=False)).to_be_visible(timeout=30_000)
    wait_for_app(page)  # the finished reply is drawn again as stored: open the reasoning of that one
    page.get_by_text("Reasoning").first.click()  # type: ignore[attr-defined]  # open it: its markdown is drawn
    expect(page.get_by_text("reasoning: inline", exact=False)).to_be_visible()  # type: ignore[attr-defined]
    _assert_nothing_remote(page, app_server, requests, console, hits)  # a first check, with the answer on screen
    assert "image from 127.0.0.2" in page.get_by_role("main").inner_text()  # type: ignore[attr-defined]

    chat_url = page.url  # type: ignore[attr-defined]

    # Compare: two columns (Ai2 and the hostile Hugging Face model), both answering hostile markdown; a vote
    # reveals the names.
    page.goto(app_server.url + "/compare")  # type: ignore[attr-defined]
    wait_for_app(page)
    send(page, "Compare these")
    best = page.get_by_role("button", name="This one is best")  # type: ignore[attr-defined]
    expect(best.first).to_be_visible(timeout=60_000)
    best.first.click()
    expect(page.get_by_text("You voted", exact=False)).to_be_visible(timeout=20_000)  # type: ignore[attr-defined]
    assert "evil/" in page.get_by_role("main").inner_text()  # type: ignore[attr-defined]  # the model named

    # Back in the chat, the backend fails mid-answer with a hostile error text.
    huggingface_sim.sim.script.chunks, huggingface_sim.sim.script.error_after = ["partial ", "text "], 2
    page.goto(chat_url)  # type: ignore[attr-defined]
    wait_for_app(page)
    send(page, "Again")
    expect(page.get_by_test_id("stAlert").filter(has_text="error-text")).to_be_visible(timeout=30_000)  # type: ignore[attr-defined]

    # The title as a search result, with a snippet.
    wait_for_app(page)
    search = page.get_by_placeholder("Search conversations")  # type: ignore[attr-defined]
    search.fill("Secret")
    search.press("Enter")
    expect(page.get_by_text("best match", exact=False)).to_be_visible(timeout=15_000)  # type: ignore[attr-defined]

    # The Backends page, after that failure.
    page.goto(app_server.url + "/backends")  # type: ignore[attr-defined]
    wait_for_app(page)

    # A Chatdeck export and a ChatGPT export, imported in Settings, then opened.
    cid, chatdeck = _chatdeck_export(url)
    _import(page, app_server, "hostile.json", chatdeck)
    _import(page, app_server, "conversations.json", _chatgpt_export(url))
    _open(page, f"{app_server.url}/?c={cid}")
    main = page.get_by_role("main").inner_text()  # type: ignore[attr-defined]
    assert "imported-answer" in main and "source-title" in main and "answered-by" in main
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        with session(engine) as s:
            owner = repo.local_user(s).id
    finally:
        engine.dispose()
    _open(page, f"{app_server.url}/?c={chatgpt.conversation_id(owner, 'hostile-gpt')}")
    assert "chatgpt-answer" in page.get_by_role("main").inner_text()  # type: ignore[attr-defined]

    page.goto(app_server.url + "/leaderboard")  # type: ignore[attr-defined]
    wait_for_app(page)

    _assert_nothing_remote(page, app_server, requests, console, hits)
