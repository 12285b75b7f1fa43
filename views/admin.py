"""The Admin page: users and their rate limits, backends on or off (and the server's logins), the default
rate limit, and usage per day, user and backend. For admins only.

Registered by the router as ``st.Page(admin.render, ...)``, listed for admins only; renders nothing
when imported. The sections live in views/admin_view.py; only the chosen one runs, so opening the page
costs one section's queries.
"""

from __future__ import annotations

import streamlit as st

from services import account
from views import admin_view as view
from views import sidebar

SECTIONS = {
    "Users": view.users_section,
    "Backends": view.backends_section,
    "Rate limit": view.rate_limit_section,
    "Usage": view.usage_section,
}


def render() -> None:
    owner = sidebar.owner_id()
    if not account.is_admin(owner):
        st.warning("This page is for admins.", icon=":material/lock:")
        return
    st.title("Admin", anchor=False)
    section = st.segmented_control("Section", list(SECTIONS), default="Users", key="admin_section",
                                   label_visibility="collapsed") or "Users"
    SECTIONS[section]()
