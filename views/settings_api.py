"""Two sections of the Settings page: the user's REST API tokens, and (for admins) custom endpoints.

Called by views/settings.py; renders nothing when imported. Every read is one bounded query.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from markup.safe_markdown import plain
from services import settings

JUST_ISSUED = "api_token_just_issued"  # session key of the token shown once, then forgotten


def api_token_section(owner: int) -> None:
    st.subheader("API tokens", anchor=False)
    st.caption("Bearer tokens for the REST API (`POST /api/ai/huggingface/{publisher}/{model}/chat`) and the "
               "OpenAI-compatible API for every backend (base URL `/v1` of this server, e.g. for the `openai` "
               "client), both described at [/api/openapi.json](/api/openapi.json). Chats made with a token are "
               "yours and appear in the sidebar.")
    issued = st.session_state.pop(JUST_ISSUED, None)
    if issued:
        st.success("Your new token. Copy it now: it is shown only once.", icon=":material/key:")
        st.code(issued, language=None)
    with st.form("issue_token", clear_on_submit=True, border=False):
        left, right = st.columns([3, 1])
        name = left.text_input("Token name", placeholder="e.g. my script", key="token_name")
        lifetime = right.selectbox("Expires after", list(settings.LIFETIMES), index=1, key="token_lifetime")
        if st.form_submit_button("Create token", icon=":material/add:"):
            st.session_state[JUST_ISSUED] = settings.issue_token(owner, name or "API token", lifetime)
            st.rerun()
    rows = settings.tokens(owner)
    if not rows:
        st.caption("No tokens yet.")
    for token in rows:
        left, right = st.columns([4, 1], vertical_alignment="center")
        left.markdown(f"**{plain(token.name)}** · {token.state} · created {_day(token.created_at)} · "
                      f"expires {_day(token.expires_at)}"
                      + (f" · last used {_day(token.last_used_at)}" if token.last_used_at else "")
                      + f"  \nScopes: {', '.join(settings.SCOPES)}")
        if token.state == settings.ACTIVE and right.button("Revoke", key=f"revoke_token_{token.id}",
                                                           icon=":material/block:"):
            settings.revoke_token(owner, token.id)
            st.toast(f"Token {plain(repr(token.name))} revoked.", icon=":material/check:")
            st.rerun()


def custom_endpoint_section() -> None:
    st.subheader("Custom endpoints", anchor=False)
    st.caption("OpenAI-compatible servers (Ollama, vLLM, TGI, llama.cpp) everyone here can chat with: each appears "
               "as a backend of its own. Base URL up to `/v1`, e.g. `http://localhost:11434/v1` for Ollama.")
    for endpoint in settings.custom_endpoints():
        left, right = st.columns([4, 1], vertical_alignment="center")
        details = (f"**{plain(endpoint.display_name)}** · {plain(endpoint.url)}"  # typed by an admin
                   + (" · key saved" if endpoint.has_key else ""))
        left.markdown(details + (f" · models: {plain(', '.join(endpoint.models))}" if endpoint.models else ""))
        if right.button("Remove", key=f"remove_endpoint_{endpoint.slug}", icon=":material/delete:"):
            settings.remove_endpoint(endpoint.slug)
            st.rerun()
    with st.form("add_endpoint", clear_on_submit=True, border=True):
        name = st.text_input("Name", placeholder="Team vLLM", key="endpoint_name")
        url = st.text_input("Base URL", placeholder="http://gpu-box:8000/v1", key="endpoint_url")
        key = st.text_input("API key (optional)", type="password", key="endpoint_key")
        models_text = st.text_input("Models (optional, comma-separated; else the server's /models list)",
                                    key="endpoint_models")
        if st.form_submit_button("Add endpoint", icon=":material/add:"):
            try:  # the URL is checked, also what its host name resolves to now
                settings.add_endpoint(name, url, key, models_text.split(","))
            except ValueError as exc:
                st.error(f"Not added: {plain(str(exc))}.")
            else:
                st.toast(f"{plain(name)} added.", icon=":material/check:")
                st.rerun()


def _day(when: datetime) -> str:
    return f"{when:%Y-%m-%d %H:%M} UTC"
