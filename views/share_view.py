"""The share dialog (chat and compare pages) and the lists of the Shared page.

Draws only: every action goes through sharing/service.py. Renders nothing when imported.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import streamlit as st

from markup.safe_markdown import plain
from sharing import service
from sharing.service import ShareProblem, ShareView
from views.callbacks import ignoring_result

SHARED_PATH = "shared"  # the Shared page's url_path; a share opens at shared?id=<share id>


def share_link(share_id: str) -> str:
    """The address a share opens at, on the server the user is looking at."""
    base = ""
    url = getattr(st.context, "url", None)
    if url:
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}"
    return f"{base}/{SHARED_PATH}?id={share_id}"


def audience_label(view: ShareView) -> str:
    return "everyone signed in" if view.audience == "team" else view.viewer_name


def share_button(owner: int, kind: str, item_id: str) -> None:
    """A "Share" button opening the share dialog for the owner's conversation or comparison."""
    if st.button("Share", key=f"share_{kind}_{item_id}", icon=":material/share:"):
        _dialog(owner, kind, item_id)


@st.dialog("Share", width="large")
def _dialog(owner: int, kind: str, item_id: str) -> None:
    st.caption(f"People you share this {kind} with can open it read-only at its link and continue it as their "
               "own copy. Your backend logins and the backends' ids never go with it.")
    address = st.text_input("Teammate's address", key="share_address", placeholder="name@example.com")
    person, everyone, nobody = st.columns(3)
    try:
        if person.button("Share with this person", icon=":material/person_add:", disabled=not address.strip()):
            service.share(owner, kind, item_id, address)
        if everyone.button("Share with everyone", icon=":material/groups:"):
            service.share(owner, kind, item_id, None)
    except ShareProblem as problem:
        st.error(str(problem), icon=":material/error:")
    if nobody.button("Share with nobody", icon=":material/block:"):
        service.revoke_item(owner, kind, item_id)
    current = service.shares_of(owner, kind, item_id)
    if not current:
        st.caption("Not shared with anyone.")
    for view in current:
        _share_row(owner, view, show_title=False)


def _share_row(owner: int, view: ShareView, *, show_title: bool) -> None:
    text, link, button = st.columns([3, 4, 1], vertical_alignment="center")
    what = f"**{plain(view.title)}** ({view.kind}) · " if show_title else ""
    text.markdown(f"{what}shared with **{plain(audience_label(view))}**",
                  help=f"since {view.created_at:%Y-%m-%d %H:%M} UTC")
    link.code(share_link(view.id), language=None)
    button.button("Revoke", key=f"revoke_{view.id}", icon=":material/link_off:",
                  on_click=ignoring_result(service.revoke), args=(owner, view.id))


def shared_by_me(owner: int) -> None:
    """Everything the user shares, and with whom, each with a Revoke button."""
    st.subheader("Shared by me", anchor=False)
    mine = service.shared_by_me(owner)
    if not mine:
        st.caption("You share nothing. Use **Share** on a conversation or a comparison.")
    for view in mine:
        _share_row(owner, view, show_title=True)


def shared_with_me(viewer: int) -> None:
    """What others share with this user, each opening read-only."""
    st.subheader("Shared with me", anchor=False)
    theirs = service.shared_with_me(viewer)
    if not theirs:
        st.caption("Nothing is shared with you yet.")
    for view in theirs:
        to = "everyone" if view.audience == "team" else "you"
        st.button(plain(view.title), key=f"open_{view.id}", icon=":material/visibility:",
                  help=f"A {view.kind} {plain(view.owner_name)} shared with {to}",
                  on_click=st.query_params.from_dict, args=({"id": view.id},))
        st.caption(f"{view.kind.capitalize()} shared by {plain(view.owner_name)} with {to}, "
                   f"{view.created_at:%Y-%m-%d %H:%M} UTC")
