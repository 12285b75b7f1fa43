"""A live reply's text as it arrives, for the pages to draw: coalesced, cut into blocks and pieces, made safe.

A live reply is shown by tailing its run in the generation runner: :func:`live_text` wakes as soon as
events arrive, yields the first text at once, then coalesces text for 60 ms (longer as the live text
grows), and cuts the answer into finished blocks (at blank lines outside code fences) so each websocket
update resends only the live tail, not the whole answer. For the chat page it also cuts a long paragraph
into pieces (markup/live_pieces.py), drawn as elements that flow as one paragraph (views/components.py),
so an update resends a bounded tail. This module renders nothing when imported.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import streamlit as st

from markup.live_pieces import CUT, PieceCutter
from markup.math_markdown import MathStream, math_markdown
from markup.safe_markdown import StreamNeutraliser, outside_markdown, plain
from providers.events import ReasoningDelta, TextDelta
from runner.runner import Run
from services import draw_turns

COALESCE = 0.06  # seconds of text gathered into one browser update after the first...
COALESCE_PER_CHAR = 0.00025  # ...growing with the live block, which st.write_stream resends whole,
COALESCE_MAX = 0.5  # so bytes grow with the answer, not its square (up to this pause)
COALESCE_MAX_PIECES = 0.25  # the same pause's limit where a long block is cut into pieces (each update
# resends a bounded tail, but costs ~100 bytes of its own: fewer updates in a long block keep that small)
IDLE_CHECK = 0.25  # seconds between checks for a Stop or rerun while no data arrives
COALESCE_PER_READER = 0.004  # ...and with the replies streaming at once in this process: every update costs
# its script thread a protobuf, a hash and Streamlit's global config lock, so a hundred readers updating
# every 60 ms starved the server's event loop; at 100 they update every 0.4 s (the first text at once)
BLOCK_MIN = 400  # characters a block holds before a blank line may close it

class BlockSplitter:
    """Cuts streamed markdown into blocks that can be rendered on their own.

    ``feed(text)`` returns the pieces to emit: strings, with ``None`` marking
    "the block before this is finished". Blocks end at a blank line outside a
    fenced code block, once they hold at least ``min_size`` characters.
    """

    def __init__(self, min_size: int = BLOCK_MIN) -> None:
        self.min_size = min_size
        self.block = ""

    def feed(self, text: str) -> list[str | None]:
        out: list[str | None] = []
        while text:
            cut = self._boundary(text)
            if cut is None:
                self.block += text
                out.append(text)
                break
            head, text = text[:cut], text[cut:]
            out.extend([head, None])
            self.block = ""
        return out

    def _boundary(self, text: str) -> int | None:
        """Where in ``text`` the current block may end (a blank line may straddle two feeds)."""
        combined = self.block + text
        offset = len(self.block)
        start = max(0, offset - 1)
        while (index := combined.find("\n\n", start)) != -1:
            end = index + 2
            candidate = combined[:end]
            fences = sum(1 for line in candidate.split("\n") if line.lstrip().startswith("```"))
            if fences % 2 == 0 and len(candidate) >= self.min_size:
                return end - offset
            start = index + 1
        return None


def finish_block() -> None:
    """A no-op chunk: st.write_stream closes the current element before it."""


def next_piece() -> None:
    """A no-op chunk: the next text starts a new piece of the same block (only with ``pieces=True``)."""


class _Readers:
    """How many live readers are streaming in this process now (a thread-safe count)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.count += n


_live_readers = _Readers()


def live_text(
    run: Run, reasoning_box: Any, on_first_text: Callable[[], object] = lambda: None, *, pieces: bool = False
) -> Iterator[str | Callable[[], None]]:
    """Yield a run's text for st.write_stream, from what it holds now until it finishes.

    With ``pieces`` a long paragraph is cut into pieces (:func:`next_piece` between them), for
    ``components.draw_live``; st.write_stream would draw them as separate paragraphs.
    A rewrite by the backend (``TextDelta(replace=True)``) cannot be unsent from elements
    already drawn, so it reruns the page, which starts again from the rewritten text.
    """
    _live_readers.add(1)
    try:
        yield from _live_text(run, reasoning_box, on_first_text, pieces)
    finally:
        _live_readers.add(-1)


def _live_text(
    run: Run, reasoning_box: Any, on_first_text: Callable[[], object], pieces: bool
) -> Iterator[str | Callable[[], None]]:
    seq, text_now, reasoning = run.text_so_far()
    status = run.turn.reasoning_status
    pending: list[str] = [text_now] if text_now else []
    reasoning_slot = None
    splitter = BlockSplitter()
    math = MathStream()  # \(…\) and \[…\] as Streamlit's $ math; an unfinished formula is held back
    neutraliser = StreamNeutraliser()  # the backend's text is hostile: no image or tag may form as it arrives
    cutter = PieceCutter() if pieces else None
    last_emit = 0.0
    emitted_any = False

    def drawn(text: str) -> Iterator[str | Callable[[], None]]:
        for part in cutter.feed(text) if cutter else [text]:
            if part is CUT:
                yield next_piece
            elif part:
                yield part

    while True:
        longest = COALESCE_MAX_PIECES if cutter else COALESCE_MAX
        shown = emitted_any or reasoning_slot is not None  # later updates (reasoning too) queue behind sends
        interval = min(longest, max(COALESCE, COALESCE_PER_CHAR * len(splitter.block),
                                    COALESCE_PER_READER * _live_readers.count))
        if pending:  # text waits for its update: gather what else comes until it is due, without waking per event
            with draw_turns.waiting(first=not shown):
                run.ended.wait(max(0.0, last_emit + interval - time.monotonic()))
            events, done = run.wait(seq, 0)
        else:
            with draw_turns.waiting(first=not shown):  # the first thing shown goes before other runs' turns
                events, done = run.wait(seq, IDLE_CHECK)
        seq += len(events)
        for event in events:
            if isinstance(event, TextDelta) and event.replace:
                st.rerun()
            if isinstance(event, TextDelta):
                pending.append(event.text)
            elif isinstance(event, ReasoningDelta):
                reasoning += event.text
                status = event.status or status
        if (reasoning or status) and (done or events or reasoning_slot is None):
            if reasoning_slot is None:
                with reasoning_box, st.expander("Reasoning", icon=":material/psychology:"):
                    reasoning_slot = st.empty()
            reasoning_slot.markdown(reasoning_markdown(reasoning, status, final=done))
        due = done or not emitted_any or time.monotonic() - last_emit >= interval
        if pending and due:
            if not emitted_any:
                on_first_text()
            for piece in splitter.feed("".join(pending)):
                if piece is None:
                    yield from drawn(neutraliser.feed(math.flush()) + neutraliser.flush())
                    if cutter and (held := cutter.flush()):
                        yield held
                    cutter = PieceCutter() if pieces else None
                    yield finish_block
                else:
                    yield from drawn(neutraliser.feed(math.feed(piece)))
            pending.clear()
            last_emit = time.monotonic()
            emitted_any = True
        elif not events:
            if cutter and (held := cutter.flush()):  # the backend paused: show the word held back for a cut
                yield held
            st.session_state.get("_chatdeck_tick")  # a yield point: lets Streamlit act on Stop or a rerun
        if done and not pending:
            yield from drawn(neutraliser.feed(math.flush()) + neutraliser.flush())
            if cutter and (held := cutter.flush()):
                yield held
            return


def reasoning_markdown(reasoning: str, status: str | None, *, final: bool = True) -> str:
    """The reasoning text with the backend's latest status line about it (e.g. "Done in 3s."), both made safe.

    While the reasoning still arrives (``final=False``), a formula not yet closed is left out until it is.
    """
    text = outside_markdown(math_markdown(reasoning, final=final))
    return text + (f"\n\n*{plain(status)}*" if status else "")
