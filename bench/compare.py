"""(d) and (e): the compare page against three simulated backends of different speeds.

The Ai2, HailuoAI and Hugging Face simulators run in this process (their recorded times are read
here), each with its own first-byte and chunk delays (``BACKENDS``); the app runs as a child process
pointed at all three. Each repetition sends one prompt to the compare page (three columns) and the
same prompt to each backend alone on the chat page (``/?provider=…&model=…``, a new chat), each on a
freshly loaded page. On one wall clock: Enter (a keydown listener); per backend, when the simulator
received the request and wrote its first and last bytes (``time.monotonic()``, converted); and from a
MutationObserver, when the answer's first and last words (markers unique to backend and repetition)
entered the DOM.

(d) compare wall time = Enter to the last column's last word; alone = Enter to the last word on the
chat page; ratio = compare / the slowest backend alone, same repetition. (e) first visible token =
first word in the DOM minus the simulator's first byte. Bounded: 4 + 6 x REPEATS chat requests.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from bench.browser import _required, _wall_ms, chromium_page, streamlit_app
from providers import registry
from simulators.allenai import AllenAISimulator
from simulators.hailuo import HailuoSimulator, demo_environment
from simulators.openai_compat import SIM_TOKEN, OpenAICompatSimulator
from simulators.serve import serve

REPEATS = 5
WORDS = 41  # chunks per answer, one word each
REPEAT_BUDGET = 45.0  # seconds a repetition may need (started only if this much time is left)
TARGET = 1.10
FILLER = ["streams", "its", "answer", "word", "by", "word", "while", "the", "other", "columns", "keep", "pace"]


@dataclass(frozen=True)
class Backend:
    name: str  # registry name
    word: str  # marker stem, unique to the backend
    first_byte: float  # seconds from the request to the first body byte
    total: float  # seconds from the request to the last word

    def chunks(self, rep: int) -> list[str]:
        middle = [f"{FILLER[i % len(FILLER)]} " for i in range(WORDS - 2)]
        return [f"{self.marker(rep, 'start')} ", *middle, f"{self.marker(rep, 'end')}."]

    def marker(self, rep: int, which: str) -> str:
        return f"{self.word}{rep}{which}"


BACKENDS = [Backend("allenai", "amber", 0.2, 1.5), Backend("hailuo", "hazel", 0.3, 2.5),
            Backend("huggingface", "fern", 0.4, 3.5)]  # fmt: skip

# Installed on an idle page before the prompt is sent; all times are Date.now() (wall, ms).
OBSERVE_JS = """([markers, settle, steps]) => {
  const b = window.__cmp = {sent: null, first: {}, done: {}, settled: null, steps: {}};
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && b.sent === null) b.sent = Date.now();
  }, true);
  new MutationObserver(() => {
    const now = Date.now();
    const text = Array.from(document.querySelectorAll("[data-testid='stChatMessage']"), (el) => el.textContent)
      .join("\\n");
    for (const [name, [start, end]] of Object.entries(markers)) {
      if (b.first[name] === undefined && text.includes(start)) b.first[name] = now;
      if (b.done[name] === undefined && text.includes(end)) b.done[name] = now;
    }
    if (b.sent === null) return;
    const page = document.querySelector("[data-testid='stApp']").textContent;
    for (const [name, needle] of Object.entries(steps)) {
      if (b.steps[name] === undefined && page.includes(needle)) b.steps[name] = now;
    }
    const [selector, needle, count] = settle;
    const found = Array.from(document.querySelectorAll(selector)).filter((el) => el.textContent.includes(needle));
    if (b.settled === null && found.length >= count) b.settled = now;
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
STATE_JS = """() => ({
  idle: document.querySelector("[data-testid='stApp']")?.getAttribute("data-test-script-state") === "notRunning",
  bench: window.__cmp,
  labels: Array.from(document.querySelectorAll("strong"), (el) => el.textContent),
})"""
VOTES = ["button", "This one is best", len(BACKENDS)]  # the compare round is over and stored
CAPTION = ["[data-testid='stChatMessage']", "first token", 1]  # the chat reply's figures line
# page text showing how far the compare page's script run has got (first seen after Enter)
STEPS = {"columns_drawn": "Continue in chat", "waiting_shown": "Waiting for the first token"}


class CompareBench:
    """One chromium page against the app; ``compare`` and ``alone`` send one prompt each and time it."""

    def __init__(self, page: Any, app_url: str, sims: dict[str, Any]) -> None:
        self.page, self.app_url, self.sims = page, app_url, sims
        self.models: dict[str, str] = {}  # the compare page's default model per backend, used alone too

    def compare(self, rep: int, prompt: str) -> dict[str, Any]:
        self._open(self.app_url + "/compare")
        sample = self._send(rep, prompt, BACKENDS, VOTES, STEPS)
        labels = sample.pop("labels")
        for b in BACKENDS:
            display = registry.BACKENDS[b.name].display_name + " · "
            found = [x.removeprefix(display) for x in labels if x.startswith(display)]
            if not found:
                raise RuntimeError(f"no compare column for {display} (columns: {labels})")
            self.models[b.name] = found[0]
        sample["wall_ms"] = max(c["done_ms"] for c in sample["backends"].values()) - sample["enter_ms"]
        return sample

    def alone(self, rep: int, prompt: str, backend: Backend) -> dict[str, Any]:
        self._open(f"{self.app_url}/?provider={backend.name}&model={quote(self.models[backend.name], safe='')}")
        sample = self._send(rep, prompt, [backend], CAPTION, {})
        del sample["labels"]
        sample["wall_ms"] = sample["backends"][backend.name]["done_ms"] - sample["enter_ms"]
        return sample

    def _open(self, url: str) -> None:
        self.page.goto(url)  # a new session: nothing left on the page from the previous prompt
        for state in ("data-test-connection-state='CONNECTED'", "data-test-script-state='notRunning'"):
            self.page.wait_for_selector(f"[data-testid='stApp'][{state}]", state="attached", timeout=30_000)

    def _send(self, rep: int, prompt: str, backends: list[Backend], settle: list[Any],
              steps: dict[str, str]) -> dict[str, Any]:  # fmt: skip
        for b in BACKENDS:  # every simulator is scripted with this repetition's answer
            script = self.sims[b.name].script
            script.chunks, script.first_byte_delay = b.chunks(rep), b.first_byte
            script.chunk_delay = (b.total - b.first_byte) / (WORDS - 1)
            script.thinking = ""  # no reasoning: the first text streamed is the answer's first word
        markers = {b.name: [b.marker(rep, "start"), b.marker(rep, "end")] for b in backends}
        self.page.evaluate(OBSERVE_JS, [markers, settle, steps])
        self.page.wait_for_timeout(200)
        before = {b.name: len(self.sims[b.name].chat_requests()) for b in backends}
        box = self.page.get_by_test_id("stChatInputTextArea")
        box.fill(prompt)
        box.press("Enter")
        state = self._wait(backends, before)
        seen = state["bench"]
        times = {}
        for b in backends:
            records = self.sims[b.name].chat_requests()[before[b.name] :]
            if len(records) != 1:
                raise RuntimeError(f"{b.name}: expected one chat request, the simulator got {len(records)}")
            record = records[0]
            times[b.name] = {
                "request_ms": _wall_ms(record.received_at),
                "first_byte_ms": _wall_ms(_required(record, "first_byte_at")),
                "first_text_ms": _wall_ms(_required(record, "first_text_at")),
                "sim_finished_ms": _wall_ms(_required(record, "finished_at")),
                "visible_ms": seen["first"][b.name],
                "done_ms": seen["done"][b.name],
            }
        return {"rep": rep, "enter_ms": seen["sent"], "settled_ms": seen["settled"], "steps_ms": seen["steps"],
                "backends": times, "labels": state["labels"]}  # fmt: skip

    def _wait(self, backends: list[Backend], before: dict[str, int], timeout: float = 40) -> dict[str, Any]:
        """Until every answer's last word is shown, the page is idle and the end-of-reply element is there."""
        for _ in range(int(timeout / 0.1)):
            self.page.wait_for_timeout(100)
            state = self.page.evaluate(STATE_JS)
            seen = state["bench"]
            finished = all(
                len(r := self.sims[b.name].chat_requests()) > before[b.name] and r[-1].finished_at is not None
                for b in backends
            )
            if finished and state["idle"] and seen["settled"] and all(b.name in seen["done"] for b in backends):
                return state
        raise TimeoutError(f"the answers were not all shown within {timeout:.0f} s (last state: {seen})")


def measure(time_left: Callable[[], float], out: Path) -> dict[str, Any]:
    sims = {"allenai": AllenAISimulator(), "hailuo": HailuoSimulator(), "huggingface": OpenAICompatSimulator()}
    compare: list[dict[str, Any]] = []
    alone: dict[str, list[dict[str, Any]]] = {b.name: [] for b in BACKENDS}
    error = None
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="chatdeck-bench-compare-")))
        urls = {name: stack.enter_context(serve(sim.app)) for name, sim in sims.items()}
        env = {**demo_environment(urls["hailuo"]), "CHATDECK_HF_URL": urls["huggingface"] + "/v1",
               "CHATDECK_HF_KIND": "huggingface", "HF_TOKEN": SIM_TOKEN}  # fmt: skip
        app = stack.enter_context(streamlit_app(urls["allenai"], tmp / "bench.db", out / "streamlit-compare.log", env))
        bench = CompareBench(stack.enter_context(chromium_page()), app, sims)
        try:
            bench.compare(0, "Warm-up: not measured.")
            bench.alone(0, "Warm-up: not measured.", BACKENDS[0])
            for rep in range(1, REPEATS + 1):
                if time_left() < REPEAT_BUDGET:
                    print(f"  (time is up: {rep - 1} of {REPEATS} compare repetitions done)", file=sys.stderr)
                    break
                prompt = f"Question {rep}: what should a good comparison of chat backends measure?"
                if rep % 2:  # compare first in odd repetitions, last in even ones; the singles' order rotates
                    compare.append(bench.compare(rep, prompt))
                for b in BACKENDS[rep % 3 :] + BACKENDS[: rep % 3]:
                    alone[b.name].append(bench.alone(rep, prompt, b))
                if not rep % 2:
                    compare.append(bench.compare(rep, prompt))
                times = " · ".join(f"{b.name} {alone[b.name][-1]['wall_ms']:.0f}" for b in BACKENDS)
                print(f"  repetition {rep}: compare {compare[-1]['wall_ms']:.0f} ms; alone {times} ms", file=sys.stderr)
        except Exception as problem:  # keep what was measured, say why it stopped
            error = f"{type(problem).__name__}: {problem}"
            print(f"  compare bench stopped: {error}", file=sys.stderr)
    return summarise(compare, alone, bench.models, error)


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


PHASES = {  # where one answer's time goes, from one sample's times: (name, (Enter, that backend's times))
    "first_token_after_first_byte_ms": lambda e, c: c["visible_ms"] - c["first_byte_ms"],
    "enter_to_request_ms": lambda e, c: c["request_ms"] - e,
    "request_to_first_byte_ms": lambda e, c: c["first_byte_ms"] - c["request_ms"],
    "stream_ms": lambda e, c: c["sim_finished_ms"] - c["first_byte_ms"],
    "sim_end_to_dom_ms": lambda e, c: c["done_ms"] - c["sim_finished_ms"],
    "enter_to_done_ms": lambda e, c: c["done_ms"] - e,
}


def _phases(samples: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return {key: _stats([f(s["enter_ms"], s["backends"][name]) for s in samples]) for key, f in PHASES.items()}


def summarise(compare: list[dict[str, Any]], alone: dict[str, list[dict[str, Any]]], models: dict[str, str],
              error: str | None) -> dict[str, Any]:  # fmt: skip
    by_rep = {name: {s["rep"]: s for s in samples} for name, samples in alone.items()}
    ratios: list[float] = []
    slowest: list[float] = []
    sums: list[float] = []
    for sample in compare:
        singles = [s for b in BACKENDS if (s := by_rep[b.name].get(sample["rep"]))]
        if len(singles) == len(BACKENDS):
            slowest.append(max(s["wall_ms"] for s in singles))
            sums.append(sum(s["wall_ms"] for s in singles))
            ratios.append(sample["wall_ms"] / slowest[-1])
    client_ms = []
    for _ in range(5):  # what one new httpx.AsyncClient() costs here (a TLS context from certifi's CAs)
        started = time.perf_counter()
        httpx.AsyncClient()
        client_ms.append((time.perf_counter() - started) * 1000)
    settings = {b.name: {"model": models.get(b.name), "first_byte_s": b.first_byte, "total_s": b.total,
                         "words": WORDS} for b in BACKENDS}  # fmt: skip
    steps = {f"compare_{k}_ms": _stats([s["steps_ms"][k] - s["enter_ms"] for s in compare if k in s["steps_ms"]])
             for k in STEPS}  # fmt: skip
    return {
        "settings": settings,
        "d_wall": {
            "compare_ms": _stats([s["wall_ms"] for s in compare]),
            "slowest_alone_ms": _stats(slowest),
            "ratio": _stats(ratios),
            "ratios": ratios,
            "target": TARGET,
            "sum_alone_ms": _stats(sums),
            "compare_settled_ms": _stats([s["settled_ms"] - s["enter_ms"] for s in compare]),
            **steps,
        },
        "e_first_token": {
            b.name: {"compare": _phases(compare, b.name), "alone": _phases(alone[b.name], b.name)} for b in BACKENDS
        },
        "new_http_client_ms": _stats(client_ms),
        "samples": {"compare": compare, "alone": alone},
        "error": error,
    }


def _ms(stats: dict[str, float] | None) -> str:
    if stats is None:
        return "n/a"
    return f"median {stats['median']:>5.0f} ms (min {stats['min']:.0f}, max {stats['max']:.0f}, n={stats['n']})"


def table(data: dict[str, Any]) -> list[str]:
    d = data["d_wall"]
    names = {b.name: registry.BACKENDS[b.name].display_name for b in BACKENDS}
    speeds = ", ".join(f"{names[n]} {s['first_byte_s'] * 1000:.0f} ms / {s['total_s']:.1f} s"
                       for n, s in data["settings"].items())  # fmt: skip
    lines = [f"(d) Compare page wall time vs the slowest backend alone on the chat page, same prompt · first byte / "
             f"whole answer ({WORDS} words): {speeds}"]  # fmt: skip
    if data["error"]:
        lines.append(f"    stopped early: {data['error']}")
    if d["ratio"] is None:
        return [*lines, "    not measured"]
    verdict = "meets" if d["ratio"]["median"] <= TARGET else "MISSES"
    lines += [
        f"    compare page: Enter - every column's last word shown   {_ms(d['compare_ms'])}",
        f"    chat page: Enter - last word, slowest backend alone     {_ms(d['slowest_alone_ms'])}",
        f"    ratio compare / slowest alone: median {d['ratio']['median']:.2f} (per repetition "
        f"{', '.join(f'{r:.2f}' for r in d['ratios'])}) · target <= {TARGET:.2f}: {verdict}",
        f"    for scale: the three alone, one after another            {_ms(d['sum_alone_ms'])}",
        f"    compare page: Enter - columns drawn (script run)        {_ms(d['compare_columns_drawn_ms'])}",
        f"    compare page: Enter - vote buttons (round stored)       {_ms(d['compare_settled_ms'])}",
        "",
        "(e) First visible token after the simulator's first byte, compare page vs the same backend alone on the "
        "chat page · medians, and where each answer's time goes",
        f"    {'backend':<16}{'page':<9}{'first token':>12}{'Enter-request':>15}{'request-1st byte':>18}"
        f"{'stream':>10}{'sim end-DOM':>13}{'Enter-done':>12}",
    ]
    widths = [9, 12, 15, 7, 10, 9]
    for b in BACKENDS:
        e = data["e_first_token"][b.name]
        for page, label in (("compare", names[b.name]), ("alone", "")):
            cells = "".join(f"{e[page][k]['median'] if e[page][k] else float('nan'):>{w}.0f} ms"
                            for k, w in zip(PHASES, widths, strict=True))  # fmt: skip
            lines.append(f"    {label:<16}{'compare' if page == 'compare' else 'chat':<9}{cells}")
        compare_ms, alone_ms = (e[k]["first_token_after_first_byte_ms"] for k in ("compare", "alone"))
        if compare_ms and alone_ms:
            lines.append(f"    {'':<16}{'diff':<9}{compare_ms['median'] - alone_ms['median']:>+9.0f} ms")
    lines.append(
        f"    n = {d['ratio']['n']} repetitions · one new httpx.AsyncClient() here: median "
        f"{data['new_http_client_ms']['median']:.0f} ms (the runner makes one per run of a backend with a login)"
    )
    return lines
