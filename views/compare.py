"""The compare page: one prompt to several backends at once, answers side by side, votes.

Registered by the router as ``st.Page(compare.render, ...)``; renders nothing when imported.
"""

from __future__ import annotations

import streamlit as st

from markup.safe_markdown import plain
from providers.events import Options
from runner.runner import get_runner
from services import comparison_view, sending
from services.comparison_view import ComparisonView
from views import compare_view as view
from views import components, keyboard, refusals, share_view, sidebar


def render() -> None:
    owner = sidebar.owner_id()
    wanted = st.query_params.get("cmp")
    comparison = comparison_view.comparison(owner, wanted) if wanted else None
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
        target: str | sending.NewComparison
        if comparison is not None:
            target = comparison.id
        else:
            systems = [str(st.session_state.get(f"cmp_system_{i}") or "") for i in range(len(picked))]
            ordered = view.order_for([(p, m, system) for (p, m), system in zip(picked, systems, strict=True)], blind)
            target = sending.NewComparison([(p, m, system) for p, m, system in ordered], blind=blind,
                                           private=bool(st.session_state.get("cmp_private")),
                                           category=str(st.session_state.get("cmp_category") or ""))
        try:  # every column or none, before anything is saved
            sent = sending.send_round(get_runner(), owner_id=owner, comparison=target, prompt=prompt,
                                      options=options)
        except refusals.REFUSED as refusal:
            refusals.refuse("compare", "compare_prompt", prompt, refusal)
        refusals.forget()
        comparison = comparison_view.comparison(owner, sent.comparison_id)
        assert comparison is not None  # it was just found or made, and its owner added a round to it
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


def _rounds(owner: int, comparison: ComparisonView) -> None:
    runner = get_runner()
    rounds = comparison_view.rounds(owner, comparison.id)
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
