"""Rendering shared by the pages: one message (text, reasoning, sources, status), live or stored.

A live reply's text comes from views/live_text.py (coalesced, cut into blocks and pieces, made safe);
:func:`draw_live` draws it, each long paragraph as pieces that flow as one. A stored message is drawn
from its text, once transformed per text (markup/text_cache.py). This module renders nothing when imported.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import nullcontext
from types import SimpleNamespace
from typing import Any, NoReturn

import streamlit as st

from markup import text_cache
from markup.math_markdown import math_markdown
from markup.safe_markdown import outside_markdown, plain, source_link
from markup.text_cache import TextCache
from providers import registry
from runner.accumulator import CANCELLED, COMPLETE, ERROR, PARTIAL, STREAMING, UNREADABLE
from runner.runner import Run
from services import draw_turns
from views import stored_images
from views.live_text import BlockSplitter, finish_block, live_text, next_piece, reasoning_markdown

LIVE_KEY = "chatdeck-live"  # the key (st-key-… class) of a live block's container, which the CSS below lets flow
# A live block is a container of pieces (markdown elements): made to flow as one paragraph, each piece's last
# paragraph and the next one's first are inline, a space between them (the cut fell on a space, which
# markdown drops at the end of an element). Only live blocks: the stored answer is one element per block.
LIVE_CSS = f"""<style>
[class*="st-key-{LIVE_KEY}-"] {{ display: block !important; }}
[class*="st-key-{LIVE_KEY}-"] > [data-testid="stElementContainer"],
[class*="st-key-{LIVE_KEY}-"] > [data-testid="stElementContainer"] [data-testid="stMarkdown"],
[class*="st-key-{LIVE_KEY}-"] > [data-testid="stElementContainer"] [data-testid="stMarkdown"] > div,
[class*="st-key-{LIVE_KEY}-"] [data-testid="stMarkdownContainer"] {{ display: contents !important; }}
[class*="st-key-{LIVE_KEY}-"] > [data-testid="stElementContainer"]:not(:last-child)
  [data-testid="stMarkdownContainer"] > p:last-child,
[class*="st-key-{LIVE_KEY}-"] > [data-testid="stElementContainer"] + [data-testid="stElementContainer"]
  [data-testid="stMarkdownContainer"] > p:first-child {{ display: inline !important; }}
[class*="st-key-{LIVE_KEY}-"] > [data-testid="stElementContainer"]:not(:last-child)
  [data-testid="stMarkdownContainer"] > p:last-child::after {{ content: " "; }}
</style>"""


def block_markdown(text: str) -> str:
    """Stored answer text as drawn: math in Streamlit's notation, then made safe (safe_markdown runs last)."""
    return outside_markdown(math_markdown(text))


def message_caption(message: Any) -> str:
    parts = []
    if message.model:
        parts.append(plain(message.model))  # a model id comes from the backend or the URL
    if message.ttft_ms is not None:
        parts.append(f"first token {message.ttft_ms / 1000:.1f} s")
    if message.total_ms is not None:
        parts.append(f"{message.total_ms / 1000:.1f} s")
    return " · ".join(parts)


def _backend_label(name: str | None) -> str:
    backends = registry.all_backends()  # built-in and custom endpoints
    if name and name in backends:
        return backends[name].display_name
    return name or "The backend"


def render_status(message: Any) -> None:
    """The line under a reply that did not complete normally."""
    unreadable = (getattr(message, "extra", None) or {}).get("unreadable")
    if message.status == COMPLETE and message.finish_reason != "length" and not unreadable:
        return  # most messages on a rerun: nothing to say
    label = plain(_backend_label(message.provider))  # custom endpoints are named by an admin
    error = plain(message.error, one_line=False)  # the backend's own words: shown, never formatted
    kept = " The partial answer is kept above." if message.content else ""
    if message.status == ERROR:
        shown = error or "the reply failed."
        named = "" if shown.startswith(label) else f"**{label}:** "  # never "X: X is unreachable"
        st.error(f"{named}{shown}{kept}", icon=":material/error:")
    elif message.status == CANCELLED:
        st.warning(f"Stopped.{kept}", icon=":material/stop_circle:")
    elif message.status == PARTIAL:
        st.warning(f"{error or 'Interrupted.'}{kept}", icon=":material/warning:")
    elif message.status == STREAMING:
        st.info("This reply is still being written by another server process.", icon=":material/hourglass:")
    elif message.finish_reason == "length":  # the backend's limit, or this server's cap (runner/bounds.py)
        st.caption(f":material/content_cut: {message.error or 'The answer reached the length limit.'}")
    if unreadable:  # lines of the answer Chatdeck could not read (runner/accumulator.py)
        st.caption(f":material/warning: {unreadable.get('note') or UNREADABLE}")


def split_blocks(text: str) -> list[str]:
    """A finished text cut into the same blocks its live rendering produced."""
    blocks, current = [], ""
    for piece in BlockSplitter().feed(text):
        if piece is None:
            blocks.append(current)
            current = ""
        else:
            current += piece
    return [*blocks, current] if current else blocks


def _drawn_blocks(text: str) -> list[str]:
    return [block_markdown(block) for block in split_blocks(text)]


# A stored text as drawn: its blocks, each as passed to st.markdown. Pure, so remembered process-wide
# (markup/text_cache.py): a rerun redraws every message on screen, mostly unchanged. The two memories below
# share the one budget, so the process holds no more than it did with one.
stored_blocks = TextCache(_drawn_blocks, budget=text_cache.BUDGET // 2)
_stored_whole = TextCache(lambda text: (block_markdown(text),), budget=text_cache.BUDGET // 2)


def stored_markdown(text: str) -> str:
    """A stored text drawn whole, as one element: a message this session did not draw live (most, on a
    rerun). Made safe as a whole, so nothing that spans its blocks (a reference link, say) escapes the checks."""
    return _stored_whole(text)[0]


# Stored and live messages are drawn with the same element layout (reasoning box, waiting line,
# one element per text block, one footer container). When a rerun redraws a reply that was live
# as a stored one, every element then lands where its predecessor was, so no stale copy of the
# old layout lingers on screen while the next reply streams.


LIVE_DRAWN = "_chatdeck_live_drawn"  # session state: ids of the messages this session has drawn live
REDRAW = "_chatdeck_redraw"  # session state: the next run redraws finished replies (it can wait: draw_turns)


def redraw_finished() -> NoReturn:
    """Rerun the page to draw the replies that finished in this run as stored, with their buttons.

    Their text is on screen already, so that rerun takes its turn to draw after everything else
    waiting (``draw_turns.turn(later=True)``, see :func:`wants_redraw`).
    """
    st.session_state[REDRAW] = True
    st.rerun()


def wants_redraw() -> bool:
    """Whether this run is the redraw :func:`redraw_finished` asked for (asked once: the flag is cleared)."""
    return bool(st.session_state.pop(REDRAW, False))


def drawn_live() -> Collection[int]:
    """The ids of the messages this session has drawn live (read once per run by a page of many messages)."""
    drawn: Collection[int] = st.session_state.get(LIVE_DRAWN, ())
    return drawn


def render_stored(message: Any, actions: Callable[[], Any] | None = None, *,
                  live: Collection[int] | None = None) -> Any:
    """A stored message, with its reasoning, attachments, sources, status and ``actions`` (buttons); returns
    what ``actions`` returned. ``live``: :func:`drawn_live` (read here if not given).

    A message this session drew live keeps the live layout's two slots (reasoning box, waiting line) and its
    footer container and its text's blocks, so each element of its stored redraw lands where its live one
    was; the others (most, on a rerun) skip them and draw their text as one element: fewer to send and draw.
    """
    with st.chat_message(message.role):
        was_live = getattr(message, "id", None) in (drawn_live() if live is None else live)
        reasoning_box = st.container() if was_live else None
        status = (getattr(message, "extra", None) or {}).get("reasoning_status")
        if message.reasoning or status:
            with reasoning_box or nullcontext(), st.expander("Reasoning", icon=":material/psychology:"):
                st.markdown(reasoning_markdown(message.reasoning or "", status))
        if was_live:
            st.empty()  # where a live reply shows its waiting line
        for attachment in message.attachments or []:
            name = plain(attachment.get("name") or "attachment")
            stored_images.draw(attachment, caption=name if attachment.get("name") else None, name=name,
                               width=320, missing=f":material/attach_file: {name}")
        if was_live:  # block by block, as it streamed
            for block in stored_blocks(message.content or ""):
                st.markdown(block)
        elif message.content:
            st.markdown(stored_markdown(message.content))
        with st.container() if was_live else nullcontext():  # the live layout's footer container
            _footer(message)
            return actions() if actions is not None else None


def render_live(message: Any, run: Run) -> Any:
    """A reply still being generated: stream it, then show how it ended. Returns the footer's container,
    where the page adds the buttons of a stored reply once it is saved (:func:`render_stored` draws them there)."""
    drawn = st.session_state.setdefault(LIVE_DRAWN, set())
    drawn.add(run.message_id)  # from now on drawn in the live layout, also once stored (render_stored)
    with st.chat_message("assistant"):
        reasoning_box = st.container()
        waiting = st.empty()
        if not run.turn.text:
            waiting.caption(f":material/hourglass_top: Waiting for {plain(_backend_label(run.provider))}…")
        chunks = live_text(run, reasoning_box, on_first_text=waiting.empty, pieces=True)
        blocks = draw_live(chunks, f"{LIVE_KEY}-{run.message_id}")
        waiting.empty()
        with draw_turns.waiting():
            run.saved.wait(2.0)  # the final save follows Finished within milliseconds
        _, fields = run.snapshot()
        if run.saved.is_set():
            _as_stored(blocks, fields["content"] or "")
        footer = st.container()
        with footer:
            _footer(SimpleNamespace(**fields, provider=run.provider, model=run.model, role="assistant"))
    return footer


def draw_live(chunks: Iterator[str | Callable[[], None]], key: str) -> list[Any]:
    """Draw what ``live_text`` yields (with ``pieces``): each block a container of pieces that flow as one.

    Like st.write_stream, a piece is redrawn whole with each text added to it (markdown left open
    is completed while it streams); unlike it, a finished piece or block is not drawn once more.
    ``key`` names the containers (unique on the page). Returns each block's slot (:func:`_as_stored`).
    """
    st.html(LIVE_CSS)  # a style element only: Streamlit puts it outside the layout
    slots: list[Any] = []
    box: Any = None
    slot: Any = None
    text = ""
    for chunk in chunks:
        if chunk is finish_block:
            box = slot = None
        elif chunk is next_piece:
            slot = None
        elif isinstance(chunk, str) and chunk:
            if box is None:
                slots.append(st.empty())
                box = slots[-1].container(key=f"{key}-{len(slots) - 1}", gap=None)
            text = chunk if slot is None else text + chunk
            # the element a piece's first text creates is redrawn in place (no empty placeholder: a delta less)
            slot = (box if slot is None else slot)._markdown(text, unterminated_parsing=True)
    return slots


def _as_stored(slots: list[Any], text: str) -> None:
    """A saved reply's live blocks become its blocks as stored, one element each, where the next rerun draws them.

    Pieces flow as one paragraph on screen, but the spaces between them are drawn by CSS: copying the
    text, finding a phrase in the page or a screen reader would miss them. Left live (until the next rerun)
    should the stored text cut into other blocks than the live one (a formula held back, say).
    """
    blocks = stored_blocks(text)
    if len(blocks) == len(slots):
        for slot, block in zip(slots, blocks, strict=True):
            slot.markdown(block)


def _footer(message: Any) -> None:
    """Generated images, sources, how the reply ended, which model answered, and its timings."""
    extra = getattr(message, "extra", None) or {}
    for item in extra.get("images") or []:
        name = plain(item.get("alt") or "a generated image")
        stored_images.draw(item, caption=name if item.get("alt") else None, name=name,
                           missing=f":material/image: {name} (not downloaded)")
    sources = extra.get("sources") or []
    if sources:
        st.markdown("  \n".join(source_link(s.get("title"), s.get("url")) for s in sources))
    if (extra.get("answered_by") or {}).get("model"):
        st.caption(f":material/alt_route: answered by {plain(extra['answered_by']['model'])}")
    for note in extra.get("notices") or []:  # how the reply came about (Notice events)
        st.caption(f":material/info: {plain(note)}")
    if message.role != "assistant":
        return
    render_status(message)
    if message.status in (COMPLETE, ERROR, CANCELLED, PARTIAL):
        caption = message_caption(message)
        if caption:
            st.caption(caption)
