"""The Shared page (``/shared``): what others share with me, what I share (with Revoke), and a shared item
read-only at its own address (``/shared?id=<share id>``) with "Continue as my copy".

A shared conversation is drawn by the same message rendering as the owner's own (views/components.py), so the
same hostile-content rules apply. Registered by the router; renders nothing when imported.
"""

from __future__ import annotations

import string

import streamlit as st

from markup.safe_markdown import plain
from providers import registry
from sharing import service
from views import chat, components, presets_view, share_view, sidebar
from views.compare_view import figures

NOT_FOUND = "That shared item was not found. It may no longer be shared with you, or the link is wrong."


def render() -> None:
    viewer = sidebar.owner_id()
    wanted = st.query_params.get("id")
    if wanted:
        opened = service.open_shared(viewer, wanted)
        if opened is None:
            st.warning(NOT_FOUND, icon=":material/link_off:")
        elif isinstance(opened, service.OpenedComparison):
            _comparison(viewer, opened)
            return
        else:
            _conversation(viewer, opened)
            return
    st.title("Shared", anchor=False)
    share_view.shared_with_me(viewer)
    share_view.shared_by_me(viewer)


def _byline(view: service.ShareView) -> None:
    st.caption(f":material/visibility: Read-only · shared by **{plain(view.owner_name)}** on "
               f"{view.created_at:%Y-%m-%d %H:%M} UTC")


def _conversation(viewer: int, opened: service.OpenedConversation) -> None:
    st.subheader(plain(opened.share.title), anchor=False)
    _byline(opened.share)
    if st.button("Continue as my copy", icon=":material/fork_right:", key="fork"):
        _fork(viewer, opened.share.id, None)
    if opened.system_prompt:
        with st.expander("System prompt", icon=":material/settings_suggest:"):
            st.text(opened.system_prompt)
    for message in opened.messages:
        components.render_stored(message)


def _comparison(viewer: int, opened: service.OpenedComparison) -> None:
    shown = opened.comparison
    st.subheader(plain(shown.title or "Comparison"), anchor=False)
    _byline(opened.share)
    reveal = not shown.blind or bool(shown.rounds and shown.rounds[-1].verdict)
    labels = _labels(shown, reveal)
    for (column_id, _, _), cell in zip(shown.columns, st.columns(len(shown.columns)), strict=True):
        cell.markdown(f"**{plain(labels[column_id])}**")
        if cell.button("Continue as my copy", key=f"fork_{column_id}", icon=":material/fork_right:"):
            _fork(viewer, opened.share.id, column_id)
    for round_ in shown.rounds:
        with st.chat_message("user"):
            st.markdown(components.block_markdown(round_.prompt))  # another person's text
        for (column_id, _, _), cell in zip(shown.columns, st.columns(len(shown.columns)), strict=True):
            message = round_.answers.get(column_id)
            with cell:
                if message is None:
                    st.caption("No answer recorded.")
                    continue
                components.render_stored(message)
                line = figures(message)
                if line:
                    st.caption(line)
        if round_.verdict:
            text = {"tie": "a tie", "all_bad": "all bad"}.get(round_.verdict) or \
                f"best: {labels.get(round_.winner or -1, '?')}"
            st.caption(f":material/how_to_vote: Voted {plain(text)}.")


def _labels(shown: service.SharedComparison, reveal: bool) -> dict[int, str]:
    backends = registry.all_backends()
    labels = {}
    for position, (column_id, provider, model) in enumerate(shown.columns):
        if not reveal:
            labels[column_id] = f"Model {string.ascii_uppercase[position]}"
        else:
            name = backends[provider].display_name if provider in backends else provider
            labels[column_id] = f"{name} · {model}"
    return labels


def _fork(viewer: int, share_id: str, column_id: int | None) -> None:
    try:
        conversation_id, provider, model = service.continue_as_copy(viewer, share_id, column_id)
    except LookupError:
        st.warning(NOT_FOUND, icon=":material/link_off:")
        return
    presets_view.apply_choice(provider, model)  # the chat page's pickers: the copy's backend and model
    st.switch_page(st.Page(chat.render, title="Chat", url_path="chat"), query_params={"c": conversation_id})
