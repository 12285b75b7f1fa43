"""The chat page's controls around messages: Load earlier, Stop, copy, regenerate, versions, edit and resend.

Messages come in pages of :data:`PAGE` (services/conversation_view.py), so a rerun costs the same for a
conversation of ten messages or of ten thousand. Actions run in widget callbacks, before
the page is drawn again. This module renders nothing when imported.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from runner.runner import get_runner
from runner.versions import Turn
from services import conversation_view, sending
from services.conversation_view import MessageView, Window
from views import refusals
from views.sidebar import Choice

PAGE = 50  # messages drawn at first, and added by each "Load earlier"
COPYING = "copying"  # session key: the id of the message whose text is shown for copying
EDITING = "editing"  # session key: the id of the user message being edited


# --- the window of messages ---------------------------------------------------------------------


def _pages_key(conversation_id: str) -> str:
    return f"pages_{conversation_id}"


def window(owner: int, conversation_id: str) -> Window:
    """The latest messages (``PAGE`` per page shown), whether earlier ones exist, and the last turn."""
    pages = int(st.session_state.get(_pages_key(conversation_id), 1))
    return conversation_view.window(owner, conversation_id, pages, PAGE)


def load_earlier_button(conversation_id: str) -> None:
    st.button(
        "Load earlier messages", key=f"earlier_{conversation_id}", icon=":material/expand_less:", type="tertiary",
        on_click=_load_earlier, args=(conversation_id,),
    )


def _load_earlier(conversation_id: str) -> None:
    key = _pages_key(conversation_id)
    st.session_state[key] = int(st.session_state.get(key, 1)) + 1


# --- Stop -----------------------------------------------------------------------------------------


def stop_button(slot: Any, message_id: int) -> None:
    """A Stop button (in ``slot``, above the chat input) for the reply being tailed."""
    slot.button("Stop", key=f"stop_{message_id}", icon=":material/stop_circle:", on_click=_stop, args=(message_id,),
                help="Stop this answer: the backend request is cancelled and the text so far is kept.")


def _stop(message_id: int) -> None:
    runner = get_runner()
    run = runner.get(message_id)
    if runner.cancel(message_id) and run is not None:
        run.saved.wait(5.0)  # redraw it as stored, marked "Stopped"


# --- actions under a message ----------------------------------------------------------------------


def actions(message: MessageView, turn: Turn | None, owner: int, conversation_id: str, choice: Choice, *,
            copying: int | None) -> Any:
    """Copy for every message; for the last turn also edit, regenerate and the version switch. ``copying``:
    :func:`copying_id`, read once per run (a page of 50 messages would otherwise read it 50 times).

    Returns the row of the last turn's prompt while its answer is written (else ``None``): the page adds the
    edit button there (:func:`edit_button`) when the answer ends in the same run.
    """
    if message.status == "streaming":
        return None
    done = turn is not None and not turn.streaming
    last_reply = done and turn is not None and turn.current.id == message.id
    last_prompt = turn is not None and turn.prompt_of(turn.current).id == message.id
    if not (last_reply or last_prompt):  # most messages: one light element (the browser draws 50 of them)
        _copy(message, copying)
        return None
    row = st.container(horizontal=True, gap="small", key=f"actions_{message.id}")
    with row:
        _copy(message, copying)
        if last_prompt and done:
            edit_button(message)
        if last_reply and turn is not None:
            st.button("", icon=":material/refresh:", type="tertiary", help="Regenerate", key=f"regen_{message.id}",
                      on_click=_regenerate, args=(owner, conversation_id, choice))
            if len(turn.replies) > 1:
                _version_switch(turn, owner, conversation_id)
    return None if done else row


def edit_button(message: MessageView) -> None:
    st.button("", icon=":material/edit:", type="tertiary", help="Edit and resend", key=f"edit_{message.id}",
              on_click=_start_editing, args=(message.id, message.content))


def copying_id() -> int | None:
    """The id of the message whose text is shown for copying (its copy icon was clicked), if any."""
    value = st.session_state.get(COPYING)
    return value if isinstance(value, int) else None


def _copy(message: MessageView, copying: int | None) -> None:
    """A copy icon showing the text in a code box with its copy button (Streamlit has no clipboard API)."""
    if not message.content:
        return
    st.button("", icon=":material/content_copy:", type="tertiary", key=f"copy_{message.id}",
              on_click=_toggle_copy, args=(message.id,))
    if copying == message.id:  # only the chosen message's text is sent twice
        st.code(message.content, language=None, wrap_lines=True)


def _toggle_copy(message_id: int) -> None:
    st.session_state[COPYING] = None if st.session_state.get(COPYING) == message_id else message_id


def _version_switch(turn: Turn, owner: int, conversation_id: str) -> None:
    index, count = turn.index, len(turn.replies)
    st.button("‹", key=f"version_prev_{turn.root}", type="tertiary", disabled=index == 0, help="Previous version",
              on_click=_select, args=(owner, conversation_id, turn.replies[max(0, index - 1)].id))
    st.caption(f"{index + 1}/{count}")
    st.button("›", key=f"version_next_{turn.root}", type="tertiary", disabled=index == count - 1,
              help="Next version", on_click=_select,
              args=(owner, conversation_id, turn.replies[min(count - 1, index + 1)].id))


def editing_id() -> int | None:
    """The id of the user message being edited, if any."""
    value = st.session_state.get(EDITING)
    return value if isinstance(value, int) else None


def edit_form(message: MessageView, owner: int, conversation_id: str, choice: Choice) -> None:
    """The last user message as an editable text with Send and Cancel (instead of its text)."""
    with st.chat_message("user"), st.form(key=f"edit_form_{message.id}", border=False):
        st.text_area("Edit your message", key=f"edit_text_{message.id}")  # filled by _start_editing
        with st.container(horizontal=True, gap="small"):
            st.form_submit_button("Send", icon=":material/send:", type="primary",
                                  on_click=_resend, args=(message.id, owner, conversation_id, choice))
            st.form_submit_button("Cancel", on_click=_stop_editing)


def _start_editing(message_id: int, content: str) -> None:
    st.session_state[EDITING] = message_id
    st.session_state[f"edit_text_{message_id}"] = content


def _stop_editing() -> None:
    st.session_state.pop(EDITING, None)


def _resend(message_id: int, owner: int, conversation_id: str, choice: Choice) -> None:
    prompt = str(st.session_state.get(f"edit_text_{message_id}", ""))
    try:
        sending.edit(get_runner(), owner_id=owner, conversation_id=conversation_id, prompt=prompt,
                   provider=choice.provider, model=choice.model, options=choice.options)
    except refusals.REFUSED as refusal:  # nothing was sent: the edit stays open with its text
        refusals.remember("chat", refusal)
        return
    except sending.TurnError as exc:
        st.toast(str(exc), icon=":material/info:")
    refusals.forget()
    _stop_editing()


def _regenerate(owner: int, conversation_id: str, choice: Choice) -> None:
    _attempt(lambda: sending.regenerate(get_runner(), owner_id=owner, conversation_id=conversation_id,
                                        provider=choice.provider, model=choice.model, options=choice.options))


def _select(owner: int, conversation_id: str, reply_id: int) -> None:
    _attempt(lambda: sending.select_version(get_runner(), owner, conversation_id, reply_id))


def _attempt(action: Any) -> None:
    try:
        action()
    except sending.TurnError as exc:
        st.toast(str(exc), icon=":material/info:")
    except refusals.REFUSED as refusal:  # rate limit, disabled backend: shown above the chat input
        refusals.remember("chat", refusal)
