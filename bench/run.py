"""Chatdeck's figures from one run: ``python -m bench.run`` (or ``make bench``).

(a) the Ai2 provider's parse throughput next to a raw line read of the same stream;
(b) the browser-visible first token after the simulator's first byte, Chatdeck's and a naive
    ``st.write_stream`` app's (bench/naive_app.py) in the same run, and their difference;
(c) websocket bytes per answer for a 7 KB answer in 1,000 chunks 5 ms apart
    ((b) and (c) alone, quicker: ``python -m bench.stream``, bench/stream.py);
(d) the compare page's wall time over the slowest backend's alone, three simulated backends of
    different speeds (bench/compare.py);
(e) the first visible token per compare column vs the same backend alone on the chat page.

Loopback only, bounded: at most 3 + 2 x (PROMPTS + FLAT_PROMPTS) browser prompts and 2 x (1 + REPEATS)
+ 1 provider requests per source for (a) to (c), and 4 + 6 x compare.REPEATS chat requests for (d)
and (e); a run takes six to seven minutes and stops early at DEADLINE.
Prints a table and writes the figures to bench/out/latest.json.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench import compare, parse, stream
from bench.stream import CHUNK_DELAY, CHUNKS, FIRST_BYTE_DELAY

OUT = Path(__file__).resolve().parent / "out"
DEADLINE = 420.0  # seconds for the whole run; later steps are skipped past it
COMPARE_TIME = 150.0  # seconds (b) and (c) leave for (d) and (e)
PARSE_CHUNKS, REPEATS = 20_000, 5
PROMPTS, FLAT_PROMPTS = 3, 2  # browser prompts with the markdown answer, and with the one-paragraph answer
BASELINES = {"naive write_stream": (450, 70), "reader sleeping 80 ms": (37, 230)}  # architecture.md


def summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def figures() -> dict[str, Any]:
    started = time.monotonic()

    def time_left() -> float:
        return DEADLINE - (time.monotonic() - started)

    print("(a) provider parse throughput…", file=sys.stderr)
    throughput = parse.measure(PARSE_CHUNKS, REPEATS)
    print("(b, c) the app in chromium…", file=sys.stderr)
    samples = stream.measure(PROMPTS, FLAT_PROMPTS, lambda: time_left() - COMPARE_TIME)
    browser = samples["chatdeck"]
    print("(d, e) the compare page, three backends of different speeds…", file=sys.stderr)
    compared = compare.measure(time_left, OUT)
    both = browser["markdown"] + browser["flat"]
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "python": platform.python_version(),
            "streamlit": version("streamlit"),
        },
        "settings": {
            "chunks": CHUNKS,
            "chunk_delay_s": CHUNK_DELAY,
            "first_byte_delay_s": FIRST_BYTE_DELAY,
            "parse_chunks": PARSE_CHUNKS,
            "repeats": REPEATS,
        },
        "a_parse": throughput,
        "b_first_token": {
            **stream.first_tokens(samples),
            "after_first_byte_ms": summary([s["ttft_after_first_byte_ms"] for s in both]),
            "enter_to_request_ms": summary([s["request_ms"] - s["enter_ms"] for s in both]),
            "enter_to_visible_ms": summary([s["visible_ms"] - s["enter_ms"] for s in both]),
            "first_byte_to_first_text_ms": summary([s["first_text_ms"] - s["first_byte_ms"] for s in both]),
        },
        "c_websocket": {
            kind: {
                "answer_bytes": found[0]["answer_bytes"] if found else None,
                "ws_bytes": summary([s["ws_bytes"] for s in found]),
                "ws_frames": summary([s["ws_frames"] for s in found]),
                "ratio": summary([s["ws_ratio"] for s in found]),
                "longest_pause_ms": summary([s["longest_pause_ms"] for s in found]),
            }
            for kind, found in browser.items()
        },
        "compare": compared,
        "baselines": {name: {"ws_ratio": r, "first_token_ms": t} for name, (r, t) in BASELINES.items()},
        "samples": samples,
        "stream_table": stream.table(samples),
        "elapsed_s": time.monotonic() - started,
    }


def _ms(stats: dict[str, float] | None) -> str:
    if stats is None:
        return "n/a"
    return f"median {stats['median']:.0f} ms   (min {stats['min']:.0f}, max {stats['max']:.0f}, n={stats['n']})"


def table(data: dict[str, Any]) -> str:
    machine, a = data["machine"], data["a_parse"]
    load = ", ".join(f"{x:.1f}" for x in machine["load_average"])
    lines = [
        f"Chatdeck bench · {data['when']} · {machine['cpus']} CPUs (load {load}) · Python {machine['python']} · "
        f"streamlit {machine['streamlit']} · {data['elapsed_s']:.0f} s",
        "",
        f"(a) Ai2 provider vs raw line read · v5 answer of {a['chunks']:,} chunks "
        f"({a['live']['body_bytes'] / 1e6:.2f} MB, {a['live']['lines']:,} lines, {a['live']['events']:,} events)"
        f" · median of {a['repeats']}",
        f"    {'source':<26}{'reader':<24}{'time':>10}{'MB/s':>8}{'lines/s':>10}{'events/s':>10}{'provider/raw':>14}",
    ]
    for source, label in (("live", "simulator (live)"), ("replay", "recorded body (replayed)")):
        for reader in ("raw", "provider"):
            r = a[source][reader]
            events = "-" if r["events_per_s"] is None else f"{r['events_per_s']:,.0f}"
            ratio = f"{a[source]['ratio']:.1f}x" if reader == "provider" else ""
            name = "httpx aiter_lines" if reader == "raw" else "AllenAI.stream()"
            lines.append(
                f"    {label if reader == 'raw' else '':<26}{name:<24}{r['seconds'] * 1000:>7.0f} ms"
                f"{r['mb_per_s']:>8.1f}{r['lines_per_s']:>10,.0f}{events:>10}{ratio:>14}"
            )
    memory = a["in_memory"]
    lines += [
        f"    in memory, no HTTP: parse_stream {memory['parse_stream_s'] * 1000:.0f} ms, "
        f"of which json.loads alone {memory['json_loads_s'] * 1000:.0f} ms",
        "",
        *data["stream_table"],
        f"    Enter - request received {_ms(data['b_first_token']['enter_to_request_ms'])} (Chatdeck)",
        f"    Enter - visible          {_ms(data['b_first_token']['enter_to_visible_ms'])} (Chatdeck)",
        "    baselines (architecture.md): naive write_stream ~450x; reader sleeping 80 ms ~37x",
        "    longest pause: the longest gap between websocket frames once the answer was visible (median)",
        "",
        *compare.table(data["compare"]),
    ]
    return "\n".join(line.rstrip() for line in lines)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    data = figures()
    (OUT / "latest.json").write_text(json.dumps(data, indent=2) + "\n")
    print(table(data))
    print(f"\nFigures as JSON: {OUT / 'latest.json'}")


if __name__ == "__main__":
    main()
