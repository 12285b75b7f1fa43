"""(b) and (c) alone, quicker than the whole bench: ``python -m bench.stream [--prompts 3] [--flat 2]``.

One simulator, one chromium, two apps in the same run: Chatdeck and the naive ``st.write_stream``
app (bench/naive_app.py) on the same simulated stream. Prompts alternate between the two apps, so
the machine's load falls on both alike. Prints Chatdeck's and the naive app's browser-visible first
token after the simulator's first byte and their difference, and the websocket bytes per answer
byte of each kind of answer (a turn's fixed cost, the markdown answer, the one-paragraph answer).

``bench.run`` calls :func:`measure` for its (b) and (c).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.browser import ROOT, BrowserBench, chromium_context, streamlit_app
from bench.texts import flat_answer, markdown_answer
from simulators.allenai import AllenAISimulator
from simulators.serve import serve

OUT = Path(__file__).resolve().parent / "out"
CHUNKS, CHUNK_DELAY, FIRST_BYTE_DELAY = 1000, 0.005, 0.3
PROMPT_BUDGET = 30.0  # seconds a browser prompt may need (started only if this much time is left)
TINY = "Tiny answers show what a turn costs without the streaming."  # a turn's fixed bytes (12 chunks)
KINDS = ("tiny", "markdown", "flat")


def measure(prompts: int, flat: int, time_left: Callable[[], float], *, naive: bool = True) -> dict[str, Any]:
    """Samples per app and kind of answer: ``{"chatdeck": {"tiny": [...], ...}, "naive": {...}}``.

    The naive app answers the markdown and flat prompts too (interleaved with Chatdeck's), not the tiny one.
    """
    sim = AllenAISimulator()
    sim.script.first_byte_delay = FIRST_BYTE_DELAY
    answers = {"tiny": TINY, "markdown": markdown_answer(), "flat": flat_answer()}
    apps = ("chatdeck", "naive") if naive else ("chatdeck",)
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {app: {k: [] for k in KINDS} for app in apps}
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="chatdeck-bench-")))
        OUT.mkdir(exist_ok=True)
        sim_url = stack.enter_context(serve(sim.app))
        context = stack.enter_context(chromium_context())
        app_url = stack.enter_context(streamlit_app(sim_url, tmp / "bench.db", OUT / "streamlit.log"))
        benches = {"chatdeck": BrowserBench(context.new_page(), app_url, sim)}
        if naive:
            url = stack.enter_context(streamlit_app(sim_url, tmp / "naive.db", OUT / "naive.log",
                                                    script=ROOT / "bench" / "naive_app.py"))
            benches["naive"] = BrowserBench(context.new_page(), url, sim)
        for bench in benches.values():
            bench.ask("Warm-up", "Warming up: a short answer, not measured. " * 5, chunks=40, chunk_delay=CHUNK_DELAY)
        plan = [("chatdeck", "tiny", 12)]
        for kind, count in (("flat", flat), ("markdown", prompts)):  # the flat answer's bytes are the target
            plan += [(app, kind, CHUNKS) for _ in range(count) for app in apps]
        for number, (app, kind, chunks) in enumerate(plan, 1):
            if time_left() < PROMPT_BUDGET:
                print(f"  (time is up: {number - 1} of {len(plan)} browser prompts done)", file=sys.stderr)
                break
            prompt = f"Question {number}: how does Chatdeck stream a long answer?"
            sample = benches[app].ask(prompt, answers[kind], chunks=chunks, chunk_delay=CHUNK_DELAY,
                                      timeout=time_left() - 5)
            samples[app][kind].append(sample.as_dict())
            print(
                f"  prompt {number} ({app}, {kind}): first token +{sample.ttft_after_first_byte:.0f} ms after the "
                f"first byte, {sample.ws_bytes:,} websocket bytes in {sample.ws_frames} frames",
                file=sys.stderr,
            )
    return samples


def summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def first_tokens(samples: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """Each app's first token after the first byte (markdown and flat prompts), and the median difference."""
    figures: dict[str, Any] = {}
    for app, kinds in samples.items():
        found = kinds["markdown"] + kinds["flat"]
        figures[app] = summary([s["ttft_after_first_byte_ms"] for s in found])
        figures[f"{app}_frame"] = summary([s["frame_ms"] - s["first_byte_ms"] for s in found if s["frame_ms"]])
    if figures.get("chatdeck") and figures.get("naive"):
        figures["difference_ms"] = figures["chatdeck"]["median"] - figures["naive"]["median"]
    return figures


def table(samples: dict[str, dict[str, list[dict[str, Any]]]]) -> list[str]:
    def ms(stats: dict[str, float] | None) -> str:
        if stats is None:
            return "n/a"
        return f"median {stats['median']:.0f} ms   (min {stats['min']:.0f}, max {stats['max']:.0f}, n={stats['n']})"

    tokens = first_tokens(samples)
    lines = [
        f"(b) First token in the browser after the simulator's first byte · {CHUNKS:,} chunks "
        f"{CHUNK_DELAY * 1000:.0f} ms apart, first byte {FIRST_BYTE_DELAY * 1000:.0f} ms after the request",
        f"    Chatdeck                      {ms(tokens.get('chatdeck'))}",
        f"    naive st.write_stream app     {ms(tokens.get('naive'))}",
        "    the frame holding the first text, as the browser reported it to Playwright (after the first byte):",
        f"      Chatdeck                    {ms(tokens.get('chatdeck_frame'))}",
        f"      naive                       {ms(tokens.get('naive_frame'))}",
    ]
    if "difference_ms" in tokens:
        lines.append(f"    Chatdeck - naive (medians)    {tokens['difference_ms']:+.0f} ms   (target: at most +25 ms)")
    lines += [
        "",
        f"(c) Websocket bytes received by the browser, Enter to finished reply · {CHUNKS:,} chunks "
        f"{CHUNK_DELAY * 1000:.0f} ms apart",
        f"    {'app, answer':<40}{'answer B':>10}{'ws bytes':>10}{'frames':>8}{'ws/answer':>11}"
        f"{'(ws-fixed)/answer':>19}{'longest pause':>15}",
    ]
    fixed = summary([s["ws_bytes"] for s in samples["chatdeck"]["tiny"]])
    for app, kinds in samples.items():
        for kind, found in kinds.items():
            if not found:
                continue
            ws = statistics.median(s["ws_bytes"] for s in found)
            answer = found[0]["answer_bytes"]
            ratio = f"{ws / answer:.1f}x" if kind != "tiny" else "-"
            net = f"{(ws - fixed['median']) / answer:.1f}x" if fixed and kind != "tiny" and app == "chatdeck" else "-"
            frames = statistics.median(s["ws_frames"] for s in found)
            pause = statistics.median(s["longest_pause_ms"] for s in found)
            lines.append(f"    {app + ', ' + kind:<40}{answer:>10,}{ws:>10,.0f}{frames:>8,.0f}{ratio:>11}{net:>19}"
                         f"{pause:>12,.0f} ms")
    lines.append("    target: one 7 KB paragraph (chatdeck, flat) within 3x the answer, fixed cost included")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=3, help="markdown prompts per app")
    parser.add_argument("--flat", type=int, default=2, help="one-paragraph prompts per app")
    parser.add_argument("--no-naive", action="store_true", help="Chatdeck alone (bytes only)")
    args = parser.parse_args()
    samples = measure(args.prompts, args.flat, lambda: 600.0, naive=not args.no_naive)
    print("\n".join(table(samples)))


if __name__ == "__main__":
    main()
