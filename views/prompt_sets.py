"""Prompt sets: save a list of prompts, run it against chosen backend/model columns as a batch, follow its
progress, cancel it, and reopen each prompt's comparison (to read and vote, blind or not).

Registered by the router as ``st.Page(prompt_sets.render, ...)``; renders nothing when imported. The work
is done by the batch worker (arena/batch_worker.py), not by this page: a reload, a closed tab or a
server restart does not stop a batch. Prompts and model names are drawn as plain text (dataframes,
``st.text``), never as markdown.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from arena import prompt_sets as service
from markup.safe_markdown import plain
from services import draw_turns
from views import compare_view, sidebar, team_vote
from views.callbacks import ignoring_result

STATUS = {"running": "Running", "done": "Finished", "cancelled": "Cancelled"}


def render() -> None:
    owner = sidebar.owner_id()
    service.ensure_worker()
    if st.query_params.get("vote"):
        team_vote.render(owner, st.query_params["vote"])
        return
    wanted = st.query_params.get("batch")
    if wanted:
        shown = service.batch(owner, wanted)
        if shown is None:
            st.warning("That batch was not found.")
        else:
            st.button("All prompt sets", key="ps_back", icon=":material/arrow_back:", on_click=st.query_params.clear)
            _batch(owner, wanted)
            return
    st.title("Prompt sets", anchor=False)
    st.caption("A saved list of prompts, asked of every chosen column as a batch: each prompt becomes a comparison "
               "of its own, to reopen and vote on. A batch waits for rate limits rather than failing and goes on "
               "after a reload or a server restart.")
    saved = _editor(owner)
    sets = service.sets(owner)
    if sets:
        _runner(owner, sets, saved)
    _past(owner)
    _team(owner)


def _editor(owner: int) -> str | None:
    """Type, paste or import prompts and save them as a set; returns the id of a set saved in this run."""
    with st.expander("New prompt set", icon=":material/add:", expanded=not service.sets(owner)):
        name = st.text_input("Name", key="ps_name", max_chars=200, placeholder="e.g. Coding questions")
        text = st.text_area("Prompts: one per line, or separated by a line holding only ---", key="ps_text",
                            height=160)
        upload = st.file_uploader("…or import a CSV file (a \"prompt\" column, optionally \"category\") or JSONL "
                                  "(one {\"prompt\": …, \"category\": …} per line)", type=["csv", "jsonl", "json"],
                                  key="ps_file")
        if not st.button("Save prompt set", key="ps_save", icon=":material/save:"):
            return None
        try:
            prompts = service.from_file(upload.name, upload.getvalue()) if upload is not None else \
                service.from_text(text or "")
            saved = service.save(owner, name or (upload.name if upload is not None else ""), prompts)
        except ValueError as exc:
            st.error("Not saved:", icon=":material/error:")
            st.text(str(exc))
            return None
        st.success(f"Saved, with {len(saved.prompts)} prompts.", icon=":material/check:")
        return saved.id


def _runner(owner: int, sets: list[service.SetView], saved: str | None) -> None:
    st.subheader("Run a set", anchor=False)
    ids = [s.id for s in sets]
    names = {s.id: f"{s.name} ({len(s.prompts)} prompts)" for s in sets}
    chosen = st.selectbox("Prompt set", ids, index=ids.index(saved) if saved in ids else 0, key="ps_set",
                          format_func=names.__getitem__)
    current = next(s for s in sets if s.id == chosen)
    st.dataframe(pd.DataFrame(current.prompts), hide_index=True, height=min(35 * len(current.prompts) + 40, 240))
    picked, blind = compare_view.column_setup(owner)
    if len(picked) >= 2 and st.button("Run the batch", key="ps_run", icon=":material/play_arrow:", type="primary"):
        batch_id = service.start(owner, chosen, picked, blind=blind, private=bool(st.session_state.get("cmp_private")),
                                 category=str(st.session_state.get("cmp_category") or ""))
        st.query_params.from_dict({"batch": batch_id})
        st.rerun()


def _past(owner: int) -> None:
    batches = service.batches(owner)
    if not batches:
        return
    st.subheader("Batches", anchor=False)
    st.dataframe(
        pd.DataFrame([{
            "batch": f"?batch={b.id}", "name": b.name, "status": STATUS.get(b.status, b.status),
            "progress": b.progress, "prompts": len(b.items), "columns": ", ".join(f"{p}/{m}" for p, m in b.columns),
        } for b in batches]),
        hide_index=True,
        column_config={
            "batch": st.column_config.LinkColumn("Open", display_text="Open"),
            "progress": st.column_config.ProgressColumn("Progress", min_value=0.0, max_value=1.0, format="percent"),
        },
    )


def _batch(owner: int, batch_id: str) -> None:
    """One batch, redrawn every two seconds while it runs (the worker does the work elsewhere)."""
    running = (service.batch(owner, batch_id) or service.BatchView("", "", "done", "", [], False)).status == "running"

    @st.fragment(run_every=2.0 if running else None)
    def live() -> None:
        with draw_turns.turn():  # its timed reruns do not pass through the page's turn (services/draw_turns.py)
            _batch_view(owner, batch_id, running)

    live()


def _batch_view(owner: int, batch_id: str, running: bool) -> None:
    shown = service.batch(owner, batch_id)
    if shown is None:
        return
    st.title(plain(shown.name), anchor=False)
    st.progress(shown.progress, text=f"{STATUS.get(shown.status, shown.status)}: {shown.counts['done']} of "
                                     f"{len(shown.items)} prompts answered"
                                     + (f", {shown.counts['cancelled']} cancelled" if shown.counts["cancelled"]
                                        else ""))
    if shown.waiting:
        st.text(shown.waiting)  # plain text: it quotes backend names and messages
    if shown.failures:
        st.caption(f"{shown.failures} answers failed; each failure stays in its column.")
    if shown.status == "running":
        st.button("Cancel the batch", key="ps_cancel", icon=":material/cancel:",
                  on_click=ignoring_result(service.cancel), args=(owner, batch_id))
    labels = [f"Column {chr(65 + i)}" for i in range(len(shown.columns))]
    st.dataframe(
        pd.DataFrame([{
            "#": i.number + 1, "prompt": i.prompt[:200], "category": i.category, "status": i.status,
            **{label: (i.columns[n] if n < len(i.columns) else "") for n, label in enumerate(labels)},
            "open": f"compare?cmp={i.comparison_id}" if i.comparison_id else None,
        } for i in shown.items]),
        hide_index=True,
        column_config={"open": st.column_config.LinkColumn("Reopen", display_text="Open comparison")},
    )
    if not shown.blind:
        st.text("Columns: " + ", ".join(f"{label} = {p}/{m}" for label, (p, m) in zip(
            labels, shown.columns, strict=True)))
    else:
        st.caption("Blind batch: each comparison shuffles its columns and hides names until you vote.")
    if running and shown.status != "running":
        st.rerun()  # finished: draw once more, without the timer


def _team(owner: int) -> None:
    """Other members' shared batches, to vote on prompt by prompt (blind ones stay blind until each vote)."""
    shared = service.team_batches(owner)
    if not shared:
        return
    st.subheader("The team's batches to vote on", anchor=False)
    st.dataframe(
        pd.DataFrame([{"vote": f"?vote={b.id}", "name": b.name, "by": b.owner, "prompts": b.prompts,
                       "blind": b.blind, "status": STATUS.get(b.status, b.status)} for b in shared]),
        hide_index=True, column_config={"vote": st.column_config.LinkColumn("Vote", display_text="Vote")},
    )
