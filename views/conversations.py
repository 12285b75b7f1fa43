"""The sidebar's conversation library: New chat, search, the list grouped by date with pinned ones on top, an
archive view, and each conversation's menu (rename, pin, archive, delete with a confirmation, export).

Each rerun runs at most two bounded queries (the list, or the search); exports are built only when clicked.
This module renders nothing when imported.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from markup.safe_markdown import plain
from services import library
from services.conversation_view import ConversationView
from services.library import ListedConversation

LIST_LIMIT = 50
SEARCH_LIMIT = 20
DIALOG = "library_dialog"  # session key: ("rename" | "delete", conversation id, title) while a dialog is open


def conversation_list(owner: int, current: ConversationView | None) -> None:
    """The whole library in the sidebar; ``current`` is highlighted and has the export entries."""
    sidebar = st.sidebar
    sidebar.button("New chat", icon=":material/add:", on_click=_open, args=(None,), width="stretch", key="new_chat")
    query = sidebar.text_input(
        "Search conversations", key="library_search", placeholder="Search conversations",
        label_visibility="collapsed", icon=":material/search:",
    )
    if query.strip():
        _search_results(owner, query, current)
    else:
        _listing(owner, current)
    _dialogs(owner, current)


def _listing(owner: int, current: ConversationView | None) -> None:
    archived = st.sidebar.toggle("Show archived", key="show_archived")
    groups, count = library.sidebar_groups(owner, archived=archived, limit=LIST_LIMIT, tz=_timezone())
    if not count:
        st.sidebar.caption("No archived conversations." if archived else "Your conversations will appear here.")
        return
    for name, items in groups:
        st.sidebar.caption(f"Archived · {name}" if archived else name)
        for conversation in items:
            _row(conversation, current)
    if count == LIST_LIMIT:
        st.sidebar.caption(f"The {LIST_LIMIT} most recent are shown; search finds the others.")


def _row(c: ListedConversation, current: ConversationView | None) -> None:
    """One button per conversation; the open one also gets its menu.

    Every element here is sent again on every rerun, before the page reaches the reply it streams,
    so the 50 rows stay one element each (a menu on every row made ~450 and delayed the first token).
    """
    is_current = current is not None and c.id == current.id
    label = (":material/push_pin: " if c.pinned and not c.archived else "") + plain(c.title or "Untitled")
    if not is_current:
        st.sidebar.button(label, key=f"conv_{c.id}", type="tertiary", on_click=_open,
                          args=(c.id, c.provider, c.model), width="stretch")
        return
    title, menu = st.sidebar.columns([6, 1], gap="small", vertical_alignment="center")
    title.button(label, key=f"conv_{c.id}", type="primary", on_click=_open, args=(c.id, c.provider, c.model),
                 width="stretch")
    with menu.popover("", icon=":material/more_vert:", type="tertiary", help="Rename, pin, archive, delete, export"):
        _menu(c, is_current)


def _menu(c: ListedConversation, is_current: bool) -> None:
    st.button("Rename", key=f"rename_{c.id}", icon=":material/edit:", on_click=_ask, args=("rename", c))
    if not c.archived:
        st.button("Unpin" if c.pinned else "Pin", key=f"pin_{c.id}", icon=":material/push_pin:",
                  on_click=_pin, args=(c.id, not c.pinned))
    st.button("Unarchive" if c.archived else "Archive", key=f"archive_{c.id}", icon=":material/archive:",
              on_click=_archive, args=(c.id, not c.archived))
    st.button("Delete", key=f"delete_{c.id}", icon=":material/delete:", on_click=_ask, args=("delete", c))
    if is_current:
        _exports(c)


def _exports(c: ListedConversation) -> None:
    """Download entries for the open conversation: built on click, in a thread of their own (no rerun)."""
    owner = c.owner_id
    reasoning = st.checkbox("Include reasoning", key=f"export_reasoning_{c.id}")
    name = _file_name(c.title)

    def markdown() -> str:
        return library.markdown(owner, c.id, reasoning=reasoning)

    def as_json() -> bytes:
        return library.json_export(owner, c.id, reasoning=reasoning)

    st.download_button("Export as Markdown", markdown, file_name=f"{name}.md", mime="text/markdown",
                       key=f"export_md_{c.id}", icon=":material/download:", on_click="ignore")
    st.download_button("Export as JSON", as_json, file_name=f"{name}.json", mime="application/json",
                       key=f"export_json_{c.id}", icon=":material/download:", on_click="ignore")


def _search_results(owner: int, query: str, current: ConversationView | None) -> None:
    found = library.search(owner, query, limit=SEARCH_LIMIT)
    hits = found.hits
    if not hits:
        st.sidebar.caption("No conversation matches every word.")
        return
    st.sidebar.caption(f"{len(hits)} best match{'es' if len(hits) > 1 else ''}")
    for hit, text in zip(hits, found.snippets, strict=True):
        is_current = current is not None and hit.conversation_id == current.id
        label = (":material/archive: " if hit.archived else "") + plain(hit.title or "Untitled")
        st.sidebar.button(label, key=f"hit_{hit.conversation_id}", type="primary" if is_current else "tertiary",
                          on_click=_open, args=(hit.conversation_id, hit.provider, hit.model), width="stretch")
        st.sidebar.caption(highlighted_markdown(text))


def highlighted_markdown(snippet: str) -> str:
    """A search snippet as Markdown: its text escaped, the matching words highlighted."""
    parts = re.split(f"({library.HIGHLIGHT_START}[^{library.HIGHLIGHT_END}]*{library.HIGHLIGHT_END})", snippet)
    out = []
    for part in parts:
        if part.startswith(library.HIGHLIGHT_START):
            out.append(f":orange-background[{_escape(part[1:-1])}]")
        else:
            out.append(_escape(part))
    return "".join(out)


def _escape(text: str) -> str:
    return plain(text)


# --- actions and their dialogs ----------------------------------------------------------------------


def _open(conversation_id: str | None, provider: str | None = None, model: str | None = None) -> None:
    if conversation_id is None:
        st.query_params.clear()
    else:
        st.query_params.from_dict({"c": conversation_id})
    if provider and model:
        st.session_state["provider"] = provider
        st.session_state[f"model_{provider}"] = model


def _pin(conversation_id: str, pinned: bool) -> None:
    library.set_pinned(int(st.session_state["owner_id"]), conversation_id, pinned)


def _archive(conversation_id: str, archived: bool) -> None:
    library.set_archived(int(st.session_state["owner_id"]), conversation_id, archived)
    st.toast("Archived: find it under Show archived, or by searching." if archived else "Back in your list.",
             icon=":material/archive:")


def _ask(action: str, c: ListedConversation) -> None:
    st.session_state[DIALOG] = (action, c.id, c.title)


def _close() -> None:
    st.session_state.pop(DIALOG, None)


def _dialogs(owner: int, current: ConversationView | None) -> None:
    pending = st.session_state.get(DIALOG)
    if not pending:
        return
    action, conversation_id, title = pending
    if action == "rename":
        _rename_dialog(owner, conversation_id, title)
    elif action == "delete":
        _delete_dialog(owner, conversation_id, title, current)


@st.dialog("Rename conversation", on_dismiss=_close)
def _rename_dialog(owner: int, conversation_id: str, title: str) -> None:
    with st.form("rename_form", border=False):
        new_title = st.text_input("Title", value=title, max_chars=500, key="rename_title")
        saved = st.form_submit_button("Save", type="primary", icon=":material/check:")
    if st.button("Cancel", key="rename_cancel"):
        _close()
        st.rerun()
    if saved:
        if not new_title.strip():
            st.error("A title cannot be empty.")
            return
        library.rename(owner, conversation_id, new_title)
        _close()
        st.rerun()


@st.dialog("Delete conversation?", on_dismiss=_close)
def _delete_dialog(owner: int, conversation_id: str, title: str, current: ConversationView | None) -> None:
    st.markdown(f"**{_escape(title or 'Untitled')}** and all its messages will be deleted. This cannot be undone.")
    left, right = st.columns(2)
    if left.button("Delete", key="delete_confirm", type="primary", icon=":material/delete:"):
        library.delete(owner, conversation_id)
        if current is not None and current.id == conversation_id:
            st.query_params.clear()
        _close()
        st.rerun()
    if right.button("Cancel", key="delete_cancel"):
        _close()
        st.rerun()


def _timezone() -> ZoneInfo:
    try:
        return ZoneInfo(st.context.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _file_name(title: str) -> str:
    return re.sub(r"[^\w-]+", "-", title.strip()).strip("-")[:60] or "conversation"
