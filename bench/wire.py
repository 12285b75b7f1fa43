"""Websocket bytes on the wire, with and without compression: ``python -m bench.wire [--prompts 3]``.

``bench.stream`` counts the websocket messages the browser receives, as the page reads them; what crosses
the network is less once the connection is compressed (permessage-deflate, ``server.enableWebsocketCompression``
in .streamlit/config.toml). Two Chatdeck processes, one with compression and one without, the same
simulator and one chromium; in each, one conversation asked the same one-paragraph 7 KB answer in 1,000
chunks again and again, the two apps in turn. For each turn after the first (the first also loads the
page's lazily loaded code), it prints the messages' bytes (as the browser reads them) and the bytes the
server's socket sent (``ss``, the TCP connections that were open before and after the turn: the websocket),
each against the answer, and the compressed run against the other.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.browser import chromium_context, split_even, streamlit_app
from bench.texts import flat_answer
from simulators.allenai import AllenAISimulator
from simulators.serve import serve

OUT = Path(__file__).resolve().parent / "out"
CHUNKS, CHUNK_DELAY = 1000, 0.005
SETTING = "STREAMLIT_SERVER_ENABLE_WEBSOCKET_COMPRESSION"  # overrides .streamlit/config.toml


def sent_per_connection(port: int) -> dict[str, int]:
    """Bytes sent so far by each established TCP connection of the server's ``port``, by the peer's port."""
    out = subprocess.run(["ss", "-tinH", "state", "established", f"( sport = :{port} )"],  # noqa: S603, S607
                         capture_output=True, text=True, check=True).stdout
    sent: dict[str, int] = {}
    peer = None
    for line in out.splitlines():
        if addresses := re.search(r"\S+:\d+\s+\S+:(\d+)\s*$", line.strip()):
            peer = addresses.group(1)
        if (count := re.search(r"bytes_sent:(\d+)", line)) and peer is not None:
            sent[peer] = int(count.group(1))
    return sent


class Turns:
    """One page with one conversation in one app; each :meth:`ask` adds a turn and measures its bytes."""

    def __init__(self, page: Any, url: str, sim: AllenAISimulator) -> None:
        self.page, self.url, self.sim, self.port = page, url, sim, int(urlsplit(url).port or 80)
        self.read = 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._count))
        page.goto(url)
        page.get_by_test_id("stChatInputTextArea").wait_for(timeout=60_000)
        self.turns = 0

    def _count(self, payload: bytes | str) -> None:
        self.read += len(payload.encode() if isinstance(payload, str) else payload)

    def ask(self, answer: str) -> tuple[int, int]:
        """(message bytes read by the page, bytes the server's socket sent) for one more turn."""
        self.sim.script.chunks, self.sim.script.chunk_delay = split_even(answer, CHUNKS), CHUNK_DELAY
        before, read_before = sent_per_connection(self.port), self.read
        box = self.page.get_by_test_id("stChatInputTextArea")
        box.fill(f"Question {self.turns + 1}")
        box.press("Enter")
        self.turns += 1
        self.page.wait_for_function(  # the reply finished and drawn as stored, the run over
            f"""() => document.querySelectorAll("[data-testid='stChatMessage']").length == {2 * self.turns}
                && document.querySelector("[class*='st-key-regen_']")
                && document.querySelector("[data-testid='stApp']").dataset.testScriptState === "notRunning" """,
            timeout=60_000)
        self.page.wait_for_timeout(1000)  # what the page still receives after the run (the keyboard frame's)
        after = sent_per_connection(self.port)
        wire = sum(after[peer] - before[peer] for peer in after if peer in before)
        return self.read - read_before, wire


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=3, help="turns per app after the first")
    args = parser.parse_args()
    sim = AllenAISimulator()
    answer = flat_answer()
    figures: dict[str, list[tuple[int, int]]] = {"off": [], "on": []}
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="chatdeck-wire-")))
        OUT.mkdir(exist_ok=True)
        sim_url = stack.enter_context(serve(sim.app))
        context = stack.enter_context(chromium_context())
        apps = {}
        for name in figures:
            url = stack.enter_context(streamlit_app(sim_url, tmp / f"{name}.db", OUT / f"wire-{name}.log",
                                                    extra_env={SETTING: "true" if name == "on" else "false"}))
            apps[name] = Turns(context.new_page(), url, sim)
        for turn in range(args.prompts + 1):
            for name, app in apps.items():
                read, wire = app.ask(answer)
                if turn:  # the first turn also fetches the page's lazily loaded code
                    figures[name].append((read, wire))
    size = len(answer.encode())
    print(f"A one-paragraph answer of {size:,} B in {CHUNKS:,} chunks, a turn in an open conversation "
          f"(medians of {args.prompts}):")
    medians: dict[str, float] = {}
    for name, rows in figures.items():
        on_page, on_wire = statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)
        medians[name] = on_wire
        print(f"  compression {name:3}: messages {on_page:,.0f} B ({on_page / size:.1f}x the answer), "
              f"on the wire {on_wire:,.0f} B ({on_wire / size:.1f}x the answer)")
    print(f"  on the wire, compressed vs not: {medians['on'] / medians['off']:.2f}x")


if __name__ == "__main__":
    main()
