"""Two sections of the Settings page: the user's REST API tokens, and (for admins) custom endpoints.

Called by views/settings.py; renders nothing when imported. Every read is one bounded query.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from api import tokens
from markup.safe_markdown import plain
from providers import endpoint_urls, registry
from storage import api_tokens, endpoints
from storage.db import get_engine, session
from storage.models import User, utcnow

JUST_ISSUED = "api_token_just_issued"  # session key of the token shown once, then forgotten


def is_admin(owner: int) -> bool:
    with session(get_engine()) as s:
        user = s.get(User, owner)
        return bool(user and user.is_admin)


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
        lifetime = right.selectbox("Expires after", list(tokens.LIFETIMES), index=1, key="token_lifetime")
        if st.form_submit_button("Create token", icon=":material/add:"):
            with session(get_engine()) as s:
                new = tokens.issue(s, owner, name=name or "API token", lifetime=tokens.LIFETIMES[lifetime])
            st.session_state[JUST_ISSUED] = new.token
            st.rerun()
    with session(get_engine()) as s:
        rows = [(t.id, t.name, t.created_at, t.expires_at, t.revoked_at, t.last_used_at)
                for t in api_tokens.list_tokens(s, owner)]
    if not rows:
        st.caption("No tokens yet.")
    now = utcnow()
    for token_id, name, created, expires, revoked, used in rows:
        state = "revoked" if revoked else ("expired" if expires <= now else "active")
        left, right = st.columns([4, 1], vertical_alignment="center")
        left.markdown(f"**{plain(name)}** · {state} · created {_day(created)} · expires {_day(expires)}"
                      + (f" · last used {_day(used)}" if used else "")
                      + f"  \nScopes: {', '.join(tokens.SCOPES)}")
        if state == "active" and right.button("Revoke", key=f"revoke_token_{token_id}", icon=":material/block:"):
            with session(get_engine()) as s:
                api_tokens.revoke(s, owner, token_id)
            st.toast(f"Token {plain(repr(name))} revoked.", icon=":material/check:")
            st.rerun()


def custom_endpoint_section() -> None:
    st.subheader("Custom endpoints", anchor=False)
    st.caption("OpenAI-compatible servers (Ollama, vLLM, TGI, llama.cpp) everyone here can chat with: each appears "
               "as a backend of its own. Base URL up to `/v1`, e.g. `http://localhost:11434/v1` for Ollama.")
    with session(get_engine()) as s:
        rows = [(e.slug, e.display_name, endpoints.shown_url(e), list(e.models), bool(e.secret))
                for e in endpoints.list_endpoints(s)]
    for slug, name, url, models, has_key in rows:
        left, right = st.columns([4, 1], vertical_alignment="center")
        details = f"**{plain(name)}** · {plain(url)}" + (" · key saved" if has_key else "")  # typed by an admin
        left.markdown(details + (f" · models: {plain(', '.join(models))}" if models else ""))
        if right.button("Remove", key=f"remove_endpoint_{slug}", icon=":material/delete:"):
            with session(get_engine()) as s:
                endpoints.remove(s, slug)
            registry.refresh()
            st.rerun()
    with st.form("add_endpoint", clear_on_submit=True, border=True):
        name = st.text_input("Name", placeholder="Team vLLM", key="endpoint_name")
        url = st.text_input("Base URL", placeholder="http://gpu-box:8000/v1", key="endpoint_url")
        key = st.text_input("API key (optional)", type="password", key="endpoint_key")
        models_text = st.text_input("Models (optional, comma-separated; else the server's /models list)",
                                    key="endpoint_models")
        if st.form_submit_button("Add endpoint", icon=":material/add:"):
            try:
                url = endpoint_urls.check_resolved(url)  # also what its host name resolves to now
                with session(get_engine()) as s:
                    endpoints.add(s, display_name=name, base_url=url, api_key=key,
                                  models=[m for m in models_text.split(",") if m.strip()])
            except ValueError as exc:
                st.error(f"Not added: {plain(str(exc))}.")
            else:
                registry.refresh()
                st.toast(f"{plain(name)} added.", icon=":material/check:")
                st.rerun()


def _day(when: datetime) -> str:
    return f"{when:%Y-%m-%d %H:%M} UTC"
