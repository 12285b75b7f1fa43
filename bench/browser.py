"""(b) and (c): the real app in a real browser, against the simulator in this process.

``streamlit run streamlit_app.py`` runs as a child process pointed at an in-process
AllenAISimulator (so its recordings can be read here); Debian's chromium, driven by
Playwright, sends prompts. For each prompt, on one clock (wall time: ``time.time()`` here,
``Date.now()`` in the page):

* when Enter was pressed (a keydown listener in the page),
* when the simulator received the request and wrote its first body byte (recorded with
  ``time.monotonic()``, converted to wall time here),
* when the assistant message first holds text (a MutationObserver installed before sending),
* the websocket bytes the browser received from Enter until the reply and its caption are shown.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from simulators.allenai import AllenAISimulator
from simulators.common import RecordedRequest, split_even

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ASSISTANT = "[data-testid='stChatMessage']:has([data-testid='stChatMessageAvatarAssistant'])"
CONTENT = ASSISTANT + " [data-testid='stChatMessageContent']"

# Installed after the page is idle, before the prompt is sent; all times are Date.now() (wall, ms).
# "First text" is the answer's own first characters (``marker``), not a status line such as "Waiting…".
OBSERVE_JS = """([selector, marker]) => {
  const bench = window.__bench = {sent: null, first: null, firstText: null};
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && bench.sent === null) bench.sent = Date.now();
  }, true);
  const observer = new MutationObserver(() => {
    for (const el of document.querySelectorAll(selector)) {
      const text = el.textContent;
      if (text.includes(marker)) {
        bench.first = Date.now();
        bench.firstText = text.trim().slice(0, 60);
        observer.disconnect();
        return;
      }
    }
  });
  observer.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""

STATE_JS = """([selector]) => {
  const app = document.querySelector("[data-testid='stApp']");
  const messages = document.querySelectorAll(selector);
  const last = messages.length ? messages[messages.length - 1].textContent : "";
  return {
    idle: !!app && app.getAttribute("data-test-script-state") === "notRunning",
    caption: last.includes("first token"),
    live: !!document.querySelector("[class*='st-key-chatdeck-live-']"),
    bench: window.__bench,
  };
}"""


@dataclass
class Sample:
    """One prompt, from Enter to the finished reply. Times are wall-clock milliseconds."""

    answer_bytes: int
    ws_bytes: int
    ws_frames: int
    enter_ms: float
    request_ms: float  # the simulator received the request
    first_byte_ms: float  # the simulator wrote the first body line
    first_text_ms: float  # the simulator wrote the first answer text
    visible_ms: float  # the assistant message first held text in the page
    frame_ms: float  # the first websocket frame holding that text reached this process (via the browser)
    done_ms: float
    first_text_seen: str
    longest_pause_ms: float  # the longest gap between websocket frames once the answer was visible

    @property
    def ttft_after_first_byte(self) -> float:
        return self.visible_ms - self.first_byte_ms

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ttft_after_first_byte_ms"] = self.ttft_after_first_byte
        data["ws_ratio"] = self.ws_bytes / self.answer_bytes
        return data


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def streamlit_app(
    sim_url: str, database: Path, log_path: Path, extra_env: dict[str, str] | None = None,
    script: Path = ROOT / "streamlit_app.py",
) -> Iterator[str]:
    """``streamlit run streamlit_app.py`` on a free loopback port with its own SQLite file; yields its URL.

    ``extra_env`` points further backends at their simulators (the compare bench); ``script`` runs
    another app instead (bench/naive_app.py, the naive ``st.write_stream`` baseline).
    """
    port = free_port()
    env = {
        **os.environ,
        "CHATDECK_ALLENAI_URL": sim_url,
        "CHATDECK_DATABASE_URL": f"sqlite:///{database}",
        "PYTHONPATH": str(ROOT),  # a script outside the root (bench/naive_app.py) imports the app's packages
        **(extra_env or {}),
    }
    env.pop("CHATDECK_DEMO", None)
    command = [
        sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
        "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log_path)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).text == "ok":
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the app did not become healthy in {timeout:.0f} s:\n{log.read_text()}")


class BrowserBench:
    """One chromium page; each ``ask`` opens a new conversation, sends a prompt and measures the reply."""

    def __init__(self, page: Any, app_url: str, sim: AllenAISimulator) -> None:
        self.page, self.app_url, self.sim = page, app_url, sim
        self._counting = False
        self._bytes = self._frames = 0
        self._frame_times: list[float] = []
        self._marker = b""
        self._marker_frame_at = 0.0
        page.on("websocket", self._on_websocket)

    def _on_websocket(self, ws: Any) -> None:
        ws.on("framereceived", self._on_frame)

    def _on_frame(self, payload: bytes | str) -> None:
        if self._counting:
            data = payload.encode() if isinstance(payload, str) else payload
            self._bytes += len(data)
            self._frames += 1
            self._frame_times.append(time.time() * 1000)
            if not self._marker_frame_at and self._marker in data:
                self._marker_frame_at = self._frame_times[-1]

    def ask(self, prompt: str, answer: str, *, chunks: int, chunk_delay: float, timeout: float = 60) -> Sample:
        script = self.sim.script
        script.chunks = split_even(answer, chunks)
        script.chunk_delay = chunk_delay
        page = self.page
        page.goto(self.app_url)  # a new session and a new conversation
        for ready in ("data-test-connection-state='CONNECTED'", "data-test-script-state='notRunning'"):
            page.wait_for_selector(f"[data-testid='stApp'][{ready}]", state="attached", timeout=30_000)
        leading = re.match(r"\w*", script.chunks[0])  # \w* matches every string, perhaps empty
        marker = leading.group() if leading else ""  # the first chunk's leading word, shown as is
        if len(marker) < 3:
            raise ValueError(f"the answer must open with a plain word, not {script.chunks[0]!r}")
        page.evaluate(OBSERVE_JS, [CONTENT, marker])
        self._marker, self._marker_frame_at = marker.encode(), 0.0
        page.wait_for_timeout(300)  # let frames of the page load drain before counting
        before = len(self.sim.chat_requests())
        self._bytes = self._frames = 0
        self._frame_times = []
        self._counting = True
        box = page.get_by_test_id("stChatInputTextArea")
        box.fill(prompt)
        box.press("Enter")
        state = self._wait_done(before, timeout)
        page.wait_for_timeout(300)  # frames still in flight to this process
        self._counting = False
        record = self.sim.chat_requests()[before]
        bench = state["bench"]
        return Sample(
            answer_bytes=len(answer.encode()),
            ws_bytes=self._bytes,
            ws_frames=self._frames,
            enter_ms=bench["sent"],
            request_ms=_wall_ms(record.received_at),
            first_byte_ms=_wall_ms(_required(record, "first_byte_at")),
            first_text_ms=_wall_ms(_required(record, "first_text_at")),
            visible_ms=bench["first"],
            frame_ms=self._marker_frame_at,
            done_ms=time.time() * 1000,
            first_text_seen=bench["firstText"],
            longest_pause_ms=_longest_gap([t for t in self._frame_times if t >= bench["first"]]),
        )

    def _wait_done(self, before: int, timeout: float) -> dict[str, Any]:
        """Until the page shows text, its script run is over, the reply's caption is there and no live
        block is left (Chatdeck redraws the finished reply from storage in a rerun of its own).

        If the caption never comes (the app changed its wording), the end of the simulator's
        stream plus two idle seconds will do.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.page.wait_for_timeout(50)
            state: dict[str, Any] = self.page.evaluate(STATE_JS, [ASSISTANT])
            seen = state["bench"] is not None and state["bench"]["first"] is not None
            requests = self.sim.chat_requests()
            finished_at = requests[before].finished_at if len(requests) > before else None
            if not (seen and state["idle"] and finished_at is not None) or state["live"]:
                continue  # (Chatdeck: a live block still on screen, the rerun drawing it stored is yet to come)
            if state["caption"] or time.monotonic() - finished_at > 2:
                return state
        raise TimeoutError(f"the reply was not shown within {timeout:.0f} s")


def _longest_gap(times: list[float]) -> float:
    return max((later - earlier for earlier, later in itertools.pairwise(times)), default=0.0)


def _required(record: RecordedRequest, name: str) -> float:
    value = getattr(record, name)
    if value is None:
        raise RuntimeError(f"the simulator recorded no {name} (status {record.status})")
    return float(value)


def _wall_ms(monotonic: float) -> float:
    """A ``time.monotonic()`` reading of this process as wall-clock milliseconds."""
    return (monotonic + time.time() - time.monotonic()) * 1000


@contextmanager
def chromium_page() -> Iterator[Any]:
    with chromium_context() as context:
        yield context.new_page()


@contextmanager
def chromium_context() -> Iterator[Any]:
    """A browser context of Debian's chromium (each of its pages counts its own websocket frames)."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser.new_context(viewport={"width": 1280, "height": 900})
        finally:
            browser.close()
