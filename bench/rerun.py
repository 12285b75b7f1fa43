"""Page rerun cost against conversation length: ``python -m bench.rerun`` prints a table.

For conversations of 10, 1,000 and 10,000 messages (bulk-inserted into a fresh SQLite file, every
message about 400 characters of markdown), the real app runs under ``streamlit run`` and Debian's
chromium (Playwright) opens the conversation. Each rerun is triggered from the page (the sidebar's
temperature slider moved one step with the keyboard) and measured in the browser: the wall time
from the key press until the script-state marker is back at ``notRunning``, and the websocket bytes
received meanwhile. The median of :data:`RERUNS` reruns is printed per size.
Target: the 10,000 case within 1.5x of the 10 case.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench.browser import chromium_page, streamlit_app
from bench.texts import SENTENCES
from simulators.allenai import AllenAISimulator
from simulators.serve import serve
from storage import repository as repo
from storage.db import make_engine, session
from storage.models import Message

SIZES = (10, 1_000, 10_000)
RERUNS = 15
MODEL = "olmo-3.1-32b-instruct"
TARGET = 1.5

WATCH_JS = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  const run = window.__rerun = {start: performance.now(), running: false, end: null};
  const observer = new MutationObserver(() => {
    const state = app.getAttribute("data-test-script-state");
    if (state === "running") run.running = true;
    if (state === "notRunning" && run.running && run.end === null) {
      run.end = performance.now();
      observer.disconnect();
    }
  });
  observer.observe(app, {attributes: true, attributeFilter: ["data-test-script-state"]});
}"""


@dataclass
class Row:
    messages: int
    rendered: int
    rerun_ms: float
    ws_bytes: int
    ws_frames: int


def message_text(i: int) -> str:
    """About 400 characters of markdown, different for every message."""
    picked = [SENTENCES[(i + k) % len(SENTENCES)] for k in range(4)]
    return f"**Message {i}.** " + " ".join(picked)[:380]


def build_database(path: Path, count: int) -> str:
    """A migrated SQLite file holding one conversation of ``count`` messages; returns its id."""
    engine = make_engine(f"sqlite:///{path}")
    try:
        with session(engine) as s:
            owner = repo.local_user(s).id
            cid = repo.create_conversation(s, owner, provider="allenai", model=MODEL, title=f"{count} messages").id
            start = datetime.now(UTC) - timedelta(days=1)
            rows: list[dict[str, Any]] = []
            for i in range(count):
                text, at = message_text(i), start + timedelta(seconds=i)
                assistant = i % 2 == 1
                rows.append({
                    "conversation_id": cid, "role": "assistant" if assistant else "user", "content": text,
                    "chars": len(text), "provider": "allenai", "model": MODEL, "status": "complete",
                    "ttft_ms": 300 if assistant else None, "total_ms": 2100 if assistant else None,
                    "reasoning": "", "attachments": [], "extra": {}, "created_at": at, "updated_at": at,
                })
            s.execute(insert(Message), rows)
        return cid
    finally:
        engine.dispose()


class Meter:
    """Counts the websocket bytes and frames chromium receives while ``counting`` is on."""

    def __init__(self, page: Any) -> None:
        self.counting = False
        self.bytes = self.frames = 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload: bytes | str) -> None:
        if self.counting:
            self.bytes += len(payload.encode() if isinstance(payload, str) else payload)
            self.frames += 1


def measure(page: Any, meter: Meter, url: str, reruns: int) -> tuple[int, float, int, int]:
    """Open ``url``, then rerun the page ``reruns`` times: (messages drawn, median ms, bytes, frames)."""
    page.goto(url)
    for state in ("data-test-connection-state='CONNECTED'", "data-test-script-state='notRunning'"):
        page.wait_for_selector(f"[data-testid='stApp'][{state}]", state="attached", timeout=120_000)
    page.wait_for_selector("[data-testid='stChatMessage']", timeout=60_000)
    page.wait_for_timeout(1000)
    rendered = page.get_by_test_id("stChatMessage").count()
    page.get_by_test_id("stSidebar").get_by_text("Sampling").click()
    thumb = page.get_by_test_id("stSidebar").get_by_test_id("stSlider").first.get_by_role("slider")
    thumb.wait_for(timeout=10_000)
    times: list[float] = []
    sizes: list[int] = []
    frames: list[int] = []
    for i in range(reruns):
        thumb.focus()
        page.wait_for_timeout(300)
        page.evaluate(WATCH_JS)
        meter.bytes = meter.frames = 0
        meter.counting = True
        thumb.press("ArrowLeft" if i % 2 == 0 else "ArrowRight")  # temperature 0.70 <-> 0.65: a full rerun
        page.wait_for_function("() => window.__rerun.end !== null", timeout=60_000)
        page.wait_for_timeout(250)  # frames still on their way to this process
        meter.counting = False
        times.append(page.evaluate("() => window.__rerun.end - window.__rerun.start"))
        sizes.append(meter.bytes)
        frames.append(meter.frames)
    return rendered, statistics.median(times), int(statistics.median(sizes)), int(statistics.median(frames))


def run(sizes: tuple[int, ...] = SIZES, reruns: int = RERUNS) -> list[Row]:
    sim = AllenAISimulator()
    rows: list[Row] = []
    with serve(sim.app) as sim_url, tempfile.TemporaryDirectory(prefix="chatdeck-rerun-") as tmp:
        for count in sizes:
            database = Path(tmp) / f"rerun-{count}.db"
            started = time.monotonic()
            cid = build_database(database, count)
            print(f"  {count:>6} messages inserted in {time.monotonic() - started:.1f} s", flush=True)
            with streamlit_app(sim_url, database, Path(tmp) / f"streamlit-{count}.log") as app_url, \
                    chromium_page() as page:
                meter = Meter(page)
                rendered, ms, size, frames = measure(page, meter, f"{app_url}/?c={cid}", reruns)
            rows.append(Row(count, rendered, ms, size, frames))
    return rows


def table(rows: list[Row]) -> str:
    base = rows[0]
    lines = [
        "| messages in the conversation | messages drawn | rerun time (median) | websocket bytes per rerun | "
        "frames | time vs smallest | bytes vs smallest |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.messages:,} | {row.rendered} | {row.rerun_ms:.0f} ms | {row.ws_bytes:,} | {row.ws_frames} | "
            f"{row.rerun_ms / base.rerun_ms:.2f}x | {row.ws_bytes / base.ws_bytes:.2f}x |"
        )
    last = rows[-1]
    lines.append("")
    for what, ratio in (("time", last.rerun_ms / base.rerun_ms), ("bytes", last.ws_bytes / base.ws_bytes)):
        verdict = "met" if ratio <= TARGET else "missed"
        lines.append(f"Target, {what}: {last.messages:,} messages within {TARGET}x of {base.messages:,}: "
                     f"{ratio:.2f}x, {verdict}")
    if len(rows) > 2:  # both past the window: what grows with the conversation itself
        mid = rows[-2]
        lines.append(f"From {mid.messages:,} to {last.messages:,} messages: time {last.rerun_ms / mid.rerun_ms:.2f}x, "
                     f"bytes {last.ws_bytes / mid.ws_bytes:.2f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--reruns", type=int, default=RERUNS)
    args = parser.parse_args(argv)
    print(table(run(tuple(args.sizes), args.reruns)))


if __name__ == "__main__":
    main()
