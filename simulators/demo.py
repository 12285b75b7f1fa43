"""``make demo``: Chatdeck on http://127.0.0.1:8501 with simulated backends.

Serves the Ai2 Playground simulator on loopback (port 8765, or any free port if that
one is taken) and the Hugging Face (OpenAI-compatible) simulator on a free port, then
runs ``streamlit run streamlit_app.py`` pointed at them, with ``CHATDECK_DEMO=1`` (the app
says its answers are simulated) and a database of its own (``data/demo.db``, unless
``CHATDECK_DATABASE_URL`` is set). Ctrl-C stops both. HailuoAI's and HuggingChat's
simulators run on free ports as well; their demo logins are set as the server's.

    python -m simulators.demo [--port 8501] [--sim-port 8765] [--chunk-delay 0.03]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from simulators.allenai import AllenAISimulator
from simulators.hailuo import HailuoSimulator, demo_environment
from simulators.huggingchat import HuggingChatSimulator
from simulators.openai_compat import SIM_TOKEN, OpenAICompatSimulator
from simulators.serve import serve

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_DB = REPO_ROOT / "data" / "demo.db"


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # `kill <pid>` stops the demo the same way Ctrl-C does


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Chatdeck against its bundled simulators.")
    parser.add_argument("--port", type=int, default=8501, help="the app's port")
    parser.add_argument("--sim-port", type=int, default=8765, help="the simulator's port (any free one if taken)")
    parser.add_argument("--chunk-delay", type=float, default=0.03, help="seconds between streamed words")
    args = parser.parse_args(argv)

    sim = AllenAISimulator()
    sim.script.chunk_delay = args.chunk_delay
    sim.script.first_byte_delay = 0.3  # a moment of "thinking" before the answer starts

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    with contextlib.ExitStack() as stack:
        try:
            sim_url = stack.enter_context(serve(sim.app, port=args.sim_port))
        except OSError:  # the port is taken: any free one will do
            sim_url = stack.enter_context(serve(sim.app))
        hailuo = HailuoSimulator()  # HailuoAI, on any free port, with the login it accepts
        hailuo.script.chunk_delay = args.chunk_delay
        hailuo_url = stack.enter_context(serve(hailuo.app))
        huggingchat = HuggingChatSimulator()  # HuggingChat, on any free port; its demo cookies are the server's login
        huggingchat.script.chunk_delay = args.chunk_delay
        huggingchat_url = stack.enter_context(serve(huggingchat.app)) + "/chat"
        hf = OpenAICompatSimulator()  # Hugging Face Inference (OpenAI-compatible), on any free port
        hf.script.chunk_delay = args.chunk_delay
        hf_url = stack.enter_context(serve(hf.app)) + "/v1"
        env = {
            **os.environ,
            "CHATDECK_ALLENAI_URL": sim_url,
            **demo_environment(hailuo_url),
            "CHATDECK_HF_URL": hf_url,
            "CHATDECK_HF_KIND": "huggingface",  # the simulator stands for Hugging Face's router
            "CHATDECK_HUGGINGCHAT_URL": huggingchat_url,
            "CHATDECK_HUGGINGCHAT_COOKIES": huggingchat.cookie_header(),
            "HF_TOKEN": SIM_TOKEN,
            "CHATDECK_DEMO": "1",
            "CHATDECK_DATABASE_URL": os.environ.get("CHATDECK_DATABASE_URL") or f"sqlite:///{DEMO_DB}",
        }
        DEMO_DB.parent.mkdir(exist_ok=True)
        command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py"]
        command += ["--server.port", str(args.port), "--server.address", "127.0.0.1"]
        print(f"Hugging Face simulator on {hf_url}")
        print(f"HuggingChat simulator on {huggingchat_url} (its demo cookies are the server's HuggingChat login)")
        print(f"HailuoAI simulator on {hailuo_url} (its demo login is the server's HailuoAI login)")
        print(f"Ai2 Playground simulator on {sim_url}; Chatdeck on http://127.0.0.1:{args.port} (Ctrl-C stops both)")
        # Its own process group: Ctrl-C reaches only us, and we pass it on once (below).
        app = subprocess.Popen(command, cwd=REPO_ROOT, env=env, start_new_session=True)  # noqa: S603
        try:
            code = app.wait()
            print(f"Streamlit exited by itself (exit code {code}); stopping the simulator.")
            return code
        except KeyboardInterrupt:
            print("\nStopping the demo…")
            return 0
        finally:
            _stop(app)


def _stop(app: subprocess.Popen[bytes]) -> None:
    """Ask Streamlit to stop as Ctrl-C would (running replies are saved), then insist."""
    if app.poll() is None:
        app.send_signal(signal.SIGINT)
    try:
        app.wait(timeout=10)
    except subprocess.TimeoutExpired:
        app.kill()
        app.wait()


if __name__ == "__main__":
    sys.exit(main())
