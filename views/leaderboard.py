"""The leaderboard: how each backend and model did in your comparisons, as charts and a table.

Registered by the router as ``st.Page(leaderboard.render, ...)``; renders nothing when imported.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from providers import registry
from services import leaderboard
from views import sidebar

PERIODS = {"Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90, "Last year": 365}


def render() -> None:
    owner = sidebar.owner_id()
    st.title("Leaderboard", anchor=False)
    period = st.segmented_control("Period", list(PERIODS), default="Last 30 days", key="lb_period") or "Last 30 days"
    board = leaderboard.board(owner, PERIODS[period])
    rows = board.rows
    if not rows:
        st.info("No comparisons in this period yet. Ask several backends the same question on the Compare page, "
                "vote for the best answer, and the results add up here.", icon=":material/leaderboard:")
        return
    table = pd.DataFrame(board.summary)
    backends = registry.all_backends()
    names = table["provider"].map(lambda p: backends[p].display_name if p in backends else p)
    table["label"] = names + " · " + table["model"]
    charts, numbers = st.columns([3, 2])
    with charts:
        _bar(table.dropna(subset=["win_rate"]), "win_rate", "Win rate", ".0%")
        _bar(table.dropna(subset=["ttft_median_ms"]), "ttft_median_ms", "Time to first token, median (ms)", ",.0f",
             extra="ttft_p90_ms")
        _bar(table.dropna(subset=["chars_per_s_median"]), "chars_per_s_median", "Throughput, median (chars/s)", ",.0f")
        _bar(table, "failure_rate", "Failure rate", ".0%")
    with numbers:
        st.dataframe(
            table[["label", "answers", "voted", "wins", "win_rate", "failure_rate", "ttft_median_ms", "ttft_p90_ms",
                   "chars_per_s_median", "chars_per_s_p90", "tokens_per_s_median"]],
            hide_index=True,
            column_config={
                "label": "Backend · model", "win_rate": st.column_config.NumberColumn("Win rate", format="percent"),
                "failure_rate": st.column_config.NumberColumn("Failures", format="percent"),
                "ttft_median_ms": st.column_config.NumberColumn("TTFT p50 (ms)", format="%.0f"),
                "ttft_p90_ms": st.column_config.NumberColumn("TTFT p90 (ms)", format="%.0f"),
                "chars_per_s_median": st.column_config.NumberColumn("chars/s p50", format="%.0f"),
                "chars_per_s_p90": st.column_config.NumberColumn("chars/s p90", format="%.0f"),
                "tokens_per_s_median": st.column_config.NumberColumn("tokens/s p50", format="%.0f"),
            },
        )
        st.caption(f"{len(rows)} answers in {board.rounds} rounds.")
        left, right = st.columns(2)
        left.download_button("Runs and votes (CSV)", data=lambda: leaderboard.answers_csv(rows),
                             file_name="chatdeck-comparisons.csv", mime="text/csv", icon=":material/download:",
                             on_click="ignore")
        right.download_button("Runs and votes (JSON)", data=lambda: leaderboard.answers_json(rows),
                              file_name="chatdeck-comparisons.json", mime="application/json",
                              icon=":material/download:", on_click="ignore")


def _bar(data: pd.DataFrame, field: str, title: str, fmt: str, extra: str | None = None) -> None:
    if data.empty:
        return
    tooltip = ["label", alt.Tooltip(field, format=fmt, title=title)]
    if extra:
        tooltip.append(alt.Tooltip(extra, format=fmt, title="p90"))
    chart = (
        alt.Chart(data, title=title)
        .mark_bar()
        .encode(x=alt.X(field, title=None, axis=alt.Axis(format=fmt)), y=alt.Y("label", title=None, sort="-x"),
                tooltip=tooltip)
        .properties(height=30 * len(data) + 40)
    )
    st.altair_chart(chart, width="stretch")

