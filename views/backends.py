"""The Backends page: each backend's state as your replies and checks saw it, what is wrong, the fix.

Nothing here talks to a backend on a rerun: states come from runner/backend_health.py; "Check now" is an
explicit action, and a check less than a minute old is shown instead of repeated. Registered by the router
as ``st.Page(backends.render, ...)``; renders nothing when imported.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from markup.safe_markdown import plain
from runner import backend_health, health
from services import backends
from views import health_badges, sidebar


def render() -> None:
    owner = sidebar.owner_id()
    st.title("Backends", anchor=False)
    st.caption("What your replies and checks last saw of each backend. Nothing is asked of a backend "
               "until you press **Check now**.")
    for report in backend_health.reports(owner).values():
        with st.container(border=True):
            _backend(owner, report)


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = (now - moment).total_seconds()
    if seconds < 90:
        return "just now"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h ago"
    return f"{moment:%Y-%m-%d}"


def _backend(owner: int, report: backend_health.Report) -> None:
    info, state = report.info, report.state
    head, action = st.columns([4, 1])
    head.markdown(f"**{plain(info.display_name)}** {health_badges.badge(state)}")
    if info.description:
        head.caption(info.description)
    if report.observed:
        facts = [f"last success {_when(report.last_success_at, report.read_at)}",
                 f"last failure {_when(report.last_failure_at, report.read_at)}"]
        if report.protocol:
            facts.append(f"protocol in use: `{report.protocol}`")
        if report.rate_limited_until is not None:
            facts.append(f"rate-limited until {report.rate_limited_until:%H:%M:%S} UTC")
        st.caption(" · ".join(facts))
        if report.message and state != health.READY:
            st.markdown(f"**What went wrong:** {plain(report.message, one_line=False)}")  # the backend's words
    if state == health.NEEDS_CREDENTIALS:
        st.markdown(f"**Fix:** add your {plain(info.display_name)} login in Settings.")
    elif state == health.DISABLED:
        st.markdown("**Fix:** an admin switched this backend off; ask them to switch it on again.")
    elif report.fix and state != health.READY:
        st.markdown(f"**Fix:** {report.fix}")
    if report.snippet and state == health.PROTOCOL_CHANGED:
        st.code(report.snippet, language=None)
    elif report.snippet and state == health.READY:  # the last reply was read only in part
        st.markdown(f"**Part of the last answer could not be read:** {report.message}. {report.fix}")
        st.code(report.snippet, language=None)
    recent = report.recently_checked
    if action.button("Check now", key=f"probe_{info.name}", icon=":material/refresh:", disabled=recent,
                     help="Checked less than a minute ago" if recent else "Make the cheapest call this backend allows"):
        if info.needs_credentials and not backends.has_login(owner, info.name):
            st.warning(f"No {plain(info.display_name)} login to check: add one in Settings.")
            return
        with st.spinner(f"Asking {info.display_name}…"):
            backends.check(owner, info.name)
        st.rerun()
