"""Pieces of the compare page: column set-up, one answer with its figures, votes, past comparisons.

Answers still being written are tailed in parallel fragments, one per column, so every column
streams at once and none waits for another. This module renders nothing when imported.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any, TypedDict

import streamlit as st

from arena import board
from markup.safe_markdown import plain
from providers import registry
from runner import backend_health, health
from runner.runner import Run, get_runner
from services import comparison_view, conversation_view, draw_turns
from services.comparison_view import ColumnView, ComparisonView, RoundView
from services.conversation_view import MessageView
from views import components, presets_view
from views.live_text import live_text, reasoning_markdown

MAX_COLUMNS = 4


@dataclass(frozen=True)
class Usable:
    names: list[str]
    left_out: dict[str, str]  # backend -> why it is not offered by default


def usable_backends(owner: int) -> Usable:
    """Backends that can answer for this user now: no login needed, or one is saved or configured."""
    states = backend_health.states(owner)
    backends = registry.all_backends()
    order = registry.seed_first(backends)  # the design card's three, first by default
    names, left_out = [], {}
    for name in order:
        if states[name] == health.NEEDS_CREDENTIALS:
            left_out[name] = "no login yet: add one in Settings"
        elif states[name] in health.UNUSABLE:
            left_out[name] = f"{health.LABELS[states[name]]}: see the Backends page"
        else:
            names.append(name)
    return Usable(names, left_out)


def column_setup(owner: int) -> tuple[list[tuple[str, str]], bool]:
    """Pickers for a new comparison: how many columns, and a backend and model for each."""
    usable = usable_backends(owner)
    backends = registry.all_backends()
    if usable.left_out:
        st.caption("Not included: " + "; ".join(
            f"{plain(backends[n].display_name)} ({why})" for n, why in usable.left_out.items()))
    if not usable.names:
        st.warning("No backend can answer yet. Add a login in Settings.")
        return [], False
    default_count = min(MAX_COLUMNS, max(2, len(usable.names)))
    count = st.slider("Columns", 2, MAX_COLUMNS, default_count, key="cmp_count")
    cols = st.columns(count)
    picked = []
    catalog = get_runner().catalog
    for i, col in enumerate(cols):
        presets_view.compare_preset_picker(owner, i, col)
        default = usable.names[i % len(usable.names)]
        provider = col.selectbox(f"Backend {i + 1}", usable.names, key=f"cmp_backend_{i}",
                                 format_func=lambda n: backends[n].display_name,
                                 **_default_index(f"cmp_backend_{i}", usable.names.index(default)))
        models = [m.id for m in catalog.models(provider)]
        model_key = f"cmp_model_{i}_{provider}"
        if st.session_state.get(model_key) not in (None, *models):  # a preset's model the list does not show
            models.insert(0, st.session_state[model_key])
        # the same backend twice: offer different models by default
        model_index = (i // len(usable.names)) % len(models) if models else 0
        model = col.selectbox(f"Model {i + 1}", models, key=model_key, **_default_index(model_key, model_index))
        presets_view.column_system_prompt(i, col)
        picked.append((provider, model))
    blind = st.toggle("Blind: hide backend and model names until I vote", key="cmp_blind")
    # The team arena (views/arena.py): a category to slice the board by, and keeping one's votes off it.
    tag, private = st.columns([1, 2], vertical_alignment="bottom")
    tag.text_input("Category (optional)", key="cmp_category", max_chars=64, placeholder="e.g. code")
    private.toggle("Private: keep my votes off the team arena", key="cmp_private")
    return picked, blind


class _Index(TypedDict, total=False):
    """A picker's ``index`` keyword, when it is given (typed, so ``**`` passes it as an int)."""

    index: int


def _default_index(key: str, index: int) -> _Index:
    """``index`` for a picker, unless a preset already set its value (Streamlit warns when both are given)."""
    return {} if key in st.session_state else {"index": index}


def column_labels(comparison: ComparisonView, reveal: bool) -> dict[int, str]:
    backends = registry.all_backends()
    labels = {}  # each label is Markdown with every outside part escaped
    for column in comparison.columns:
        if comparison.blind and not reveal:
            labels[column.id] = f"Model {string.ascii_uppercase[column.position]}"
        else:
            name = backends[column.provider].display_name if column.provider in backends else column.provider
            labels[column.id] = f"{plain(name)} · {plain(column.model)}"  # Markdown: drawn in captions and help
    return labels


def order_for(columns: list[tuple[str, ...]], blind: bool) -> list[tuple[str, ...]]:
    """Blind comparisons shuffle the columns, so position gives nothing away."""
    if not blind:
        return columns
    shuffled = list(columns)
    random.SystemRandom().shuffle(shuffled)
    return shuffled


def figures(message: Any) -> str:
    """Time to first token, total time and throughput of a finished answer (a MessageView or a shared one)."""
    parts = []
    if message.ttft_ms is not None:
        parts.append(f"first token {message.ttft_ms / 1000:.2f} s")
    if message.total_ms is not None:
        parts.append(f"total {message.total_ms / 1000:.2f} s")
        streaming = (message.total_ms - (message.ttft_ms or 0)) / 1000
        usage = (message.extra or {}).get("usage") or {}
        tokens = usage.get("output_tokens") or usage.get("completion_tokens")
        if streaming > 0 and isinstance(tokens, int):
            parts.append(f"{tokens / streaming:.0f} tokens/s")
        elif streaming > 0 and message.content:
            parts.append(f"{len(message.content) / streaming:.0f} chars/s")
    return " · ".join(parts)


def answer(message: MessageView, label: str, live: Run | None, round_runs: list[Run]) -> None:
    """One column's answer: streamed in its own parallel fragment while live, else as stored.

    The last column to finish reruns the page, which then shows the round stored, with its votes.
    """
    if live is not None:
        _live_answer(live, label, round_runs)
        return
    with st.chat_message("assistant"):
        st.caption(f"**{label}**")
        if message.reasoning:
            with st.expander("Reasoning", icon=":material/psychology:"):
                st.markdown(reasoning_markdown(message.reasoning, None))
        for block in components.stored_blocks(message.content or ""):
            st.markdown(block)
        _status_and_figures(message)


def _live_answer(run: Run, label: str, round_runs: list[Run]) -> None:
    @st.fragment(parallel=True)
    def column() -> None:  # a thread of its own: it takes its own turns to draw (services/draw_turns.py)
        with draw_turns.turn(), st.chat_message("assistant"):
            st.caption(f"**{label}**")
            box = st.container()
            waiting = st.empty()
            waiting.caption(":material/hourglass_top: Waiting for the first token…")
            st.write_stream(live_text(run, box, on_first_text=waiting.empty))
            waiting.empty()
            with draw_turns.waiting():
                run.saved.wait(2.0)
            _status_and_figures(conversation_view.ended_message(run))
        if all(r.saved.is_set() for r in round_runs):
            components.redraw_finished()

    column()


def _status_and_figures(message: MessageView) -> None:
    if message.status != "complete":
        components.render_status(message)
    line = figures(message)
    if line:
        st.caption(line)


def vote_bar(round_: RoundView, columns: tuple[ColumnView, ...], labels: dict[int, str]) -> None:
    """Buttons to judge a finished round (a "best" under each column, then tie / all bad), or the verdict."""
    if round_.vote is not None:
        verdict, column_id = round_.vote.verdict, round_.vote.column_id
        text = {"tie": "a tie", "all_bad": "all bad"}.get(verdict) or (
            f"best: {labels[column_id]}" if column_id is not None else verdict)  # "best" always names a column
        st.caption(f":material/how_to_vote: You voted {text}.")
        return
    if any(m.status == "streaming" for m in round_.answers.values()):
        return
    for cell, column in zip(st.columns(len(columns)), columns, strict=True):
        cell.button("This one is best", key=f"vote_{round_.id}_{column.id}", icon=":material/thumb_up:",
                    width="stretch", on_click=_vote, args=(round_.id, "best", column.id),
                    help=f"Vote for {labels[column.id]}")
    tie, bad, _ = st.columns([1, 1, 2])
    tie.button("Tie", key=f"vote_{round_.id}_tie", icon=":material/balance:", width="stretch", on_click=_vote,
               args=(round_.id, "tie", None))
    bad.button("All bad", key=f"vote_{round_.id}_bad", icon=":material/thumb_down:", width="stretch",
               on_click=_vote, args=(round_.id, "all_bad", None))


def _vote(round_id: int, verdict: str, column_id: int | None) -> None:
    comparison_view.vote(int(st.session_state["owner_id"]), round_id, verdict, column_id)


def past_comparisons(owner: int, current: str | None) -> None:
    st.sidebar.button("New comparison", icon=":material/add:", key="cmp_new", width="stretch",
                      on_click=st.query_params.clear)
    recent = comparison_view.recent(owner, limit=30)
    if not recent:
        st.sidebar.caption("Past comparisons will appear here.")
        return
    st.sidebar.caption("Past comparisons")
    for c in recent:
        st.sidebar.button(plain(c.title or "Untitled"), key=f"cmp_{c.id}", width="stretch",
                          type="primary" if c.id == current else "tertiary",
                          on_click=st.query_params.from_dict, args=({"cmp": c.id},))


def privacy_switch(owner: int, comparison: ComparisonView) -> None:
    """Whether this comparison's votes count on the team arena (its owner can change their mind)."""
    key = f"cmp_private_{comparison.id}"

    def save() -> None:
        board.set_private(owner, comparison.id, bool(st.session_state[key]))

    st.sidebar.toggle("Private: keep my votes off the team arena", value=comparison.private, key=key, on_change=save)
