"""The simulated backends of bench/load.py, in a process of their own (so neither the app's CPU figures
nor the load client's timings include serving the streams).

Every backend the app knows is pointed at a loopback simulator (nothing reaches the internet); the Ai2
Playground one, the default backend a new chat starts on, answers each prompt ``... chat N`` with
:func:`answer` for N, in ``--chunks`` pieces ``--chunk-delay`` apart after ``--first-byte-delay``.
Prints one JSON line, the app's environment, then serves until its standard input closes.

    python -m bench.load_sims --answer-bytes 2000 --chunks 150 --chunk-delay 0.03
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys

from simulators.allenai import AllenAISimulator
from simulators.hailuo import HailuoSimulator, demo_environment
from simulators.huggingchat import HuggingChatSimulator
from simulators.openai_compat import SIM_TOKEN, OpenAICompatSimulator
from simulators.serve import serve

WORDS = ("stream", "token", "answer", "session", "loop", "flush", "reply", "model", "server", "client",
         "delta", "block", "write", "read", "wait", "time")


def answer(n: int, size: int) -> str:
    """About ``size`` characters of markdown in paragraphs, starting ``Begin<n>x`` and ending ``End<n>x``."""
    words, length, i = [f"Begin{n}x"], 0, 0
    while length < size - 20:
        word = WORDS[(i * 7 + n) % len(WORDS)]
        words.append(word + ("\n\n" if i % 60 == 59 else ""))
        length += len(word) + 1
        i += 1
    words.append(f"End{n}x.")
    return " ".join(words).replace("\n\n ", "\n\n")


def number(prompt: str) -> int:
    match = re.search(r"chat (\d+)", prompt)
    return int(match.group(1)) if match else 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answer-bytes", type=int, default=2000)
    parser.add_argument("--chunks", type=int, default=150)
    parser.add_argument("--chunk-delay", type=float, default=0.03)
    parser.add_argument("--first-byte-delay", type=float, default=0.3)
    args = parser.parse_args(argv)

    ai2 = AllenAISimulator()
    script = ai2.script
    script.reply = lambda prompt: answer(number(prompt), args.answer_bytes)
    script.n_chunks, script.chunk_delay, script.first_byte_delay = args.chunks, args.chunk_delay, args.first_byte_delay
    hailuo, huggingchat, hf = HailuoSimulator(), HuggingChatSimulator(), OpenAICompatSimulator()
    with contextlib.ExitStack() as stack:
        ai2_url = stack.enter_context(serve(ai2.app))
        hailuo_url = stack.enter_context(serve(hailuo.app))
        huggingchat_url = stack.enter_context(serve(huggingchat.app)) + "/chat"
        hf_url = stack.enter_context(serve(hf.app)) + "/v1"
        env = {
            "CHATDECK_ALLENAI_URL": ai2_url, **demo_environment(hailuo_url),
            "CHATDECK_HF_URL": hf_url, "CHATDECK_HF_KIND": "huggingface", "HF_TOKEN": SIM_TOKEN,
            "CHATDECK_HUGGINGCHAT_URL": huggingchat_url,
            "CHATDECK_HUGGINGCHAT_COOKIES": huggingchat.cookie_header(),
        }
        print(json.dumps(env), flush=True)
        sys.stdin.read()  # until the parent closes it (or exits)


if __name__ == "__main__":
    main()
