"""The compare page: one prompt to several backends at once, answers side by side, votes.

Registered by the router as ``st.Page(compare.render, ...)``; renders nothing when imported.
"""

from __future__ import annotations

from dataclasses import asdict

import streamlit as st

from access import limits
from markup.safe_markdown import plain
from providers.events import Options
from runner.runner import get_runner
from storage import comparisons
from storage import repository as repo
from storage.db import get_engine, session
from storage.models import Comparison
from views import compare_view as view
from views import components, keyboard, refusals, share_view, sidebar


def render() -> None:
    owner = sidebar.owner_id()
    runner = get_runner()
    wanted = st.query_params.get("cmp")
    with session(get_engine()) as s:
        comparison = comparisons.get(s, owner, wanted) if wanted else None
    if wanted and comparison is None:
        st.warning("That comparison was not found.")
    view.past_comparisons(owner, comparison.id if comparison else None)
    keyboard.shortcuts_help()
    with st.sidebar:
        keyboard.install()
    title, setup = st.empty(), st.empty()
    picked: list[tuple[str, str]] = []
    blind = False
    if comparison is None:
        with setup.container():
            picked, blind = view.column_setup(owner)
    with st.sidebar.expander("Sampling", icon=":material/tune:"):
        options = Options(temperature=st.slider("Temperature", 0.0, 1.0, 0.7, 0.05, key="cmp_temperature"),
                          top_p=st.slider("Top p", 0.05, 1.0, 1.0, 0.05, key="cmp_top_p"))

    notice_slot = st.bottom.empty()  # why the last prompt was not sent (rate limit, disabled backend)
    refusals.restore("compare_prompt")
    prompt = st.chat_input("Ask every backend at once…", key="compare_prompt", submit_mode="disable")
    if prompt and prompt.strip() and (comparison is not None or len(picked) >= 2):
        backends = [c.provider for c in comparison.columns] if comparison else [p for p, _ in picked]
        try:
            with session(get_engine()) as s:
                limits.admit(s, owner, backends)  # every column or none, before anything is saved
                if comparison is None:
                    systems = [str(st.session_state.get(f"cmp_system_{i}") or "") for i in range(len(picked))]
                    ordered = view.order_for([(p, m, system) for (p, m), system in zip(picked, systems, strict=True)],
                                             blind)
                    comparison = comparisons.create(
                        s, owner, [(p, m) for p, m, _ in ordered], blind=blind,
                        private=bool(st.session_state.get("cmp_private")),
                        category=str(st.session_state.get("cmp_category") or ""))
                    for column, (_, _, system) in zip(comparison.columns, ordered, strict=True):
                        if system.strip():  # from a preset or typed: each column's conversation keeps its own
                            repo.set_system_prompt(s, owner, column.conversation_id, system)
                columns = list(comparison.columns)
        except refusals.REFUSED as refusal:
            refusals.refuse("compare", "compare_prompt", prompt, refusal)
        refusals.forget()
        runs = {}
        for c in columns:
            try:
                runs[c.id] = runner.start(owner_id=owner, conversation_id=c.conversation_id, provider=c.provider,
                                          model=c.model, prompt=prompt, options=options)
            except refusals.REFUSED as refusal:  # changed since the check above: the other columns go on
                refusals.remember("compare", refusal)
        with session(get_engine()) as s:
            comparisons.add_round(s, owner, comparison.id, prompt, {c: r.message_id for c, r in runs.items()},
                                  asdict(options))
            comparison = comparisons.get(s, owner, comparison.id)
            assert comparison is not None  # it was just found, and its owner added a round to it
        st.query_params.from_dict({"cmp": comparison.id})
        setup.empty()  # the pickers give way to the answers in this same run (no faded leftovers)
    refusals.show("compare", notice_slot)
    title.title(plain(comparison.title) if comparison else "Compare", anchor=False)
    if comparison is None:
        st.caption("Pick the backends and models to compare, then type a prompt: every column answers at once.")
        return
    share_view.share_button(owner, "comparison", comparison.id)
    view.privacy_switch(owner, comparison)
    _rounds(owner, comparison)


def _rounds(owner: int, comparison: Comparison) -> None:
    runner = get_runner()
    with session(get_engine()) as s:
        rounds = comparisons.rounds(s, owner, comparison.id)
    labels = view.column_labels(comparison, reveal=bool(rounds and rounds[-1].vote))
    for column, header in zip(comparison.columns, st.columns(len(comparison.columns)), strict=True):
        header.markdown(f"**{labels[column.id]}**")
        header.link_button("Continue in chat", f"./?c={column.conversation_id}", icon=":material/chat:")
    for round_ in rounds:
        with st.chat_message("user"):
            st.markdown(components.block_markdown(round_.prompt))
        live = {c: runner.get(m.id) for c, m in round_.answers.items() if m.status == "streaming"}
        round_runs = [r for r in live.values() if r is not None]
        for column, cell in zip(comparison.columns, st.columns(len(comparison.columns)), strict=True):
            message = round_.answers.get(column.id)
            with cell:
                if message is None:
                    st.caption("No answer recorded.")
                else:
                    view.answer(message, labels[column.id], live.get(column.id), round_runs)
        view.vote_bar(round_, comparison.columns, labels)
