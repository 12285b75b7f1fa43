"""Many chats at once against one app process: ``python -m bench.load --chats 100 [--database postgres]``.

Protocol level, no browser: each chat is a Streamlit session on the app's websocket (bench/st_client.py),
signed in as its own user through the trusted header (a team server: no one user's rate limit applies),
that opens the chat page and sends one prompt; the Ai2 simulator (bench/load_sims.py, a process of its
own) answers each with a ~2 KB markdown answer in pieces. The app is ``streamlit run streamlit_app.py``
on a fresh database (SQLite file or a temporary PostgreSQL schema). In one invocation it runs a warm-up
chat, the baseline (``--baseline`` chats, default 1), then ``--chats`` at once, and prints for each:

* time to first token (the answer's first word on the websocket after the prompt was sent), median and
  p95, and the same minus the simulator's first-byte delay (what the app adds);
* time to the answer's last word, median and p95, and p95 against the baseline's median;
* errors (no answer within ``--timeout``, an exception drawn) and replies lost (not stored complete
  with the exact answer once the run is over);
* the worst ``GET /_stcore/health`` and ``GET /api/health`` latency while the chats ran (a thread
  asking both every 50 ms);
* the app's CPU-seconds per streamed KB (less what it spends idle with the sessions open and the health
  probe asking, measured for 3 s before the chats start), websocket bytes per answer byte, and the app's memory per idle
  session (its resident memory after the sessions opened, less before, over their number).

Bounded: at most ``--chats`` sessions (capped at 300), each chat waits at most ``--timeout`` seconds.
Everything is on loopback. The figures are only as quiet as the machine: say so with them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from bench.browser import _wait_healthy, free_port
from bench.load_sims import answer
from bench.st_client import StreamlitSession
from storage.db import make_engine
from storage.models import Message

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "out"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MAX_CHATS = 300
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
IDLE_SAMPLE = 3.0  # seconds of idle CPU measured before each level, taken off its CPU figure


@dataclass
class Level:
    chats: int
    ttft: list[float] = field(default_factory=list)
    finish: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lost: int = 0
    health_worst: dict[str, float] = field(default_factory=dict)
    health_failures: int = 0
    cpu_seconds: float = 0.0
    answer_bytes: int = 0
    ws_bytes: int = 0
    rss_per_session: float = 0.0


# --- the processes ----------------------------------------------------------------------------------------

@contextlib.contextmanager
def simulators(args: argparse.Namespace) -> Iterator[dict[str, str]]:
    command = [sys.executable, "-m", "bench.load_sims", "--answer-bytes", str(args.answer_bytes),
               "--chunks", str(args.chunks), "--chunk-delay", str(args.chunk_delay),
               "--first-byte-delay", str(args.first_byte_delay)]
    process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # noqa: S603
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh database URL: an SQLite file in bench/out, or a temporary schema in PostgreSQL's ``test``."""
    if kind == "sqlite":
        OUT.mkdir(exist_ok=True)
        path = OUT / f"load-{uuid.uuid4().hex[:8]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{path}{suffix}").unlink()
        return
    import psycopg

    schema = f"bench_load_{uuid.uuid4().hex[:8]}"
    admin_url = POSTGRES_URL.replace("+psycopg", "")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@contextlib.contextmanager
def app(env: dict[str, str], database_url: str, profile: Path | None = None) -> Iterator[tuple[str, int]]:
    """``streamlit run streamlit_app.py`` on a free loopback port (a team server); yields (URL, pid)."""
    port = free_port()
    full_env = {**os.environ, **env, "CHATDECK_DATABASE_URL": database_url,
                "CHATDECK_TRUSTED_HEADER": "X-Forwarded-Email", "CHATDECK_ALLOWED_USERS": "example.com"}
    full_env.pop("CHATDECK_DEMO", None)
    OUT.mkdir(exist_ok=True)
    log_path = OUT / "load-app.log"
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"), "--server.port",
               str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
               "--browser.gatherUsageStats", "false"]
    if profile is not None:  # the same process, sampled (bench/sampler.py)
        command[1:1] = ["-m", "bench.sampler", str(profile), "--"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log_path)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime and stime


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


# --- health while loaded ----------------------------------------------------------------------------------

class HealthProbe:
    """A thread asking ``/_stcore/health`` and ``/api/health`` every 50 ms; keeps the worst latency of each."""

    PATHS = ("/_stcore/health", "/api/health")

    def __init__(self, url: str) -> None:
        self.url = url
        self.worst = dict.fromkeys(self.PATHS, 0.0)
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def reset(self) -> None:
        self.worst = dict.fromkeys(self.PATHS, 0.0)
        self.failures = 0

    def _run(self) -> None:
        with httpx.Client(timeout=60, trust_env=False) as client:
            while not self._stop.is_set():
                for path in self.PATHS:
                    started = time.monotonic()
                    try:
                        ok = client.get(self.url + path).status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    self.worst[path] = max(self.worst[path], time.monotonic() - started)
                    self.failures += not ok
                self._stop.wait(0.05)


# --- one level --------------------------------------------------------------------------------------------

class Counter:
    def __init__(self) -> None:
        self.n = 0

    def next(self) -> int:
        self.n += 1
        return self.n


async def chat(session: StreamlitSession, n: int, args: argparse.Namespace, level: Level,
               start: asyncio.Event) -> None:
    first, last = session.watch(f"Begin{n}x"), session.watch(f"End{n}x")
    await start.wait()
    bytes_before, sent = session.bytes_received, time.monotonic()
    try:
        await session.send_chat(f"Tell me about load chat {n}")
        await asyncio.wait_for(last.event.wait(), args.timeout)
    except (TimeoutError, OSError, RuntimeError) as exc:
        seen = "first word seen" if first.at is not None else "nothing seen"
        level.errors.append(f"chat {n}: {type(exc).__name__} {exc} ({seen}; connection: {session.ended or 'open'})")
        return
    if session.exceptions:
        level.errors.append(f"chat {n}: the page drew an exception: {session.exceptions[0][:80]}")
    assert first.at is not None and last.at is not None
    level.ttft.append(first.at - sent)
    level.finish.append(last.at - sent)
    level.ws_bytes += session.bytes_received - bytes_before
    level.answer_bytes += len(answer(n, args.answer_bytes).encode())


async def run_level(url: str, pid: int, chats: int, args: argparse.Namespace, numbers: Counter,
                    database_url: str) -> Level:
    level = Level(chats)
    run_id = uuid.uuid4().hex[:6]
    sessions = [StreamlitSession(url, {"X-Forwarded-Email": f"load-{run_id}-{i}@example.com"}) for i in range(chats)]
    rss_before = rss_bytes(pid)
    gate = asyncio.Semaphore(20)  # browsers opening tabs, not a connect storm

    async def open_one(session: StreamlitSession) -> None:
        async with gate:
            await session.open(args.timeout)

    await asyncio.gather(*(open_one(s) for s in sessions))
    level.rss_per_session = (rss_bytes(pid) - rss_before) / chats
    numbers_used = [numbers.next() for _ in sessions]
    start = asyncio.Event()
    tasks = [asyncio.create_task(chat(s, n, args, level, start)) for s, n in zip(sessions, numbers_used, strict=True)]
    with HealthProbe(url) as probe:
        idle_before, idle_started = cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(IDLE_SAMPLE)  # the app's CPU with the sessions open, idle, and the probe asking
        idle_rate = (cpu_seconds(pid) - idle_before) / (time.monotonic() - idle_started)
        probe.reset()
        cpu_before, started = cpu_seconds(pid), time.monotonic()
        start.set()
        await asyncio.gather(*tasks)
        level.lost = await asyncio.to_thread(count_lost, database_url, numbers_used, args.answer_bytes)
        level.cpu_seconds = cpu_seconds(pid) - cpu_before - idle_rate * (time.monotonic() - started)
    level.health_worst, level.health_failures = dict(probe.worst), probe.failures
    await asyncio.gather(*(s.close() for s in sessions))
    return level


def count_lost(database_url: str, numbers: list[int], size: int, patience: float = 60.0) -> int:
    """Replies not stored complete with their exact answer (waiting up to ``patience`` s for final saves)."""
    engine = make_engine(database_url)
    try:
        deadline = time.monotonic() + patience
        while True:
            with engine.connect() as connection:
                rows = connection.execute(select(Message.content, Message.status).where(
                    Message.role == "assistant")).all()
            stored = {content for content, status in rows if status == "complete"}
            lost = sum(1 for n in numbers if answer(n, size) not in stored)
            streaming = sum(1 for _, status in rows if status == "streaming")
            if not lost or (not streaming and time.monotonic() > deadline - patience + 5) or \
                    time.monotonic() > deadline:
                return lost
            time.sleep(0.5)
    finally:
        engine.dispose()


# --- report -----------------------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(level: Level, base: Level, args: argparse.Namespace) -> dict[str, Any]:
    kb = level.answer_bytes / 1024 or float("nan")
    alone = statistics.median(base.finish) if base.finish else float("nan")
    ttft_median = statistics.median(level.ttft) if level.ttft else float("nan")
    return {
        "chats": level.chats,
        "ttft_median_s": ttft_median,
        "ttft_p95_s": pct(level.ttft, 0.95),
        "ttft_after_backend_first_byte_s": ttft_median - args.first_byte_delay,
        "finish_median_s": statistics.median(level.finish) if level.finish else float("nan"),
        "finish_p95_s": pct(level.finish, 0.95),
        "finish_p95_vs_alone": pct(level.finish, 0.95) / alone,
        "errors": len(level.errors),
        "lost": level.lost,
        "worst_stcore_health_s": level.health_worst.get("/_stcore/health", float("nan")),
        "worst_api_health_s": level.health_worst.get("/api/health", float("nan")),
        "health_failures": level.health_failures,
        "cpu_s_per_kb": level.cpu_seconds / kb,
        "ws_bytes_per_answer_byte": level.ws_bytes / (level.answer_bytes or float("nan")),
        "rss_per_idle_session_kib": level.rss_per_session / 1024,
    }


def deciles(values: list[float]) -> str:
    return " ".join(f"{pct(values, q / 10):.1f}" for q in range(11))


def table(rows: list[dict[str, Any]]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---:|" * len(keys)]
    for r in rows:
        lines.append("| " + " | ".join(f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k]) for k in keys) + " |")
    return "\n".join(lines)


def ratios(loaded: dict[str, Any], base: dict[str, Any]) -> list[str]:
    out = []
    for key in ("ttft_median_s", "finish_p95_s", "worst_stcore_health_s", "worst_api_health_s", "cpu_s_per_kb",
                "ws_bytes_per_answer_byte"):
        if base[key] and base[key] == base[key]:
            out.append(f"{key}: {loaded[key]:.3f} vs {base[key]:.3f} alone = {loaded[key] / base[key]:.2f}x")
    return out


async def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    with database(args.database) as database_url, simulators(args) as env, \
            app(env, database_url, args.profile) as (url, pid):
        numbers = Counter()
        await run_level(url, pid, 1, args, numbers, database_url)  # warm-up: imports, model lists, connections
        base = await run_level(url, pid, args.baseline, args, numbers, database_url)
        loaded = await run_level(url, pid, args.chats, args, numbers, database_url)
        for level in (base, loaded):
            for error in level.errors[:5]:
                print("error:", error)
        if loaded.ttft:  # the shape: a clump (many first words at one moment) is a stall, a ramp is a queue
            print("first word, s after sending, at every 10th percentile:", deciles(loaded.ttft))
            print("last word, s after sending, at every 10th percentile:", deciles(loaded.finish))
        return [row(base, base, args), row(loaded, base, args)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Many concurrent chats against one Chatdeck process.")
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--baseline", type=int, default=1, help="chats at once in the baseline run")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--answer-bytes", type=int, default=2000)
    parser.add_argument("--chunks", type=int, default=150)
    parser.add_argument("--chunk-delay", type=float, default=0.03)
    parser.add_argument("--first-byte-delay", type=float, default=0.3)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds a chat may take at most")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--profile", type=Path, help="sample the app's stacks (bench/sampler.py) into this file")
    args = parser.parse_args(argv)
    args.chats = max(1, min(args.chats, MAX_CHATS))
    rows = asyncio.run(measure(args))
    print(f"{args.database}, {args.chats} chats at once vs {args.baseline} alone; ~{args.answer_bytes} B answers "
          f"in {args.chunks} pieces {args.chunk_delay * 1000:.0f} ms apart after {args.first_byte_delay} s")
    print(table(rows))
    print("\n".join(ratios(rows[1], rows[0])))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
