"""Run an ASGI app (a simulator) with uvicorn on loopback: in a background thread for tests,
or in the foreground for ``make demo`` and benchmarks."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

ABRUPT_CLOSE_LOG = "ASGI callable returned without completing response"


class _QuietAbruptClose(logging.Filter):
    """Simulators cut streams on purpose (fault injection); uvicorn logs that as an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(ABRUPT_CLOSE_LOG)


def quiet_abrupt_closes() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietAbruptClose) for f in logger.filters):
        logger.addFilter(_QuietAbruptClose())


def _config(app: Any, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http="h11",
        ws="none",
        lifespan="off",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=1,
    )


@contextmanager
def serve(app: Any, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning") -> Iterator[str]:
    """Serve ``app`` on ``host`` (a free port unless given) in a daemon thread; yield its base URL.

    Returns once the server accepts connections; shuts it down on exit.
    """
    quiet_abrupt_closes()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    port = sock.getsockname()[1]
    server = uvicorn.Server(_config(app, host, port, log_level))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"sim-{port}", daemon=True)
    thread.start()
    try:
        _wait_until_up(server, thread, host, port)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


def _wait_until_up(server: uvicorn.Server, thread: threading.Thread, host: str, port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError(f"simulator on {host}:{port} failed to start")
        if server.started:
            try:
                socket.create_connection((host, port), timeout=1).close()
                return
            except OSError:
                pass
        time.sleep(0.005)
    raise RuntimeError(f"simulator on {host}:{port} did not start within 10 s")


def run_forever(app: Any, *, host: str = "127.0.0.1", port: int = 8765, log_level: str = "info") -> None:
    """Serve ``app`` in the foreground until interrupted (standalone simulators)."""
    quiet_abrupt_closes()
    uvicorn.Server(_config(app, host, port, log_level)).run()
