"""The "Clicks" figure of issue 16: ``python -m bench.clicks`` prints the CPU cost of one widget click.

A click reruns the whole script, so its cost is the script's. One invocation measures two pages under
Streamlit's ``AppTest`` (the same script runner the server uses, without the websocket), both on the
same conversation of :data:`MESSAGES` stored messages in a fresh SQLite file:

* Chatdeck's chat page with that conversation open (``?c=``), through the router;
* a minimal Streamlit page with the same widgets (see :func:`minimal_page`) drawing the same messages
  and captions, read with plain ``sqlite3`` queries on every rerun, as a plain app would.

Each click moves the temperature slider one step (0.70 <-> 0.65), a whole rerun; the figure is the
median CPU time of the script runs of :data:`CLICKS` clicks after :data:`WARMUP` (so first-run imports
and caches are not counted), the two pages clicked in turn (a machine whose speed drifts changes both
alike), measured in the script's thread (what the server's script thread spends),
and the ratio chat page / minimal page (target: 1.3). The whole process's CPU is printed too: it adds
AppTest's reading of the element tree, which the server does not do. CPU time rather than wall time, so
a machine shared with other work changes the figures less. The browser's own work (drawing) is not
counted; ``bench.rerun`` measures reruns in chromium. ``--profile FILE`` writes a cProfile of
the chat page's clicks.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from streamlit.runtime.scriptrunner.script_cache import ScriptCache
from streamlit.runtime.scriptrunner.script_runner import ScriptRunner
from streamlit.testing.v1 import AppTest, app_test, local_script_runner

from bench.rerun import build_database
from bench.texts import CODE, SENTENCES
from simulators.allenai import AllenAISimulator
from simulators.serve import serve

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "streamlit_app.py")
MESSAGES = 20
CLICKS = 30
WARMUP = 5
TARGET = 1.3


def minimal_page(database: str, conversation_id: str, keys_assets: str) -> None:
    """What a plain Streamlit app with the chat page's widgets and messages does on a rerun: the same
    widgets in the same places (sidebar pickers, sliders, system prompt, presets form, library with the
    open conversation's menu and exports, shortcuts, Share, a copy button per message, the chat input)."""
    import sqlite3

    import streamlit as st
    import streamlit.components.v1 as components

    with sqlite3.connect(database) as db:
        listed = db.execute("SELECT id, title FROM conversations ORDER BY updated_at DESC LIMIT 50").fetchall()
        title = db.execute("SELECT title FROM conversations WHERE id = ?", (conversation_id,)).fetchone()[0]
        rows = db.execute("SELECT id, role, content, model FROM messages WHERE conversation_id = ? "
                          "ORDER BY created_at", (conversation_id,)).fetchall()
    sidebar = st.sidebar
    sidebar.selectbox("Backend", ["allenai", "huggingface", "huggingchat", "hailuo"], key="provider")
    sidebar.selectbox("Model", ["olmo-3.1-32b-instruct", "olmo-3-7b"], key="model")
    with sidebar.expander("Sampling"):
        st.slider("Temperature", 0.0, 1.0, 0.7, 0.05, key="temperature")
        st.slider("Top p", 0.05, 1.0, 1.0, 0.05, key="top_p")
    with sidebar.expander("System prompt"):
        st.markdown(":gray[How this backend receives it.]")
        st.text_area("System prompt of this conversation", key="system_prompt")
    with sidebar.expander("Presets"), st.form("save_preset", border=False):
        st.markdown(":gray[No presets yet.]")
        st.text_input("Preset name")
        st.checkbox("For the whole team")
        st.form_submit_button("Save as preset")
    sidebar.button("New chat", key="new_chat")
    sidebar.text_input("Search conversations", key="library_search")
    sidebar.toggle("Show archived", key="show_archived")
    sidebar.caption("Today")
    for cid, name in listed:
        if cid != conversation_id:
            sidebar.button(name, key=f"conv_{cid}")
            continue
        left, right = sidebar.columns([6, 1])
        left.button(name, key=f"conv_{cid}", type="primary")
        with right.popover("", icon=":material/more_vert:"):
            for action in ("Rename", "Pin", "Archive", "Delete"):
                st.button(action, key=f"{action}_{cid}")
            st.checkbox("Include reasoning", key=f"reasoning_{cid}")
            st.download_button("Export as Markdown", lambda: "", file_name="c.md", on_click="ignore")
            st.download_button("Export as JSON", lambda: "", file_name="c.json", on_click="ignore")
    with sidebar.popover("Keyboard shortcuts"):
        st.markdown("- **Alt + N**: New chat")
    with sidebar:  # the chat page's keyboard component, as a plain app would declare it
        keys = components.declare_component("chatdeck_keys", path=keys_assets)
        keys(last_answer=rows[-1][2] if rows else "", key="chatdeck_keys", default=None)
    st.chat_input("Message…", key="prompt")
    st.subheader(title, anchor=False)
    st.button("Share", key="share")
    for i, (message_id, role, content, model) in enumerate(rows):
        with st.chat_message(role):
            st.markdown(content)
            st.button("", icon=":material/content_copy:", key=f"copy_{message_id}")
            if i >= len(rows) - 2:  # the last turn: edit the prompt, regenerate the reply
                st.button("", icon=":material/edit:" if role == "user" else ":material/refresh:", key=f"last_{i}")
            if role == "assistant":
                st.caption(model)


def click(at: AppTest, i: int, runs: list[float]) -> tuple[float, float]:
    """Move the temperature slider one step and rerun: (CPU seconds of the script runs it caused, CPU
    seconds of the whole process meanwhile, AppTest's own reading of the elements included)."""
    slider = at.slider(key="temperature")
    runs.clear()
    started = time.process_time()
    slider.set_value(0.65 if i % 2 == 0 else 0.7).run()
    process = time.process_time() - started
    if at.exception:
        raise RuntimeError(f"the page failed: {at.exception[0].message}")
    return sum(runs), process


def measure(pages: dict[str, AppTest], clicks: int, warmup: int,
            profile: cProfile.Profile | None = None) -> dict[str, tuple[float, float]]:
    """Median CPU milliseconds (script runs, whole process) of ``clicks`` clicks on each of ``pages`` (each run
    once already), after ``warmup`` clicks. The pages take turns, a click each, so a machine whose speed
    drifts (a shared host) changes both alike and the ratio holds. ``profile``: the first page's clicks."""
    runs: list[float] = []
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in pages}
    profiled = [False]
    with _timed_scripts(runs, profile, profiled):
        for i in range(warmup + clicks):
            for n, (name, at) in enumerate(pages.items()):
                profiled[0] = n == 0 and i >= warmup
                figure = click(at, i, runs)
                if i >= warmup:
                    times[name].append(figure)
    return {name: (statistics.median(t[0] for t in figures) * 1000, statistics.median(t[1] for t in figures) * 1000)
            for name, figures in times.items()}


@contextmanager
def _timed_scripts(runs: list[float], profile: cProfile.Profile | None, profiled: list[bool]) -> Iterator[None]:
    """Time (and, while ``profiled[0]``, profile) every script run meanwhile in its own thread: the CPU the
    server's script thread spends on a rerun (cProfile and ``process_time`` in this thread cannot follow it)."""
    original = ScriptRunner._run_script

    def timed(runner: ScriptRunner, request: Any) -> None:
        started = time.thread_time()
        on = profile is not None and profiled[0]
        if on and profile is not None:
            profile.enable()
        try:
            original(runner, request)
        finally:
            if on and profile is not None:
                profile.disable()
            runs.append(time.thread_time() - started)

    ScriptRunner._run_script = timed  # type: ignore[assignment]  # a bench's timing wrapper
    try:
        yield
    finally:
        ScriptRunner._run_script = original  # type: ignore[method-assign]


def chat_page(cid: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["c"] = cid
    return at


def lengthen(database: Path, paragraphs: int) -> None:
    """Make every stored message ``paragraphs`` paragraphs of markdown with inline math, bold and a link,
    and a code block (about 650 characters a paragraph): long answers, as models write them."""
    paragraph = " ".join(SENTENCES[:6]) + " With $x^2 + y_i$, **bold** and [a link](https://example.com/a)."
    with sqlite3.connect(database) as db:
        for (message_id,) in db.execute("SELECT id FROM messages").fetchall():
            text = "\n\n".join(f"{message_id}.{k} {paragraph}" for k in range(paragraphs)) + "\n\n" + CODE
            db.execute("UPDATE messages SET content = ?, chars = ? WHERE id = ?", (text, len(text), message_id))


def run(messages: int, clicks: int, warmup: int, profile_to: Path | None,
        paragraphs: int = 0) -> dict[str, tuple[float, float]]:
    sim = AllenAISimulator()
    with serve(sim.app) as sim_url, tempfile.TemporaryDirectory(prefix="chatdeck-clicks-") as tmp:
        database = Path(tmp) / "clicks.db"
        cid = build_database(database, messages)
        if paragraphs:
            lengthen(database, paragraphs)
        os.environ.update({"CHATDECK_DATABASE_URL": f"sqlite:///{database}", "CHATDECK_ALLENAI_URL": sim_url})
        for name in ("CHATDECK_HUGGINGCHAT_URL", "CHATDECK_HAILUO_URL", "CHATDECK_HF_URL"):
            os.environ.setdefault(name, "http://127.0.0.1:9")  # never the internet
        _as_in_the_server()
        pages: list[tuple[str, Callable[[], AppTest]]] = [
            ("chat page", lambda: chat_page(cid)),
            ("minimal page", lambda: AppTest.from_function(
                minimal_page, args=(str(database), cid, str(ROOT / "assets" / "keyboard")), default_timeout=120)),
        ]
        apps: dict[str, AppTest] = {}
        for name, make in pages:
            at = apps[name] = make()
            at.run()
            if at.exception:
                raise RuntimeError(f"{name} failed: {at.exception[0].message}")
        profile = cProfile.Profile() if profile_to else None
        figures = measure(apps, clicks, warmup, profile)
        for name, at in apps.items():
            script, process = figures[name]
            print(f"  {name}: {len(at.chat_message)} messages drawn; CPU per click (median of {clicks}, the pages "
                  f"in turn): script run {script:.1f} ms, whole process {process:.1f} ms", flush=True)
        if profile is not None and profile_to is not None:
            profile.dump_stats(str(profile_to))
            pstats.Stats(str(profile_to)).sort_stats("cumulative").print_stats(60)
        _check_same_messages(database, cid)
        return figures


def _as_in_the_server() -> None:
    """AppTest compiles the script again on every run, which the server does once (it keeps one
    compiled-script cache): that would otherwise be counted in each chat-page click."""
    shared = ScriptCache()
    app_test.ScriptCache = lambda: shared  # type: ignore[misc,assignment]  # one cache, as in the server
    local_script_runner.ScriptCache = lambda: shared  # type: ignore[misc,assignment]


def _check_same_messages(database: Path, cid: str) -> None:
    with sqlite3.connect(database) as db:
        (count,) = db.execute("SELECT count(*) FROM messages WHERE conversation_id = ?", (cid,)).fetchone()
    if count == 0:
        raise RuntimeError("the conversation has no messages")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--clicks", type=int, default=CLICKS)
    parser.add_argument("--warmup", type=int, default=WARMUP)
    parser.add_argument("--paragraphs", type=int, default=0,
                        help="make every message this many paragraphs with math and a code block (default: "
                             "bench.rerun's ~400 characters)")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the chat page's clicks here")
    args = parser.parse_args()
    figures = run(args.messages, args.clicks, args.warmup, args.profile, args.paragraphs)
    (chat, chat_all), (minimal, minimal_all) = figures["chat page"], figures["minimal page"]
    print(f"script run: chat page {chat:.1f} ms, minimal page {minimal:.1f} ms: {chat / minimal:.2f}x "
          f"(target {TARGET}x: {'met' if chat / minimal <= TARGET else 'missed'})")
    print(f"whole process, AppTest's reading included: {chat_all:.1f} ms vs {minimal_all:.1f} ms: "
          f"{chat_all / minimal_all:.2f}x")


if __name__ == "__main__":
    main()
