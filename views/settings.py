"""Settings: each backend's login, pasted once, stored encrypted, never shown back; the user's API
tokens and, for admins, the custom OpenAI-compatible endpoints (both in views/settings_api.py).

Registered by the router as ``st.Page(settings.render, ...)``; renders nothing when imported.
"""

from __future__ import annotations

import streamlit as st

from access import policy
from markup.safe_markdown import plain
from providers import registry
from providers.base import BackendInfo
from runner.runner import credentials_for, get_runner
from storage import credentials
from storage.db import get_engine, session
from views import settings_api, sidebar, your_data


def render() -> None:
    owner = sidebar.owner_id()
    st.title("Settings")
    st.caption("Logins are stored encrypted and are only ever shown masked. They are sent to their own backend only.")
    with session(get_engine()) as s:
        saved = credentials.hints(s, owner)
    every = registry.all_backends()
    backends = [b for b in every.values() if b.credential_fields]
    if not backends:
        st.info("None of the available backends needs a login.", icon=":material/check_circle:")
    for info in backends:
        with st.container(border=True):
            _backend_login(owner, info, saved.get(info.name))
    no_login = [b.display_name for b in every.values() if not b.credential_fields]
    if no_login:
        st.caption(f"No login needed: {', '.join(plain(n) for n in no_login)}.")
    with st.container(border=True):
        settings_api.api_token_section(owner)
    if settings_api.is_admin(owner):
        with st.container(border=True):
            settings_api.custom_endpoint_section()
    with st.container(border=True):
        your_data.your_data_section(owner)


def _backend_login(owner: int, info: BackendInfo, hint: tuple[str, object] | None) -> None:
    st.subheader(plain(info.display_name), anchor=False)
    if hint:
        st.markdown(f":material/lock: Your login is saved ({hint[0]}), updated {hint[1]:%Y-%m-%d %H:%M} UTC.")
    elif info.server_credentials() and policy.server_login_allowed(get_engine(), info.name):
        st.markdown(":material/dns: Using the login configured for the whole server.")
    elif info.server_credentials():
        st.markdown(":material/lock_open: No login saved yet. The server has a login of its own, which an admin "
                    "has not opened to users: paste yours.")
    else:
        st.markdown(":material/lock_open: No login saved yet.")
    if info.setup_help:
        with st.expander("Where do I find these values?"):
            st.markdown(info.setup_help)
    with st.form(f"login_{info.name}", clear_on_submit=True, border=False):
        values: dict[str, str] = {}
        for field in info.credential_fields:
            key = f"cred_{info.name}_{field.name}"
            if field.multiline:
                values[field.name] = st.text_area(field.label, help=field.help or None, key=key)
            else:
                values[field.name] = st.text_input(field.label, help=field.help or None, key=key, type="password")
        if st.form_submit_button("Save", icon=":material/save:", type="primary"):
            if not all(v.strip() for v in values.values()):
                st.error("Fill in every field; nothing was saved.")
            else:
                with session(get_engine()) as s:
                    credentials.save(s, owner, info.name, values)
                st.toast(f"{plain(info.display_name)} login saved.", icon=":material/check:")
                st.rerun()
    left, right = st.columns(2)
    if left.button("Check connection", key=f"check_{info.name}", icon=":material/wifi_tethering:"):
        with session(get_engine()) as s:
            login = credentials_for(s, owner, info.name)
        if login is None:
            st.warning("No login to check yet: paste your values above.")
        else:
            with st.spinner(f"Asking {plain(info.display_name)}…"):
                result = get_runner().check(info.name, login, owner_id=owner)
            (st.success if result.ok else st.error)(result.message)
    if hint and right.button("Remove my login", key=f"remove_{info.name}", icon=":material/delete:"):
        with session(get_engine()) as s:
            credentials.remove(s, owner, info.name)
        st.rerun()
