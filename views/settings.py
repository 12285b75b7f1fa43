"""Settings: each backend's login, pasted once, stored encrypted, never shown back; the user's API
tokens and, for admins, the custom OpenAI-compatible endpoints (both in views/settings_api.py).

Registered by the router as ``st.Page(settings.render, ...)``; renders nothing when imported.
"""

from __future__ import annotations

import streamlit as st

from markup.safe_markdown import plain
from providers import registry
from providers.base import BackendInfo
from services import account, backends, settings
from views import settings_api, sidebar, your_data


def render() -> None:
    owner = sidebar.owner_id()
    st.title("Settings")
    st.caption("Logins are stored encrypted and are only ever shown masked. They are sent to their own backend only.")
    saved = settings.saved_logins(owner)
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
    if account.is_admin(owner):
        with st.container(border=True):
            settings_api.custom_endpoint_section()
    with st.container(border=True):
        your_data.your_data_section(owner)


def _backend_login(owner: int, info: BackendInfo, hint: settings.SavedLogin | None) -> None:
    st.subheader(plain(info.display_name), anchor=False)
    if hint:
        st.markdown(f":material/lock: Your login is saved ({hint.hint}), updated {hint.updated_at:%Y-%m-%d %H:%M} UTC.")
    elif info.server_credentials() and settings.server_login_allowed(info.name):
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
                settings.save_login(owner, info.name, values)
                st.toast(f"{plain(info.display_name)} login saved.", icon=":material/check:")
                st.rerun()
    left, right = st.columns(2)
    if left.button("Check connection", key=f"check_{info.name}", icon=":material/wifi_tethering:"):
        if not backends.has_login(owner, info.name):
            st.warning("No login to check yet: paste your values above.")
        else:
            with st.spinner(f"Asking {plain(info.display_name)}…"):
                result = backends.check(owner, info.name)
            (st.success if result.ok else st.error)(result.message)
    if hint and right.button("Remove my login", key=f"remove_{info.name}", icon=":material/delete:"):
        settings.remove_login(owner, info.name)
        st.rerun()
