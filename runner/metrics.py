"""Operational figures in Prometheus' text format (served by api/metrics.py at ``GET /metrics``).

A small hand-written exposition (no client library): counters, gauges and histograms with labels, kept in
this process, safe to update from any thread. Labels carry only server facts (backend names, save kinds,
loop names), never anything a user typed or a user id.

What is recorded where:

* the runner (runner/runner.py): replies started and finished by backend and outcome, time to first
  token, throughput, streamed characters, the duration and failures of its saves;
* every SQLAlchemy engine (storage/db.py): the duration of each database statement;
* :class:`LoopLag` monitors on the runner's loop and on Streamlit's server loop: how late a timer fires;
* at scrape time: running replies, websocket sessions, the process's CPU seconds and resident memory.
"""

from __future__ import annotations

import asyncio
import math
import os
import resource
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, event

Labels = tuple[str, ...]
_WATCHED = "_chatdeck_metrics_watched"
_STARTS = "chatdeck_metrics_statement_starts"

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)
THROUGHPUT_BUCKETS = (10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 50000.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Labels, extra: str = "") -> str:
    parts = [f'{name}="{_escape(value)}"' for name, value in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Metric(ABC):
    """One metric family: its header lines and, per subclass, its samples in Prometheus text format."""

    kind = "untyped"

    def __init__(self, name: str, help_text: str, label_names: Sequence[str] = ()) -> None:
        self.name, self.help, self.label_names = name, help_text, tuple(label_names)
        self._lock = threading.Lock()

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    @abstractmethod
    def lines(self) -> list[str]:
        """The family's sample lines."""


class Counter(Metric):
    kind = "counter"

    def __init__(self, name: str, help_text: str, label_names: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, label_names)
        self._values: dict[Labels, float] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        with self._lock:
            return self._values.get(labels, 0.0)

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_labels(self.label_names, k)} {_number(v)}" for k, v in items]


class Gauge(Metric):
    """A value set directly, or read from ``source`` at scrape time (then unlabelled)."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str, label_names: Sequence[str] = (),
                 source: Callable[[], float | None] | None = None) -> None:
        super().__init__(name, help_text, label_names)
        self._values: dict[Labels, float] = {}
        self.source = source

    def set(self, value: float, *labels: str) -> None:
        with self._lock:
            self._values[labels] = value

    def lines(self) -> list[str]:
        if self.source is not None:
            value = self.source()
            return [] if value is None else [f"{self.name} {_number(value)}"]
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_labels(self.label_names, k)} {_number(v)}" for k, v in items]


class Histogram(Metric):
    kind = "histogram"

    def __init__(self, name: str, help_text: str, label_names: Sequence[str] = (),
                 buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        super().__init__(name, help_text, label_names)
        self.buckets = tuple(sorted(buckets))
        self._series: dict[Labels, list[float]] = {}  # per-bucket counts, then +Inf count, then sum

    def observe(self, value: float, *labels: str) -> None:
        with self._lock:
            series = self._series.get(labels)
            if series is None:
                series = self._series[labels] = [0.0] * (len(self.buckets) + 2)
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    series[i] += 1
            series[-2] += 1
            series[-1] += value

    def count(self, *labels: str) -> int:
        with self._lock:
            series = self._series.get(labels)
            return 0 if series is None else int(series[-2])

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted((k, list(v)) for k, v in self._series.items())
        out: list[str] = []
        for labels, series in items:
            for bound, count in zip((*self.buckets, math.inf), series[:-1], strict=True):
                le = f'le="{_number(bound)}"'
                out.append(f"{self.name}_bucket{_labels(self.label_names, labels, le)} {_number(count)}")
            out.append(f"{self.name}_sum{_labels(self.label_names, labels)} {_number(series[-1])}")
            out.append(f"{self.name}_count{_labels(self.label_names, labels)} {_number(series[-2])}")
        return out


class Registry:
    def __init__(self) -> None:
        self._metrics: list[Metric] = []

    def add(self, metric: Metric) -> Metric:
        self._metrics.append(metric)
        return metric

    def render(self) -> str:
        lines: list[str] = []
        for metric in self._metrics:
            lines += metric.header() + metric.lines()
        return "\n".join(lines) + "\n"


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _resident_bytes() -> float | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


REGISTRY = Registry()
RUNNING = Gauge("chatdeck_replies_running", "Replies being generated now.")
STARTED = Counter("chatdeck_replies_started_total", "Replies started, by backend.", ["backend"])
FINISHED = Counter("chatdeck_replies_total", "Replies finished and stored, by backend and outcome "
                   "(complete, partial, cancelled, error).", ["backend", "outcome"])
TTFT = Histogram("chatdeck_time_to_first_token_seconds", "From the start of a reply to its first text or "
                 "reasoning, by backend.", ["backend"], TTFT_BUCKETS)
THROUGHPUT = Histogram("chatdeck_reply_throughput_chars_per_second", "Characters per second of a reply "
                       "from its first token to its end, by backend.", ["backend"], THROUGHPUT_BUCKETS)
STREAMED = Counter("chatdeck_streamed_chars_total", "Characters of answer and reasoning streamed, by backend.",
                   ["backend"])
SAVE_SECONDS = Histogram("chatdeck_reply_save_seconds", "Duration of the runner's saves of a reply "
                         "(partial while streaming, final at the end).", ["kind"])
SAVE_FAILURES = Counter("chatdeck_reply_save_failures_total", "Failed saves of a reply (a final one is "
                        "retried until it succeeds).", ["kind"])
DB_SECONDS = Histogram("chatdeck_database_statement_seconds", "Duration of each database statement.")
LOOP_LAG = Histogram("chatdeck_event_loop_lag_seconds", "How late a timer on an event loop fires "
                     "(runner: the generation loop; server: Streamlit's HTTP and websocket loop).", ["loop"])
LOOP_LAG_MAX = Gauge("chatdeck_event_loop_lag_max_seconds", "The largest lag of the loop over the last "
                     "ten seconds.", ["loop"])
SESSIONS = Gauge("chatdeck_websocket_sessions", "Streamlit sessions with an open websocket.")
DRAW_QUEUED = Gauge("chatdeck_draw_queued", "Script runs waiting for their turn to draw (services/draw_turns.py).")
DRAW_WAIT = Histogram("chatdeck_draw_wait_seconds", "How long a script run that had to wait for its turn "
                      "to draw waited.", (), LATENCY_BUCKETS)
CPU = Gauge("process_cpu_seconds_total", "CPU seconds (user and system) used by this process.",
            source=_cpu_seconds)
RSS = Gauge("process_resident_memory_bytes", "Resident memory of this process.", source=_resident_bytes)
for _metric in (RUNNING, STARTED, FINISHED, TTFT, THROUGHPUT, STREAMED, SAVE_SECONDS, SAVE_FAILURES,
                DB_SECONDS, LOOP_LAG, LOOP_LAG_MAX, SESSIONS, DRAW_QUEUED, DRAW_WAIT, CPU, RSS):
    REGISTRY.add(_metric)


def watch_engine(engine: Engine) -> None:
    """Time every statement ``engine`` runs (once per engine, however many runners use it)."""
    if getattr(engine, _WATCHED, False):
        return
    setattr(engine, _WATCHED, True)

    def before(conn: Any, *_: Any) -> None:
        conn.info[_STARTS] = time.perf_counter()  # statements on one connection never overlap

    def after(conn: Any, *_: Any) -> None:
        start = conn.info.pop(_STARTS, None)
        if start is not None:
            DB_SECONDS.observe(time.perf_counter() - start)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)


def reply_finished(backend: str, outcome: str, started: float, first_token: float | None,
                   finished: float | None, chars: int) -> None:
    """Record one reply, once its final save succeeded (monotonic times from runner/run.py)."""
    FINISHED.inc(backend, outcome)
    STREAMED.inc(backend, amount=chars)
    if first_token is not None:
        TTFT.observe(first_token - started, backend)
        if finished is not None and finished > first_token:
            THROUGHPUT.observe(chars / (finished - first_token), backend)


class LoopLag:
    """A task that sleeps ``interval`` seconds again and again on a loop, recording how late it wakes.

    A loop busy with other work (or blocked by a synchronous call) wakes it late: that lateness is what
    every HTTP request, websocket message and stream on that loop waits too.
    """

    def __init__(self, name: str, interval: float = 0.1, window: float = 10.0) -> None:
        self.name, self.interval, self.window = name, interval, window
        self._task: asyncio.Task[None] | None = None

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start on ``loop`` (from another thread) or, without it, on the running loop."""
        if loop is None:
            self._task = asyncio.get_running_loop().create_task(self._watch())
        else:
            loop.call_soon_threadsafe(lambda: setattr(self, "_task", loop.create_task(self._watch())))

    def stop(self) -> None:
        task = self._task
        if task is not None:
            task.get_loop().call_soon_threadsafe(task.cancel)

    async def _watch(self) -> None:
        window_start, worst = time.monotonic(), 0.0
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.interval)
            lag = max(0.0, time.monotonic() - before - self.interval)
            LOOP_LAG.observe(lag, self.name)
            worst = max(worst, lag)
            LOOP_LAG_MAX.set(worst, self.name)
            if time.monotonic() - window_start >= self.window:
                window_start, worst = time.monotonic(), 0.0


def render(extra: Iterable[Callable[[], None]] = ()) -> str:
    """The exposition text; ``extra`` callables refresh scrape-time gauges first."""
    for refresh in extra:
        refresh()
    return REGISTRY.render()
