"""Fixtures for tests that drive the real app in Debian's chromium with Playwright (a pytest plugin).

The browser is launched by its path (``shutil.which("chromium")``): Playwright's own browser
download is not available here. Without chromium these tests skip with the reason, except
where CHATDECK_REQUIRE_BROWSER=1 or CI=true: there they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.sim_fixtures import free_port

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def _required() -> bool:
    return os.environ.get("CHATDECK_REQUIRE_BROWSER") == "1" or os.environ.get("CI") == "true"


@pytest.fixture(scope="module")  # not session: Playwright's sync API holds an event loop while open
def browser() -> Iterator[object]:
    chromium = shutil.which("chromium")
    if chromium is None:
        if _required():
            pytest.fail("chromium is not installed, and browser tests are required here (apt-get install chromium)")
        pytest.skip("no chromium on this machine (apt-get install chromium); browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class AppServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def start_app(tmp: Path, env: dict[str, str], *, port: int | None = None, args: tuple[str, ...] = ()) -> AppServer:
    """Start ``streamlit run streamlit_app.py`` on ``port`` (default: a free loopback port), with extra
    Streamlit command-line ``args``; wait until healthy."""
    port = port or free_port()
    log = tmp / f"streamlit-{port}.log"
    full_env = {**os.environ, "CHATDECK_DATABASE_URL": f"sqlite:///{tmp / 'app.db'}", **env}
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own app, fixed arguments
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
             "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false", *args],
            cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).text == "ok":
                return AppServer(url, process, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the app did not become healthy:\n{log.read_text()}")


def stop_app(server: AppServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(15)
    except subprocess.TimeoutExpired:
        server.process.kill()


def wait_for_app(page: object) -> None:
    """Wait until the app has connected and its script run is over (Streamlit's own e2e markers)."""
    page.wait_for_selector("[data-testid='stAppViewContainer']", state="attached", timeout=30_000)  # type: ignore[attr-defined]
    page.wait_for_timeout(150)  # type: ignore[attr-defined]
    page.wait_for_selector(  # type: ignore[attr-defined]
        "[data-testid='stApp'][data-test-connection-state='CONNECTED']", state="attached", timeout=30_000
    )
    page.wait_for_selector(  # type: ignore[attr-defined]
        "[data-testid='stApp'][data-test-script-state='notRunning']", state="attached", timeout=60_000
    )


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh browser context and page per test (1280 x 900)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    yield context.new_page()
    context.close()


def send(page: object, text: str) -> None:
    """Type a message into the chat input and press Enter, as a person would: once the send button is
    enabled (Enter does nothing while an attached file is still uploading)."""
    box = page.get_by_test_id("stChatInputTextArea")  # type: ignore[attr-defined]
    box.fill(text)
    button = page.get_by_test_id("stChatInputSubmitButton")  # type: ignore[attr-defined]
    button.and_(page.locator(":enabled")).wait_for(timeout=15_000)  # type: ignore[attr-defined]
    box.press("Enter")


VIOLATIONS_JS = """document.addEventListener('securitypolicyviolation',
  e => window.chatdeckViolation(`Content Security Policy: ${e.violatedDirective} refused ${e.blockedURI}`));"""


def watched_page(context: object) -> tuple[object, list[str], list[str]]:
    """A new page of ``context``, every URL the context requests, and the page's console messages, with the
    Content-Security-Policy violations the page itself sees (Chromium's own lines for them are not console events)."""
    requests: list[str] = []
    console: list[str] = []
    context.on("request", lambda r: requests.append(r.url))  # type: ignore[attr-defined]
    context.expose_binding("chatdeckViolation",  # type: ignore[attr-defined]
                           lambda _source, text: console.append(f"csp: {text}"))
    context.add_init_script(VIOLATIONS_JS)  # type: ignore[attr-defined]
    page = context.new_page()  # type: ignore[attr-defined]
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    return page, requests, console

