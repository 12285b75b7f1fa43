"""Voting on another member's shared prompt-set batch, prompt by prompt (part of the prompt sets page).

Blind batches keep their columns' shuffled order and show "Model A/B/…" until this member has voted on
that prompt. Backend and model names and prompts are drawn as plain text; answers as the compare page
draws them. This module renders nothing when imported.
"""

from __future__ import annotations

import string

import streamlit as st

from arena import prompt_sets as service
from markup.safe_markdown import plain
from views import components


def render(owner: int, batch_id: str) -> None:
    st.button("All prompt sets", key="tv_back", icon=":material/arrow_back:", on_click=st.query_params.clear)
    shared, rounds = service.team_rounds(owner, batch_id)
    if shared is None:
        st.warning("That batch is not shared with the team, or it is your own (vote on your own comparisons "
                   "on the Compare page).")
        return
    st.title("Team vote", anchor=False)
    st.text(f"{shared.name}, run by {shared.owner}" + (" (blind)" if shared.blind else ""))
    voted = sum(1 for r in rounds if r.verdict)
    st.progress(voted / len(rounds) if rounds else 0.0, text=f"You voted on {voted} of {len(rounds)} prompts")
    for r in rounds:
        _round(owner, r)


def _round(owner: int, r: service.VoteRound) -> None:
    with st.container(border=True):
        st.caption(f"Prompt {r.number + 1}")
        st.text(r.prompt)
        reveal = not r.blind or r.verdict is not None
        labels = {cid: (f"{provider}/{model}" if reveal else f"Model {string.ascii_uppercase[i]}")
                  for i, (cid, provider, model) in enumerate(r.columns)}
        cells = st.columns(max(len(r.columns), 1))
        for cell, (cid, _, _) in zip(cells, r.columns, strict=False):
            with cell:
                st.text(labels[cid])
                status, text = r.answers.get(cid, ("missing", ""))
                for block in components.split_blocks(text or ""):
                    st.markdown(components.block_markdown(block))  # a backend's answer
                if status != "complete":
                    st.caption(f"Status: {status}")
        if r.verdict is not None:
            winner = r.winner_column_id  # set for a "best" verdict
            what = {"tie": "a tie", "all_bad": "all bad"}.get(r.verdict) or (
                f"best: {labels[winner]}" if winner is not None else r.verdict)
            st.caption(f":material/how_to_vote: You voted {plain(what)}.")  # names a model
            return
        for cell, (cid, _, _) in zip(st.columns(max(len(r.columns), 1)), r.columns, strict=False):
            cell.button("This one is best", key=f"tv_{r.round_id}_{cid}", icon=":material/thumb_up:",
                        width="stretch", on_click=service.team_vote, args=(owner, r.round_id, "best", cid))
        tie, bad, _ = st.columns([1, 1, 2])
        tie.button("Tie", key=f"tv_{r.round_id}_tie", icon=":material/balance:", width="stretch",
                   on_click=service.team_vote, args=(owner, r.round_id, "tie", None))
        bad.button("All bad", key=f"tv_{r.round_id}_bad", icon=":material/thumb_down:", width="stretch",
                   on_click=service.team_vote, args=(owner, r.round_id, "all_bad", None))
