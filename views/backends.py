"""The Backends page: each backend's state as your replies and checks saw it, what is wrong, the fix.

Nothing here talks to a backend on a rerun: states come from storage; "Check now" is an explicit
action, and a check less than a minute old is shown instead of repeated. Registered by the router
as ``st.Page(backends.render, ...)``; renders nothing when imported.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st

from markup.safe_markdown import plain
from providers import registry
from providers.base import BackendInfo
from runner import backend_health, health
from runner.runner import credentials_for, get_runner
from storage import health as health_store
from storage.db import get_engine, session
from storage.models import BackendHealth, utcnow
from views import health_badges, sidebar

CHECK_CACHE = timedelta(seconds=60)


def render() -> None:
    owner = sidebar.owner_id()
    st.title("Backends", anchor=False)
    st.caption("What your replies and checks last saw of each backend. Nothing is asked of a backend "
               "until you press **Check now**.")
    with session(get_engine()) as s:
        rows = health_store.for_owner(s, owner)
    for name, state in backend_health.states(owner).items():
        with st.container(border=True):
            _backend(owner, registry.backend(name), rows.get(name), state)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    seconds = (utcnow() - moment).total_seconds()
    if seconds < 90:
        return "just now"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h ago"
    return f"{moment:%Y-%m-%d}"


def _backend(owner: int, info: BackendInfo, row: BackendHealth | None, state: str) -> None:
    head, action = st.columns([4, 1])
    head.markdown(f"**{plain(info.display_name)}** {health_badges.badge(state)}")
    if info.description:
        head.caption(info.description)
    if row is not None:
        facts = [f"last success {_when(row.last_success_at)}", f"last failure {_when(row.last_failure_at)}"]
        if row.protocol:
            facts.append(f"protocol in use: `{row.protocol}`")
        if row.retry_until is not None and row.retry_until > utcnow():
            facts.append(f"rate-limited until {row.retry_until:%H:%M:%S} UTC")
        st.caption(" · ".join(facts))
        if row.message and state != health.READY:
            st.markdown(f"**What went wrong:** {plain(row.message, one_line=False)}")  # the backend's words
    if state == health.NEEDS_CREDENTIALS:
        st.markdown(f"**Fix:** add your {plain(info.display_name)} login in Settings.")
    elif state == health.DISABLED:
        st.markdown("**Fix:** an admin switched this backend off; ask them to switch it on again.")
    elif row is not None and row.fix and state != health.READY:
        st.markdown(f"**Fix:** {row.fix}")
    if row is not None and row.snippet and state == health.PROTOCOL_CHANGED:
        st.code(row.snippet, language=None)
    elif row is not None and row.snippet and state == health.READY:  # the last reply was read only in part
        st.markdown(f"**Part of the last answer could not be read:** {row.message}. {row.fix}")
        st.code(row.snippet, language=None)
    recent = row is not None and row.checked_at is not None and utcnow() - row.checked_at < CHECK_CACHE
    if action.button("Check now", key=f"probe_{info.name}", icon=":material/refresh:", disabled=recent,
                     help="Checked less than a minute ago" if recent else "Make the cheapest call this backend allows"):
        with session(get_engine()) as s:
            login = credentials_for(s, owner, info.name)
        if info.needs_credentials and login is None:
            st.warning(f"No {plain(info.display_name)} login to check: add one in Settings.")
            return
        with st.spinner(f"Asking {info.display_name}…"):
            get_runner().check(info.name, login, owner_id=owner)
        st.rerun()
