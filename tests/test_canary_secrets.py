"""Canary credentials never appear where they must not: the server log (at debug level), any page's HTML, the
websocket frames the browser receives, any export, the database files in clear, or a backend they do not belong to.

The real app runs against the simulators of Hugging Face, HailuoAI, HuggingChat, the Ai2 Playground and a custom
OpenAI-compatible endpoint; each simulator accepts only the canary logins, so every successful reply proves the
canary was really used. The server has a HuggingChat login of its own in the environment (a canary too). The
browser pastes the logins in Settings, chats with every backend, compares them, makes them fail (HTTP 401 and
answers in an unknown format, from servers that echo the credential they were sent: that is how a secret rides
into an error message, a snippet or a log line), checks connections, issues a REST token and uses it, downloads
every export and opens every page. Then everything collected is searched for each canary in plain text,
URL-encoded, hex and base64 (at every alignment). Controls prove the search looks in the right places: the
canaries are found in the environment handed to the app, in the frames the browser sent, in the requests each
simulator received, in the decrypted database, and the REST token in the one page that shows it once.
"""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
from playwright.sync_api import expect

from simulators.allenai import AllenAISimulator
from simulators.common import ForcedError, RecordingSimulator
from simulators.hailuo import HailuoSimulator
from simulators.huggingchat import HuggingChatSimulator
from simulators.openai_compat import OpenAICompatSimulator
from simulators.serve import serve
from storage.secrets import unseal
from tests.browser_fixtures import AppServer, send, start_app, stop_app, wait_for_app
from tests.sim_fixtures import SimHandle

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

SECRET_KEY = "canary-secret-key-2b7e5c91d4a6f038"
HF = "canary-hf-7f3a9c1d5e8b2a64"
HAILUO = "canary-hailuo-token-4b9e2f7a1c3d8e65"
HC_SESSION = "canary-hc-session-8d2f6a0b5c7e1943"
HC_TOKEN = "canary-hc-token-3e7c9b51a2d4f860"
ENDPOINT_KEY = "canary-endpoint-key-5a1f0e6b9d3c7248"
HC_COOKIES = f"hf-chat={HC_SESSION}; token={HC_TOKEN}; _ga=GA1.1.123"
SERVER_SESSION = "canary-server-session-6f1d8a3c0b9e2475"  # the server-wide HuggingChat login, from the environment
SERVER_TOKEN = "canary-server-token-0d4b7e2a9c6f1385"
HAILUO_DEVICE, HAILUO_USER = "398765432109876543", "5e0c2a7b-1f4d-4c3e-8a9b-6d2e1f0c3b7a"
CANARIES = {"HF token": HF, "HailuoAI token": HAILUO, "HuggingChat session": HC_SESSION,
            "HuggingChat token": HC_TOKEN, "endpoint API key": ENDPOINT_KEY, "CHATDECK_SECRET_KEY": SECRET_KEY,
            "server's HuggingChat session": SERVER_SESSION, "server's HuggingChat token": SERVER_TOKEN}
HF_MODEL = "meta-llama/Llama-3.3-70B-Instruct"
HC_MODEL = "Qwen/Qwen2.5-72B-Instruct"
ENDPOINT = "custom-canary-vllm"
# Every logger of the app process at DEBUG, ours included (they have no handler of their own), into the log.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
SITECUSTOMIZE = f"import logging\nlogging.basicConfig(level=logging.DEBUG, format={LOG_FORMAT!r})\n"


# --- the search --------------------------------------------------------------------------------------


def encodings(value: str) -> dict[str, bytes]:
    """The forms a secret could take on its way out: plain, URL-encoded, hex, base64 at each alignment."""
    raw = value.encode()
    forms = {"plain": raw, "URL-encoded": quote(value, safe="").encode(), "form-encoded": quote_plus(value).encode(),
             "hex": raw.hex().encode(), "spaced hex": " ".join(f"{b:02x}" for b in raw).encode()}
    for shift in range(3):  # the canary may start at any byte of a base64 group: keep the characters it alone fixes
        start, stop = -(-shift * 8 // 6), (shift + len(raw)) * 8 // 6
        encoded = base64.b64encode(b"\0" * shift + raw)[start:stop]
        forms[f"base64 (+{shift})"] = encoded
        forms[f"urlsafe base64 (+{shift})"] = encoded.replace(b"+", b"-").replace(b"/", b"_")
    unique: dict[bytes, str] = {}
    for form, needle in forms.items():  # a form identical to an earlier one is the same finding
        unique.setdefault(needle, form)
    return {form: needle for needle, form in unique.items()}


def find(secret: str, blob: bytes) -> list[str]:
    """Where ``secret`` occurs in ``blob``, in any of its forms, with a little context."""
    found = []
    for form, needle in encodings(secret).items():
        for match in re.finditer(re.escape(needle), blob, flags=re.IGNORECASE if "hex" in form else 0):
            context = blob[max(0, match.start() - 60):match.end() + 60]
            found.append(f"{form} at byte {match.start()}: …{context!r}…")
    return found


@dataclass
class Evidence:
    """Everything collected from the run: place -> bytes, and which secrets each place may hold."""

    places: dict[str, bytes] = field(default_factory=dict)
    allowed: dict[str, set[str]] = field(default_factory=dict)

    def add(self, place: str, blob: bytes | str, allowed: set[str] | frozenset[str] = frozenset()) -> None:
        data = blob.encode() if isinstance(blob, str) else blob
        self.places[place] = self.places.get(place, b"") + data + b"\n"
        self.allowed.setdefault(place, set()).update(allowed)

    def leaks(self, secrets: dict[str, str]) -> list[str]:
        """One line per secret and place it must not be in: how often, and the first occurrence in context."""
        found = []
        for place, blob in self.places.items():
            for name, secret in secrets.items():
                hits = [] if name in self.allowed[place] else find(secret, blob)
                if hits:
                    found.append(f"{name} in {place} ({len(hits)}x), first {hits[0]}")
        return found


def requests_of(sim: RecordingSimulator) -> bytes:
    """A simulator's request log (headers, query, form, JSON body, uploaded files) as bytes."""
    out = []
    for r in sim.requests:
        fields = {"method": r.method, "path": r.path, "headers": r.headers, "query": r.query, "form": r.form_items,
                  "json": r.json_body}
        out.append(json.dumps(fields, default=str).encode())
        out += [part.data for part in r.files]
    return b"\n".join(out)


def test_the_search_finds_every_form() -> None:
    blob = b"x" + base64.b64encode(b"ab" + HF.encode()) + b" " + quote_plus(f"a b{HAILUO}").encode()
    assert find(HF, blob) and find(HAILUO, blob) and not find(HC_TOKEN, blob)
    assert find(ENDPOINT_KEY, " ".join(f"{b:02X}" for b in ENDPOINT_KEY.encode()).encode())


# --- the app and the browser --------------------------------------------------------------------------


@dataclass
class Stage:
    """The app and the simulators it talks to."""

    server: AppServer
    tmp: Path
    hf: OpenAICompatSimulator
    hailuo: HailuoSimulator
    hc: HuggingChatSimulator
    allenai: AllenAISimulator
    endpoint: OpenAICompatSimulator
    endpoint_url: str


@pytest.fixture
def stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, huggingface_sim: SimHandle, hailuo_sim: SimHandle,
        huggingchat_sim: SimHandle, allenai_sim: SimHandle) -> Iterator[Stage]:
    for name in ("HF_TOKEN", "CHATDECK_HAILUO_TOKEN", "CHATDECK_HAILUO_DEVICE_ID", "CHATDECK_HAILUO_USER_ID",
                 "CHATDECK_HUGGINGCHAT_COOKIES"):  # one server-wide login (HuggingChat's, below), set here
        monkeypatch.delenv(name, raising=False)
    huggingface_sim.sim.tokens = {HF}
    hailuo_sim.sim.accounts.clear()
    hailuo_sim.sim.add_account(HAILUO, HAILUO_DEVICE, HAILUO_USER)
    huggingchat_sim.sim.logins = {HC_SESSION: (HC_TOKEN, "canary-user"), SERVER_SESSION: (SERVER_TOKEN, "server")}
    endpoint = OpenAICompatSimulator(tokens={ENDPOINT_KEY})
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (tmp_path / "downloads").mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {
        "CHATDECK_HF_URL": huggingface_sim.url, "CHATDECK_HAILUO_URL": hailuo_sim.url,
        "CHATDECK_HUGGINGCHAT_URL": huggingchat_sim.url + "/chat", "CHATDECK_ALLENAI_URL": allenai_sim.url,
        "CHATDECK_SECRET_KEY": SECRET_KEY, "PYTHONPATH": str(hooks),
        "CHATDECK_HUGGINGCHAT_COOKIES": f"hf-chat={SERVER_SESSION}; token={SERVER_TOKEN}",
        "STREAMLIT_LOGGER_LEVEL": "debug", "STREAMLIT_LOGGER_MESSAGE_FORMAT": LOG_FORMAT,
    }
    (tmp_path / "environment-given-to-the-app.json").write_text(json.dumps({**env, "pasted": CANARIES}))
    with serve(endpoint.app) as endpoint_url:
        server = start_app(tmp_path, env)
        try:
            yield Stage(server, tmp_path, huggingface_sim.sim, hailuo_sim.sim, huggingchat_sim.sim, allenai_sim.sim,
                      endpoint, endpoint_url)
        finally:
            stop_app(server)


class Browser:
    """One page, its received and sent websocket frames by phase, and the HTML of every page seen."""

    def __init__(self, page: Any, stage: Stage, evidence: Evidence) -> None:
        self.page, self.stage, self.evidence = page, stage, evidence
        self.phase = "start"
        self.received: list[tuple[str, bytes]] = []
        self.sent: list[bytes] = []
        page.on("websocket", self._watch)

    def _watch(self, ws: Any) -> None:
        ws.on("framereceived", lambda p: self.received.append((self.phase, p if isinstance(p, bytes) else p.encode())))
        ws.on("framesent", lambda p: self.sent.append(p if isinstance(p, bytes) else p.encode()))

    def open(self, path: str) -> None:
        self.page.goto(self.stage.server.url + path)
        wait_for_app(self.page)
        self.snapshot(f"page {path}")

    def snapshot(self, label: str) -> None:
        wait_for_app(self.page)
        self.evidence.add(f"HTML of {label}", self.page.content())

    def wait_text(self, text: str, timeout: float = 30_000) -> None:
        self.page.wait_for_function("t => document.body.innerText.includes(t)", arg=text, timeout=timeout)
        wait_for_app(self.page)

    def chat(self, provider: str, model: str, prompt: str, expected: str) -> str:
        """A new conversation with ``provider``; waits for ``expected`` on the page; returns its id."""
        self.page.goto(f"{self.stage.server.url}/?provider={provider}&model={quote(model, safe='')}")
        wait_for_app(self.page)
        send(self.page, prompt)
        self.wait_text(expected)
        self.page.wait_for_url(re.compile(r"[?&]c="), timeout=20_000)
        conversation = re.search(r"[?&]c=([^&]+)", self.page.url).group(1)  # type: ignore[union-attr]
        self.snapshot(f"the {provider} chat after {prompt!r}")
        return conversation

    def download(self, label: str) -> bytes:
        with self.page.expect_download(timeout=30_000) as info:
            self.page.get_by_test_id("stDownloadButton").filter(has_text=label).locator("button").click()
        target = self.stage.tmp / "downloads" / f"{len(self.evidence.places)}-{info.value.suggested_filename}"
        info.value.save_as(target)
        return target.read_bytes()


def save_login(b: Browser, marker: str, values: dict[str, str], saved: int) -> None:
    form = b.page.get_by_test_id("stForm").filter(has=b.page.get_by_label(marker, exact=True))
    for label, value in values.items():
        form.get_by_label(label, exact=True).fill(value)
    form.get_by_role("button", name="Save").click()
    expect(b.page.get_by_text("Your login is saved")).to_have_count(saved, timeout=20_000)
    b.snapshot(f"Settings after saving the {marker} login")


def check_connection(b: Browser, index: int, outcome: str, label: str) -> None:
    b.page.get_by_role("button", name="Check connection").nth(index).click()
    b.wait_text(outcome)
    b.snapshot(f"Settings after Check connection ({label})")


# --- the walk -------------------------------------------------------------------------------------------


def test_canaries_never_leak(stage: Stage, browser: Any) -> None:
    evidence = Evidence()
    context = browser.new_context(viewport={"width": 1500, "height": 1000}, accept_downloads=True)
    b = Browser(context.new_page(), stage, evidence)
    try:
        token = walk(b, stage, evidence)
        collect_while_running(b, stage, evidence)
    finally:
        context.close()
    stop_app(stage.server)
    collect_after_stop(stage, evidence)
    leaks = evidence.leaks({**CANARIES, "REST token": token})
    assert not leaks, "secrets found where they must not be:\n" + "\n".join(leaks)
    controls(b, stage, evidence, token)


def walk(b: Browser, stage: Stage, evidence: Evidence) -> str:
    """Everything a person does; returns the REST token issued on the way."""
    # Settings: every login pasted, and the custom endpoint with its key.
    b.open("/settings")
    save_login(b, "Hugging Face token", {"Hugging Face token": HF}, 1)
    save_login(b, "Device id", {"Token": f'"{HAILUO}"', "Device id": HAILUO_DEVICE, "User id": HAILUO_USER}, 2)
    save_login(b, "huggingface.co cookies", {"huggingface.co cookies": HC_COOKIES}, 3)
    endpoint_form = b.page.get_by_test_id("stForm").filter(has=b.page.get_by_label("Base URL", exact=True))
    endpoint_form.get_by_label("Name", exact=True).fill("Canary vLLM")
    endpoint_form.get_by_label("Base URL", exact=True).fill(stage.endpoint_url + "/v1")
    endpoint_form.get_by_label("API key (optional)", exact=True).fill(ENDPOINT_KEY)
    endpoint_form.get_by_label("Models (optional, comma-separated; else the server's /models list)").fill(HF_MODEL)
    endpoint_form.get_by_role("button", name="Add endpoint").click()
    b.wait_text("key saved")
    b.snapshot("Settings after adding the endpoint")
    check_connection(b, 0, "connected (", "Hugging Face")
    check_connection(b, 1, "accepted the login", "HailuoAI")
    check_connection(b, 2, "logged in as canary-user", "HuggingChat")

    # A successful chat with every backend, each with the canary login.
    conversations = {
        "huggingface": b.chat("huggingface", HF_MODEL, "Hello Hugging Face", "simulator of Hugging Face Inference"),
        "hailuo": b.chat("hailuo", "minimax", "Hello HailuoAI", "simulator of HailuoAI"),
        "huggingchat": b.chat("huggingchat", HC_MODEL, "Hello HuggingChat", "simulator of HuggingChat"),
        ENDPOINT: b.chat(ENDPOINT, HF_MODEL, "Hello endpoint", "simulator of Hugging Face Inference"),
    }
    assert {r.headers.get("authorization") for r in stage.hf.chat_requests()} == {f"Bearer {HF}"}
    assert {r.headers.get("token") for r in stage.hailuo.chat_requests()} == {HAILUO}
    assert all(HC_SESSION in r.headers["cookie"] and HC_TOKEN in r.headers["cookie"] for r in stage.hc.requests
               if r.path not in ("/chat/api/v2/models", "/chat/api/mcp/servers"))  # the catalog's lists
    assert {r.headers.get("authorization") for r in stage.endpoint.chat_requests()} == {f"Bearer {ENDPOINT_KEY}"}

    # Compare every backend at once, vote, and the leaderboard has something to export.
    b.open("/compare")
    send(b.page, "Compare this")
    expect(b.page.get_by_role("button", name="This one is best")).to_have_count(4, timeout=60_000)
    b.page.get_by_role("button", name="This one is best").first.click()
    b.wait_text("You voted best")
    b.snapshot("compare after the vote")

    # Failures from servers that echo the credential they were sent.
    stage.hf.script.http_error = ForcedError(401, f"Invalid credentials: the token {HF} is not valid")
    conversations["hf 401"] = b.chat("huggingface", HF_MODEL, "Fail with 401", "rejected the token")
    stage.hf.script.http_error = ForcedError(200, body=f"<html><body><p>Signed in as {HF}</p></body></html>",
                                           content_type="text/html")
    conversations["hf drift"] = b.chat("huggingface", HF_MODEL, "Fail with drift", "instead of an event stream")
    b.open("/backends")
    stage.hailuo.script.http_error = ForcedError(401, f"token {HAILUO} is invalid")
    conversations["hailuo 401"] = b.chat("hailuo", "minimax", "Fail with 401", "is invalid")
    stage.hc.script.http_error = ForcedError(401, f"Invalid session {HC_SESSION} for {HC_TOKEN}")
    conversations["hc 401"] = b.chat("huggingchat", HC_MODEL, "Fail with 401", "login expired")
    stage.hc.script.http_error = None
    stage.hc.script.rename = ("stream", "token", "text")
    conversations["hc drift"] = b.chat("huggingchat", HC_MODEL, "Fail with drift", "HuggingChat protocol changed")
    b.open("/backends")
    stage.endpoint.script.http_error = ForcedError(200, body=f"<html>key {ENDPOINT_KEY} accepted</html>",
                                                 content_type="text/html")
    conversations["endpoint drift"] = b.chat(ENDPOINT, HF_MODEL, "Fail with drift", "instead of an event stream")
    b.open("/backends")
    stage.hf.script.models_error = ForcedError(401, f"Invalid credentials: the token {HF} is not valid")
    b.open("/settings")
    check_connection(b, 0, "rejected the token", "Hugging Face, 401")
    check_connection(b, 1, "is invalid", "HailuoAI, 401")
    b.open("/backends")
    for sim in (stage.hf, stage.hailuo, stage.hc, stage.endpoint):
        sim.script.http_error, sim.script.models_error, sim.script.rename = None, None, None

    # A REST token: shown once (that page and its frames may hold it), then used once.
    b.open("/settings")
    b.phase = "REST token shown"
    b.page.get_by_role("button", name="Create token").click()
    b.wait_text("Copy it now")
    token = b.page.get_by_test_id("stCode").filter(has_text="eyJ").inner_text().strip()
    evidence.add("HTML of Settings showing the new REST token", b.page.content(), allowed={"REST token"})
    b.phase = "after"

    def rest(prompt: str) -> httpx.Response:
        response = httpx.post(
            f"{stage.server.url}/api/ai/huggingface/{HF_MODEL}/chat", params={"chat_id": "canary-rest"}, timeout=60,
            headers={"Authorization": f"Bearer {token}"}, json={"messages": [{"role": "user", "content": prompt}]},
        )
        evidence.add(f"the REST answer to {prompt!r}", response.text + json.dumps(dict(response.headers)))
        return response

    assert rest("From REST").status_code == 200
    assert stage.hf.chat_requests()[-1].headers["authorization"] == f"Bearer {HF}"
    stage.hf.script.http_error = ForcedError(401, f"Invalid credentials: the token {HF} is not valid")
    refused = rest("From REST, refused")
    assert refused.status_code == 502 and "[redacted]" in refused.text, refused.text
    stage.hf.script.http_error = None

    # Every export.
    b.open("/settings")
    evidence.add("export: all conversations", b.download("Export all conversations"))
    for name in ("hf 401", "hailuo 401", "hc 401", "hc drift", "endpoint drift", "huggingface"):
        b.open(f"/?c={conversations[name]}")
        b.page.get_by_test_id("stSidebar").get_by_test_id("stPopover").locator("button").first.click()
        evidence.add(f"export: {name} as Markdown", b.download("Export as Markdown"))
        evidence.add(f"export: {name} as JSON", b.download("Export as JSON"))
    b.open("/leaderboard")
    evidence.add("export: leaderboard CSV", b.download("Runs and votes (CSV)"))
    evidence.add("export: leaderboard JSON", b.download("Runs and votes (JSON)"))

    # Every page once more, every conversation, and each section of the Admin page (the local user is the admin).
    for path in ("/", "/chat", "/compare", "/leaderboard", "/backends", "/settings",
                 *(f"/?c={c}" for c in conversations.values()), "/admin"):
        b.open(path)
    for section in ("Backends", "Rate limit", "Usage"):  # the first, Users, is open already
        b.page.get_by_role("radio", name=section, exact=True).click()
        expect(b.page.get_by_role("radio", name=section, exact=True)).to_be_checked()
        b.snapshot(f"Admin, section {section}")
    return token


def collect_while_running(b: Browser, stage: Stage, evidence: Evidence) -> None:
    for phase in {p for p, _ in b.received}:
        frames = b"\n".join(f for p, f in b.received if p == phase)
        evidence.add(f"websocket frames received ({phase})", frames,
                     allowed={"REST token"} if phase == "REST token shown" else set())
    for path in sorted(stage.tmp.glob("app.db*")):
        evidence.add(f"database file {path.name} (app running)", path.read_bytes())
    own = {"Hugging Face": (stage.hf, {"HF token"}), "HailuoAI": (stage.hailuo, {"HailuoAI token"}),
           "HuggingChat": (stage.hc, {"HuggingChat session", "HuggingChat token", "server's HuggingChat session",
                                      "server's HuggingChat token"}),
           "Ai2": (stage.allenai, set()),
           "custom endpoint": (stage.endpoint, {"endpoint API key"})}
    for name, (sim, allowed) in own.items():
        evidence.add(f"requests received by the {name} simulator", requests_of(sim), allowed=allowed)


def collect_after_stop(stage: Stage, evidence: Evidence) -> None:
    evidence.add("server log", stage.server.log.read_bytes())
    for path in sorted(stage.tmp.glob("app.db*")):
        evidence.add(f"database file {path.name} (app stopped)", path.read_bytes())


def controls(b: Browser, stage: Stage, evidence: Evidence, token: str) -> None:
    """The search looks in the right places: where a canary must be, it is found."""
    given = (stage.tmp / "environment-given-to-the-app.json").read_bytes()
    assert all(find(secret, given) for secret in CANARIES.values())
    sent = b"\n".join(b.sent)
    assert all(find(secret, sent) for secret in (HF, HAILUO, HC_SESSION, HC_TOKEN, ENDPOINT_KEY))
    assert find(token, evidence.places["HTML of Settings showing the new REST token"])
    for secret, sim in ((HF, stage.hf), (HAILUO, stage.hailuo), (HC_TOKEN, stage.hc), (ENDPOINT_KEY, stage.endpoint),
                        (SERVER_TOKEN, stage.hc)):
        assert find(secret, requests_of(sim)), f"{secret} never reached its simulator"
    with sqlite3.connect(stage.tmp / "app.db") as db:
        opened = [unseal(secret, SECRET_KEY.encode()) for (secret,) in db.execute("SELECT secret FROM credentials")]
        keys = [unseal(secret, SECRET_KEY.encode()) for (secret,) in db.execute(
            "SELECT secret FROM custom_endpoints WHERE secret IS NOT NULL")]
    assert {HF, HAILUO.join('""'), HC_COOKIES} <= {v for values in opened for v in values.values()}
    assert keys == [{"api_key": ENDPOINT_KEY}]
    # The echoes reached the app, and were taken out of what it shows.
    for backend in ("huggingface", "hailuo", "huggingchat"):
        assert b"[redacted]" in evidence.places[f"HTML of the {backend} chat after 'Fail with 401'"], backend
    backends_page = evidence.places["HTML of page /backends"]
    assert b"Signed in as [redacted]" in backends_page and b"key [redacted] accepted" in backends_page
    log = stage.server.log.read_text(errors="replace")
    assert re.search(r" DEBUG streamlit\.[\w.]+: ", log), "Streamlit's debug lines are not in the log"
    assert re.search(r" (DEBUG|INFO) (runner|providers|storage|api|views|access)\.[\w.]+: ", log), \
        "Chatdeck's own log lines are not in the log"
