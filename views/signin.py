"""The sign-in gate the router runs before every page, and the account box in the sidebar.

The mode comes from configuration (access/identity.py). Each rerun re-reads who is signed in from
``st.user`` or the trusted header (no network, no query); the users row is written once per session.
Renders nothing when imported.
"""

from __future__ import annotations

import streamlit as st

from access import identity
from access.identity import OIDC, PROXY, SINGLE, Config, Identity, NotAllowedError
from markup.safe_markdown import plain
from services import account

SIGNED_IN = "signed_in_as"  # session key: the external id the session's owner_id belongs to


def require_user(cfg: Config) -> int:
    """The signed-in user's id. Anyone else gets the sign-in screen (or the reason they can't use
    Chatdeck) and the script stops there, so no page runs for them."""
    try:
        who = _who(cfg)
    except NotAllowedError as refusal:
        _refused(cfg, str(refusal))
        st.stop()
    if who is None:
        _sign_in_screen(cfg)
        st.stop()
    if st.session_state.get(SIGNED_IN) != who.external_id:
        for key in list(st.session_state):  # nothing of a previous user's session survives a change of user
            del st.session_state[key]
        user = account.sign_in(who)
        st.session_state.update(owner_id=user.id, is_admin=user.is_admin, user_label=who.email or who.name,
                                user_name=who.name)
        st.session_state[SIGNED_IN] = who.external_id
    return int(st.session_state["owner_id"])


def _who(cfg: Config) -> Identity | None:
    if cfg.mode == SINGLE:
        return identity.local()
    if cfg.mode == OIDC:
        claims = st.user.to_dict()
        return identity.from_claims(claims, cfg) if claims.get("is_logged_in") else None
    return identity.from_headers(st.context.headers, cfg)


def _sign_in_screen(cfg: Config) -> None:
    st.title("Chatdeck")
    if cfg.mode == PROXY:
        st.error(f"Chatdeck expects the sign-in proxy to say who you are (the `{cfg.header}` header), and this "
                 "request came without it. Open Chatdeck through your team's address, or ask your admin.",
                 icon=":material/lock:")
        return
    st.markdown("Sign in to see your conversations.")
    if not cfg.providers:
        st.button("Sign in", icon=":material/login:", type="primary", on_click=st.login)
    for name in cfg.providers:
        st.button(f"Sign in with {name.capitalize()}", key=f"login_{name}", icon=":material/login:",
                  type="primary", on_click=st.login, args=(name,))


def _refused(cfg: Config, reason: str) -> None:
    st.title("Chatdeck")
    st.error(reason, icon=":material/block:")
    _sign_out_control(cfg)


def _sign_out_control(cfg: Config) -> None:
    if cfg.mode == OIDC:
        st.button("Sign out", icon=":material/logout:", on_click=_sign_out)
    elif cfg.mode == PROXY and cfg.sign_out_url:
        st.link_button("Sign out", cfg.sign_out_url, icon=":material/logout:")


def _sign_out() -> None:
    st.session_state.clear()
    st.logout()


def account_box(cfg: Config) -> None:
    """Who is signed in, and Sign out (team modes only): one row in the sidebar, opened on demand."""
    if cfg.mode == SINGLE:
        return
    with st.sidebar.popover(plain(st.session_state.get("user_name")) or "Account", icon=":material/account_circle:",
                            width="stretch"):
        admin = " · admin" if st.session_state.get("is_admin") else ""
        st.caption(f"Signed in as **{plain(st.session_state.get('user_label', ''))}**{admin}")  # from the identity
        _sign_out_control(cfg)
