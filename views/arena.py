"""The team arena board: everyone's shared votes pooled into Bradley–Terry ratings with 95% intervals.

Registered by the router as ``st.Page(arena.render, ...)``; renders nothing when imported. All the
numbers come from :mod:`arena.board`; this page only draws them. Model names are data, drawn in
dataframes and Altair charts (plain text), never as markdown.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from arena import board, ratings
from arena.battles import BattleFileError, parse
from services import account
from views import sidebar

PERIODS = {"Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90, "Last year": 365, "All time": 36500}
EVERYONE = "Everyone"
ALL = "All categories"


def render() -> None:
    owner = sidebar.owner_id()
    admin = account.is_admin(owner)
    st.title("Team arena", anchor=False)
    st.caption("Every member's comparison votes, pooled (a comparison kept private stays out). Ratings are "
               "Bradley–Terry estimates with 95% intervals: at tens or hundreds of votes they are wide.")
    period = st.segmented_control("Period", list(PERIODS), default="Last 90 days", key="arena_period") or "Last 90 days"
    filters = st.container()
    shown = _load(PERIODS[period])
    if st.session_state.get("arena_judge", EVERYONE) not in [EVERYONE, *shown.judges] or \
            st.session_state.get("arena_category", ALL) not in [ALL, *shown.categories]:
        st.session_state.update(arena_judge=EVERYONE, arena_category=ALL)  # not in this period: show everyone's
        shown = _load(PERIODS[period])
    with filters:
        left, middle, right = st.columns([2, 2, 3])
        left.selectbox("Judge", [EVERYONE, *shown.judges], key="arena_judge")
        middle.selectbox("Category", [ALL, *shown.categories], key="arena_category")
        right.toggle("Style control", key="arena_style",
                     help="Adds answer length and markdown counts as covariates, so the ratings measure "
                          "what the votes prefer apart from longer or more formatted answers.")
    if admin:
        st.toggle("Blind votes only (for everyone)", value=shown.blind_only, key="arena_blind_only",
                  on_change=lambda: board.set_blind_only(bool(st.session_state["arena_blind_only"])))
    if not shown.battles:
        st.info("No shared votes in this period yet. Compare backends on the Compare page and vote: every "
                "member's votes add up here.", icon=":material/groups:")
        _import(admin)
        return
    _summary(shown)
    if shown.ratings:
        _ratings(shown)
        _heatmap(shown)
    _exports(shown)
    _import(admin)


def _load(days: int) -> board.Board:
    judge = st.session_state.get("arena_judge", EVERYONE)
    category = st.session_state.get("arena_category", ALL)
    return board.load(
        since=datetime.now(UTC) - timedelta(days=days),
        view=board.Slice(judge=None if judge == EVERYONE else judge, category=None if category == ALL else category),
        style_control=bool(st.session_state.get("arena_style")),
    )


def _summary(shown: board.Board) -> None:
    kind = "blind votes without an identity leak" if shown.blind_only else "votes"
    st.caption(f"{shown.counted} battles counted ({kind}) of {len(shown.battles)} in this period.")
    if shown.leaks:
        st.caption(f":material/visibility: {shown.leaks} blind battles are left out of blind ratings: an answer "
                   "named its own model or backend. They are kept, and count when the board is not blind-only.")
    if shown.style_effects:
        effects = shown.style_effects
        st.caption(f"Style control: a standard deviation longer answer is worth {effects['length']:+.0f} points, "
                   f"more markdown {effects['markdown']:+.0f}.")


def _ratings(shown: board.Board) -> None:
    table = pd.DataFrame(board.table(shown))
    st.dataframe(
        table, hide_index=True,
        column_config={
            "rank": st.column_config.NumberColumn(
                "Rank", help="1 + the number of models whose lower bound is above this model's upper bound"),
            "model": "Backend/model", "rating": st.column_config.NumberColumn("Rating", format="%.0f"),
            "lower": st.column_config.NumberColumn("95% low", format="%.0f"),
            "upper": st.column_config.NumberColumn("95% high", format="%.0f"),
            "battles": "Battles",
            "too_few": st.column_config.CheckboxColumn(
                "Too few votes", help=f"Fewer than {ratings.MIN_BATTLES} battles: read with care"),
            "ttft_median_ms": st.column_config.NumberColumn("TTFT p50 (ms)", format="%.0f"),
            "ttft_p90_ms": st.column_config.NumberColumn("TTFT p90 (ms)", format="%.0f"),
            "chars_per_s_median": st.column_config.NumberColumn("chars/s p50", format="%.0f"),
            "chars_per_s_p90": st.column_config.NumberColumn("chars/s p90", format="%.0f"),
            "failure_rate": st.column_config.NumberColumn("Failures", format="percent"),
        },
    )
    base = alt.Chart(table, title="Ratings with 95% intervals").encode(
        y=alt.Y("model:N", sort=alt.EncodingSortField("rating", order="descending"), title=None))
    chart = base.mark_rule().encode(x=alt.X("lower:Q", scale=alt.Scale(zero=False), title="Rating"), x2="upper:Q") + \
        base.mark_point(filled=True, size=60).encode(
            x="rating:Q", tooltip=["model", alt.Tooltip("rating", format=".0f"), alt.Tooltip("lower", format=".0f"),
                                   alt.Tooltip("upper", format=".0f"), "battles", "rank"])
    st.altair_chart(chart.properties(height=30 * len(table) + 50), width="stretch")


def _heatmap(shown: board.Board) -> None:
    cells = pd.DataFrame([{"model": c.model, "opponent": c.opponent, "win_rate": c.win_rate, "battles": c.battles}
                          for c in shown.matrix])
    if cells.empty:
        return
    order = [r.model for r in shown.ratings]
    heat = alt.Chart(cells, title="Win rate of the row model against the column model (ties count half)").encode(
        x=alt.X("opponent:N", sort=order, title=None), y=alt.Y("model:N", sort=order, title=None))
    chart = heat.mark_rect().encode(
        color=alt.Color("win_rate:Q", scale=alt.Scale(domain=[0, 1], scheme="redblue"), title="Win rate"),
        tooltip=["model", "opponent", alt.Tooltip("win_rate", format=".0%"), "battles"],
    ) + heat.mark_text().encode(text=alt.Text("win_rate:Q", format=".0%"))
    st.altair_chart(chart.properties(height=40 * len(order) + 60), width="stretch")


def _exports(shown: board.Board) -> None:
    left, right = st.columns(2)
    left.download_button("Battles (CSV)", data=lambda: board.export_csv(shown), file_name="chatdeck-battles.csv",
                         mime="text/csv", icon=":material/download:", on_click="ignore")
    right.download_button("Battles (JSON)", data=lambda: board.export_json(shown), file_name="chatdeck-battles.json",
                          mime="application/json", icon=":material/download:", on_click="ignore")


def _import(admin: bool) -> None:
    if not admin:
        return
    done = st.session_state.pop("arena_imported", None)
    if done is not None:
        st.success(f"{done} new battles imported.", icon=":material/check:")
    with st.expander("Import battles (admins)", icon=":material/upload:"):
        upload = st.file_uploader("A battles file (CSV or JSON, as exported here)", type=["csv", "json"],
                                  key="arena_import")
        if upload is not None and st.button("Import", key="arena_import_go"):
            try:
                added = board.import_battles(parse(upload.getvalue()))
            except (BattleFileError, UnicodeDecodeError) as exc:
                st.error("The file was not imported:", icon=":material/error:")
                st.text(str(exc))
                return
            st.session_state["arena_imported"] = added
            st.rerun()  # the board above counts them at once
