"""The sections of the Admin page (views/admin.py): users, backends, the default rate limit, usage.

Every read is bounded and aggregated in SQL (services/admin.py); every change runs in a widget callback
that checks again that the session's user is an admin. Logins are never shown: only whether the server
has one. This module renders nothing when imported.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from access import policy
from markup.safe_markdown import plain
from providers import registry
from providers.base import BackendInfo
from runner import health
from services import account, admin
from views import health_badges

PERIODS = {"Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90}
DEFAULT_PERIOD = "Last 7 days"


def _admin() -> bool:
    """Whether this session's user is an admin (checked again in every action)."""
    owner = st.session_state.get("owner_id")
    if owner is not None and account.is_admin(int(owner)):
        return True
    st.toast("Only admins can change this.", icon=":material/lock:")
    return False


def _period() -> tuple[str, int]:
    label = st.segmented_control("Period", list(PERIODS), default=DEFAULT_PERIOD, key="admin_period") or DEFAULT_PERIOD
    return label, PERIODS[label]


def _limit_text(limit: int) -> str:
    return "no limit" if limit == 0 else f"{limit} per minute"


# --- users --------------------------------------------------------------------------------------------


def users_section() -> None:
    label, days = _period()
    default = admin.current_policy().rate_limit
    with st.spinner("Counting messages…"):
        users = admin.users(days)
    if not users:
        st.info("Nobody has used Chatdeck yet.", icon=":material/group:")
        return
    table = pd.DataFrame({
        "User": [u.label for u in users],
        "Name": [u.display_name for u in users],
        "Admin": [u.is_admin for u in users],
        "Created": [u.created_at for u in users],
        "Last seen": [u.last_seen_at for u in users],
        "Messages": [u.replies for u in users],
        "Rate limit": [_limit_text(u.rate_limit) if u.rate_limit is not None else f"default ({_limit_text(default)})"
                       for u in users],
    })
    st.dataframe(table, hide_index=True, column_config={
        "Admin": st.column_config.CheckboxColumn("Admin"),
        "Created": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD"),
        "Last seen": st.column_config.DatetimeColumn("Last seen", format="YYYY-MM-DD HH:mm"),
        "Messages": st.column_config.NumberColumn(f"Messages ({label.lower()})",
                                                  help="Replies asked of any backend: chat, regenerate, compare, API"),
    })
    if len(users) == admin.USERS_LIMIT:
        st.caption(f"The {admin.USERS_LIMIT} most recently seen users.")
    _user_limit_form(users, default)


def _user_limit_form(users: list[admin.UserActivity], default: int) -> None:
    st.subheader("A user's rate limit", anchor=False)
    by_id = {u.id: u for u in users}
    chosen = st.selectbox("User", list(by_id), format_func=lambda i: by_id[i].label, key="admin_limit_user")
    user = by_id[chosen]
    # Keys per user: switching users shows that user's values, not the last one's edits.
    own_key, value_key = f"admin_limit_default_{user.id}", f"admin_limit_value_{user.id}"
    st.session_state.setdefault(own_key, user.rate_limit is None)
    st.session_state.setdefault(value_key, user.rate_limit if user.rate_limit is not None else default)
    use_default = st.checkbox(f"Use the server's default ({_limit_text(default)})", key=own_key)
    st.number_input("Messages per minute (0: no limit)", min_value=0, max_value=admin.MAX_RATE_LIMIT, step=1,
                    key=value_key, disabled=use_default)
    st.button("Save", key="admin_limit_save", icon=":material/save:", type="primary", on_click=_save_user_limit,
              args=(user.id, user.label))


def _save_user_limit(user_id: int, label: str) -> None:
    if not _admin():
        return
    limit = None if st.session_state.get(f"admin_limit_default_{user_id}") else int(
        st.session_state.get(f"admin_limit_value_{user_id}", 0))
    saved = admin.set_user_limit(user_id, limit)
    if saved:
        what = "the server's default" if limit is None else _limit_text(limit)
        st.toast(f"{plain(label)}: {what}.", icon=":material/check:")
    else:
        st.toast(f"{plain(label)} no longer exists.", icon=":material/error:")


# --- backends -----------------------------------------------------------------------------------------


def backends_section() -> None:
    current = admin.current_policy()
    team = admin.team_mode()
    st.caption("A disabled backend is switched off for everyone: pickers say so, the compare page leaves it out, "
               "and nothing is sent to it. Users' own logins are theirs; a login the server has in its environment "
               "is used for users without one only where you allow it"
               + (" (in single-user mode it is, unless you switch it off)." if not team else "."))
    for info in registry.all_backends().values():
        with st.container(border=True):
            _backend_row(info, current)


def _backend_row(info: BackendInfo, current: admin.Policy) -> None:
    name = info.name
    enabled_key, login_key = f"admin_enabled_{name}", f"admin_server_login_{name}"
    st.session_state[enabled_key] = name not in current.disabled  # what is stored now, not a stale click
    left, right = st.columns([3, 2], vertical_alignment="center")
    off = f" {health_badges.badge(health.DISABLED)}" if name in current.disabled else ""
    left.markdown(f"**{plain(info.display_name)}** {plain(name)}{off}")
    right.toggle("Enabled", key=enabled_key, on_change=_toggle_backend, args=(name, info.display_name))
    if not info.credential_fields:
        left.caption("Needs no login.")
        return
    envs = ", ".join(f"`{f.env}`" for f in info.credential_fields)
    if info.server_credentials() is None:
        left.caption(f"Users log in with their own account. No server login configured ({envs}).")
        return
    st.session_state[login_key] = admin.server_login_allowed(name)
    left.caption(f"The server has a login ({envs}); its values are never shown.")
    right.toggle("Let users use the server's login", key=login_key, on_change=_toggle_server_login,
                 args=(name, info.display_name),
                 help="Users who have not saved a login of their own in Settings use the server's.")


def _toggle_backend(name: str, display_name: str) -> None:
    if not _admin():
        return
    enabled = bool(st.session_state.get(f"admin_enabled_{name}"))
    admin.set_backend_enabled(name, enabled)
    st.toast(f"{plain(display_name)} {'enabled' if enabled else 'disabled'}.", icon=":material/check:")


def _toggle_server_login(name: str, display_name: str) -> None:
    if not _admin():
        return
    allowed = bool(st.session_state.get(f"admin_server_login_{name}"))
    admin.set_server_login(name, allowed)
    what = "may now use" if allowed else "can no longer use"
    st.toast(f"Users {what} the server's {plain(display_name)} login.", icon=":material/check:")


# --- the default rate limit -------------------------------------------------------------------------


def rate_limit_section() -> None:
    current = admin.current_policy()
    allowance = "no limit" if current.rate_limit == 0 else f"{current.rate_limit} messages per minute"
    st.markdown(f"By default each user may send **{allowance}** (chat messages, regenerations, each column of a "
                "comparison, API requests), unless you set their own limit under Users.")
    source = f"`{policy.ENV_RATE_LIMIT}`" if current.rate_limit_from_env else "this page"
    st.caption(f"The default comes from {source}.")
    st.session_state.setdefault("admin_rate_limit", current.rate_limit)
    st.number_input("Messages per minute per user (0: no limit)", min_value=0, max_value=admin.MAX_RATE_LIMIT,
                    step=1, key="admin_rate_limit")
    left, right = st.columns(2)
    left.button("Save", key="admin_rate_limit_save", icon=":material/save:", type="primary",
                on_click=_save_default_limit)
    if not current.rate_limit_from_env:
        right.button(f"Use {policy.ENV_RATE_LIMIT} ({_limit_text(policy.env_rate_limit())})",
                     key="admin_rate_limit_reset", icon=":material/undo:", on_click=_reset_default_limit)


def _save_default_limit() -> None:
    if not _admin():
        return
    limit = int(st.session_state.get("admin_rate_limit", 0))
    admin.set_default_rate_limit(limit)
    st.toast(f"Default rate limit: {_limit_text(limit)}.", icon=":material/check:")


def _reset_default_limit() -> None:
    if not _admin():
        return
    admin.set_default_rate_limit(None)
    st.session_state["admin_rate_limit"] = policy.env_rate_limit()
    st.toast(f"Default rate limit from {policy.ENV_RATE_LIMIT} again.", icon=":material/check:")


# --- usage --------------------------------------------------------------------------------------------


def usage_section() -> None:
    label, days = _period()
    with st.spinner("Adding up usage…"):
        rows = admin.usage(days)
    if not rows:
        st.info(f"No messages in the {label.lower()}. Usage appears here as people chat.",
                icon=":material/bar_chart:")
        return
    backends = registry.all_backends()
    data = pd.DataFrame({
        "day": [pd.Timestamp(r.day) for r in rows],
        "user": [r.user for r in rows],
        "backend": [backends[r.provider].display_name if r.provider in backends else r.provider for r in rows],
        "messages": [r.replies for r in rows],
    })
    st.caption(f"{int(data['messages'].sum()):,} messages from {data['user'].nunique()} users in the "
               f"{label.lower()} (UTC days; every reply asked of a backend counts).")
    per_day = (
        alt.Chart(data, title="Messages per day, by backend")
        .mark_bar()
        .encode(x=alt.X("yearmonthdate(day):T", title=None), y=alt.Y("sum(messages):Q", title="Messages"),
                color=alt.Color("backend:N", title="Backend"),
                tooltip=[alt.Tooltip("yearmonthdate(day):T", title="Day"), "backend:N",
                         alt.Tooltip("sum(messages):Q", title="Messages")])
    )
    st.altair_chart(per_day, width="stretch")
    per_user = (
        alt.Chart(data, title="Messages per user, by backend")
        .mark_bar()
        .encode(y=alt.Y("user:N", title=None, sort="-x"), x=alt.X("sum(messages):Q", title="Messages"),
                color=alt.Color("backend:N", title="Backend"),
                tooltip=["user:N", "backend:N", alt.Tooltip("sum(messages):Q", title="Messages")])
        .properties(height=alt.Step(28))  # a fixed height in pixels squeezes a few bars into a line
    )
    st.altair_chart(per_user, width="stretch")
