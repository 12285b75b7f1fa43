"""A small in-process stack sampler for finding where the app's time goes (``bench.load --profile``).

``python -m bench.sampler OUT -- -m streamlit run ...`` runs the command with a thread that, every few
milliseconds, takes every other thread's stack (``sys._current_frames``), skips those parked in a
blocking call (a wait, a select, a sleep: no CPU), and counts the rest by function and by whole stack.
At exit it writes the busiest functions (by samples they were on the stack, "inclusive", and at the
top, "self") and the most frequent stacks to OUT. Python-level only; time inside C code is charged to
the Python function that called it.
"""

from __future__ import annotations

import atexit
import collections
import runpy
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

INTERVAL = 0.005
WATCHED = ("MainThread", "AnyIO worker")
IDLE = {"wait", "select", "poll", "sleep", "acquire", "recv", "recv_into", "accept", "_wait_for_tstate_lock",
        "run_forever", "_run_once", "readline", "wait_for", "get", "epoll", "read"}


class Sampler:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.samples = 0
        self.inclusive: collections.Counter[str] = collections.Counter()
        self.self_: collections.Counter[str] = collections.Counter()
        self.stacks: collections.Counter[str] = collections.Counter()
        self.by_thread: collections.Counter[str] = collections.Counter()
        self.watched: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name="bench-sampler", daemon=True).start()

    def _run(self) -> None:
        me = threading.get_ident()
        names: dict[int | None, str] = {}
        while not self._stop.is_set():
            time.sleep(INTERVAL)
            if len(names) != threading.active_count():
                names = {t.ident: t.name for t in threading.enumerate()}
            for ident, frame in sys._current_frames().items():
                if ident != me:
                    self._sample(frame, names.get(ident, "?"))

    def _sample(self, frame: FrameType, thread: str) -> None:
        stack: list[str] = []
        f: FrameType | None = frame
        while f is not None:
            code = f.f_code
            stack.append(f"{code.co_name} ({Path(code.co_filename).name}:{code.co_firstlineno})")
            f = f.f_back
        if thread.startswith(WATCHED):  # where these threads wait, too
            self.watched[thread.split("-")[0] + ": " + " <- ".join(stack[:10])] += 1
        if frame.f_code.co_name in IDLE:
            return
        self.samples += 1
        self.self_[stack[0]] += 1
        for name in set(stack):
            self.inclusive[name] += 1
        self.stacks[" <- ".join(stack[:8])] += 1
        self.by_thread[thread.split("-")[0].rstrip("0123456789_")] += 1

    def write(self) -> None:
        self._stop.set()
        lines = [f"{self.samples} busy samples every {INTERVAL * 1000:.0f} ms", "", "by thread:"]
        lines += [f"{n:7d} {name}" for name, n in self.by_thread.most_common(15)]
        lines += ["", "inclusive:"] + [f"{n:7d} {name}" for name, n in self.inclusive.most_common(60)]
        lines += ["", "self:"] + [f"{n:7d} {name}" for name, n in self.self_.most_common(40)]
        lines += ["", "stacks:"] + [f"{n:7d} {name}" for name, n in self.stacks.most_common(40)]
        lines += ["", "MainThread and AnyIO workers, waiting included:"]
        lines += [f"{n:7d} {name}" for name, n in self.watched.most_common(30)]
        self.out.write_text("\n".join(lines) + "\n")


def main() -> None:
    out, rest = Path(sys.argv[1]), sys.argv[sys.argv.index("--") + 1:]
    sampler = Sampler(out)
    atexit.register(sampler.write)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sampler.start()
    if rest[0] != "-m":
        raise SystemExit("usage: python -m bench.sampler OUT -- -m module args...")
    sys.argv = [rest[1], *rest[2:]]
    runpy.run_module(rest[1], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
