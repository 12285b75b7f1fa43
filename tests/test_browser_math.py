r"""In chromium: math renders live and stored, and the chat can be driven from the keyboard.

The Ai2 Playground simulator answers with every math notation, prices, code and KaTeX commands that
would load a URL if KaTeX trusted its input; the answer is held mid-formula (``\(y`` sent, its ``\)``
not yet) so the live rendering is checked at a known point, with no timing window. Throughout, every
request and console message is recorded: nothing may leave for another host and nothing may violate
the Content-Security-Policy (the keyboard script is loaded from the app's own origin).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser_fixtures import AppServer, send, start_app, stop_app, wait_for_app, watched_page
from tests.sim_fixtures import SimHandle

pytestmark = pytest.mark.browser

ELSEWHERE = "http://127.0.0.2:9"  # KaTeX would fetch these only if it trusted the answer
MATH_CHUNKS = [
    "Euler: \\(e^{i\\pi} + 1 = 0\\) and $x^2$.\n\n",
    "\\[\na^2 + b^2 = c^2\n\\]\n\n",
    "It costs $5 and $10, not `\\(code\\)`. ",
    f"\\(\\href{{{ELSEWHERE}/h}}{{h}}\\) \\(\\includegraphics{{{ELSEWHERE}/i.png}}\\) \\(\\url{{{ELSEWHERE}/u}}\\)\n\n",
    "More: \\(y",  # the answer is held after this chunk: an unterminated formula while streaming
    "^2\\) done.",
]
LIVE_FORMULAS = 6  # e^{iπ}, x², the display formula, \href, \includegraphics, \url
COUNT_JS = """() => {
  const messages = document.querySelectorAll('[data-testid="stChatMessage"]');
  const last = messages[messages.length - 1];
  if (!last) return [0, 0, ''];
  return [last.querySelectorAll('.katex').length, last.querySelectorAll('.katex-display').length,
          last.innerText];
}"""


@pytest.fixture
def app_server(tmp_path: Path, allenai_sim: SimHandle) -> Iterator[AppServer]:
    server = start_app(tmp_path, {"CHATDECK_ALLENAI_URL": allenai_sim.url})
    yield server
    allenai_sim.sim.script.release.set()
    stop_app(server)


@pytest.fixture
def watched(browser: object, app_server: AppServer) -> Iterator[tuple[object, list[str], list[str]]]:
    """A page allowed to use the clipboard, every URL it requested, and its console messages."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_server.url)
    yield watched_page(context)
    context.close()


def _assert_clean(app: AppServer, requests: list[str], console: list[str]) -> None:
    own = urlsplit(app.url).netloc
    elsewhere = [u for u in requests if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).netloc != own]
    assert elsewhere == [], elsewhere
    problems = [m for m in console if m.startswith("csp:") or "Content Security Policy" in m or "Refused" in m]
    assert problems == [], problems


def _counts(page: object) -> tuple[int, int, str]:
    katex, display, text = page.evaluate(COUNT_JS)  # type: ignore[attr-defined]
    return katex, display, text


def test_math_renders_in_the_live_and_the_stored_answer(
    app_server: AppServer, allenai_sim: SimHandle, watched: tuple[object, list[str], list[str]]
) -> None:
    page, requests, console = watched
    script = allenai_sim.sim.script
    script.chunks = MATH_CHUNKS
    script.hold_at = len(MATH_CHUNKS) - 1
    page.goto(app_server.url)  # type: ignore[attr-defined]
    wait_for_app(page)
    send(page, "Show me some math")

    # Live, held after "More: \(y": every finished formula is math; the open one is not drawn at all.
    page.wait_for_function(  # type: ignore[attr-defined]
        f"() => ({COUNT_JS})()[0] >= {LIVE_FORMULAS} && ({COUNT_JS})()[2].includes('More:')", timeout=30_000)
    katex, display, text = _counts(page)
    assert (katex, display) == (LIVE_FORMULAS, 1), text
    assert "It costs $5 and $10" in text and "\\(code\\)" in text
    assert "(y" not in text and "\\(" not in text.replace("\\(code\\)", "")
    expect(page.get_by_role("button", name="Stop")).to_be_visible()  # type: ignore[attr-defined]

    script.release.set()  # the formula closes, the reply ends and is drawn again from storage
    expect(page.get_by_role("button", name="Stop")).to_have_count(0, timeout=30_000)  # type: ignore[attr-defined]
    page.wait_for_function(f"() => ({COUNT_JS})()[2].includes('done.')", timeout=30_000)  # type: ignore[attr-defined]
    assert _counts(page)[:2] == (LIVE_FORMULAS + 1, 1)

    page.reload()  # type: ignore[attr-defined]
    wait_for_app(page)
    page.wait_for_function(f"() => ({COUNT_JS})()[0] > 0", timeout=30_000)  # type: ignore[attr-defined]
    katex, display, text = _counts(page)
    assert (katex, display) == (LIVE_FORMULAS + 1, 1), text
    assert "It costs $5 and $10" in text
    _assert_clean(app_server, requests, console)


def test_keyboard_shortcuts_focus_and_jump_to_latest(
    app_server: AppServer, allenai_sim: SimHandle, watched: tuple[object, list[str], list[str]]
) -> None:
    page, requests, console = watched
    script = allenai_sim.sim.script
    long_answer = "".join(f"Paragraph {i}: " + "words " * 60 + "\n\n" for i in range(30))
    script.chunks = [long_answer, "More text arrives. ", "The end."]
    script.hold_at = 1
    page.goto(app_server.url)  # type: ignore[attr-defined]
    wait_for_app(page)
    box = page.get_by_test_id("stChatInputTextArea")  # type: ignore[attr-defined]
    expect(box).to_be_focused(timeout=15_000)  # focused on arrival

    send(page, "Write a lot")
    expect(page.get_by_role("button", name="Stop")).to_be_visible(timeout=30_000)  # type: ignore[attr-defined]
    page.wait_for_function("() => document.body.innerText.includes('Paragraph 29')", timeout=30_000)  # type: ignore[attr-defined]
    jump = page.locator("#chatdeck-jump")  # type: ignore[attr-defined]
    expect(jump).to_be_hidden()  # the reader follows the reply: nothing to jump to

    page.mouse.move(640, 300)  # type: ignore[attr-defined]
    page.mouse.wheel(0, -3000)  # type: ignore[attr-defined]  # the reader scrolls up to read
    expect(jump).to_be_visible(timeout=10_000)
    first_top = "() => document.querySelector('[data-testid=\"stChatMessage\"]').getBoundingClientRect().top"
    top = page.evaluate(first_top)  # type: ignore[attr-defined]
    script.hold_at = 2  # more of the reply arrives while the reader is up there...
    page.wait_for_function("() => document.body.innerText.includes('More text arrives.')", timeout=30_000)  # type: ignore[attr-defined]
    assert page.evaluate(first_top) == top  # type: ignore[attr-defined]  # ...and does not take the scroll
    expect(jump).to_be_visible()
    jump.focus()
    page.keyboard.press("Enter")  # type: ignore[attr-defined]  # reachable by Tab and Enter: a real button
    expect(jump).to_be_hidden(timeout=10_000)
    page.wait_for_function("() => { const m = [...document.querySelectorAll('[data-testid=\"stChatMessage\"]')].pop();"  # type: ignore[attr-defined]
                           " return m.getBoundingClientRect().bottom <= window.innerHeight + 2; }", timeout=10_000)

    page.keyboard.press("Escape")  # type: ignore[attr-defined]  # stop the reply being written
    expect(page.get_by_text("Stopped.")).to_be_visible(timeout=30_000)  # type: ignore[attr-defined]
    expect(box).to_be_focused(timeout=15_000)  # focused again once the answer is over

    page.keyboard.press("Alt+C")  # type: ignore[attr-defined]
    expect(page.locator("#chatdeck-announce")).to_have_text("Last answer copied.", timeout=10_000)  # type: ignore[attr-defined]
    assert page.evaluate("() => navigator.clipboard.readText()") == long_answer + "More text arrives. "  # type: ignore[attr-defined]

    box.blur()
    page.keyboard.press("/")  # type: ignore[attr-defined]
    expect(box).to_be_focused()
    assert box.input_value() == ""  # the "/" was a shortcut, not typed

    page.keyboard.press("Tab")  # type: ignore[attr-defined]  # focus is visible wherever Tab takes it
    for _ in range(40):
        page.keyboard.press("Shift+Tab")  # type: ignore[attr-defined]
        if page.evaluate("() => document.activeElement.tagName") == "BUTTON":  # type: ignore[attr-defined]
            break
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")  # type: ignore[attr-defined]
    assert outline not in ("none", ""), outline

    help_button = page.get_by_role("button", name="Keyboard shortcuts")  # type: ignore[attr-defined]
    help_button.focus()
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    expect(page.get_by_test_id("stPopoverBody").get_by_text("Go to Compare")).to_be_visible()  # type: ignore[attr-defined]
    page.keyboard.press("Escape")  # type: ignore[attr-defined]

    page.keyboard.press("Alt+N")  # type: ignore[attr-defined]  # a new chat
    expect(page.get_by_role("heading", name="Chatdeck")).to_be_visible(timeout=15_000)  # type: ignore[attr-defined]
    assert "c=" not in page.url  # type: ignore[attr-defined]
    page.keyboard.press("Alt+K")  # type: ignore[attr-defined]  # go to Compare
    page.wait_for_url("**/compare", timeout=15_000)  # type: ignore[attr-defined]
    expect(page.get_by_role("heading", name="Compare")).to_be_visible(timeout=15_000)  # type: ignore[attr-defined]
    _assert_clean(app_server, requests, console)

