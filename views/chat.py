"""The chat page: one conversation with one backend, its reply streaming in.

Registered by the router as ``st.Page(chat.render, ...)``; renders nothing when imported.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import streamlit as st

from markup.safe_markdown import plain
from providers import registry
from providers.events import Attachment
from runner import versions
from runner.runner import get_runner
from services import conversation_view, sending
from services.conversation_view import ConversationView, MessageView
from views import components, keyboard, presets_view, refusals, share_view, sidebar, turn_controls, uploads
from views.sidebar import Choice

IMAGE_ONLY_PROMPT = "What is in this image?"  # sent when images come without text


def render() -> None:
    owner = sidebar.owner_id()
    conversation = sidebar.current_conversation(owner)
    choice = sidebar.backend_picker(conversation)
    backend = registry.backend(choice.provider)
    runner = get_runner()
    new_system = presets_view.system_prompt_box(owner, conversation, backend)
    presets_view.presets_box(owner, choice.provider, choice.model,
                             {"temperature": choice.options.temperature, "top_p": choice.options.top_p},
                             conversation.system_prompt if conversation else new_system)

    stop_slot = st.bottom.empty()  # a Stop button above the input while a reply is written
    notice_slot = st.bottom.empty()  # why the last message was not sent (rate limit, disabled backend)
    refusals.restore("prompt")
    value = st.chat_input(
        f"Message {backend.display_name}…", key="prompt", submit_mode="disable", max_chars=100_000,
        accept_file="multiple" if choice.vision else False, file_type=uploads.IMAGE_TYPES if choice.vision else None,
    )
    prompt, attachments = _submitted(value)
    if prompt.strip():
        typed = (value.text or "") if value is not None and not isinstance(value, str) else (value or "")
        try:
            sent = sending.send(
                runner, owner_id=owner, conversation=conversation.id if conversation else None,
                provider=choice.provider, model=choice.model, prompt=prompt, attachments=attachments,
                options=choice.options, system_prompt=new_system,
            )
            st.query_params.from_dict({"c": sent.conversation_id})
            conversation = conversation_view.conversation(owner, sent.conversation_id)
        except refusals.REFUSED as refusal:
            refusals.refuse("chat", "prompt", typed, refusal, files=len(attachments))
        refusals.forget()
    refusals.show("chat", notice_slot)
    sidebar.conversation_list(owner, conversation)  # after sending, so a new chat is listed at once
    keyboard.shortcuts_help()

    if conversation is None:
        with st.sidebar:
            keyboard.install()
        st.title("Chatdeck")
        st.caption(f"Start a conversation with **{plain(backend.display_name)}** · {plain(choice.model)}. "
                   "Your chats are saved and stay here after a reload.")
        return

    st.subheader(plain(conversation.title or "Untitled"), anchor=False)  # titles come from backends and imports
    share_view.share_button(owner, "conversation", conversation.id)
    shown = turn_controls.window(owner, conversation.id)
    turn = shown.turn
    with st.container():  # always drawn, so the messages keep their places when the button comes or goes
        if shown.more:
            turn_controls.load_earlier_button(conversation.id)
    visible = versions.visible(shown.messages)
    with st.sidebar:  # before any live reply, so the shortcuts (Esc: stop) work while it is written
        keyboard.install(_last_answer(visible))
    prompt_row = footer = finished = None  # where a reply that ends in this run gets its stored drawing's buttons
    editing, copying, live = turn_controls.editing_id(), turn_controls.copying_id(), components.drawn_live()
    for message in visible:
        run = runner.get(message.id) if message.status == "streaming" else None
        if run is not None:
            turn_controls.stop_button(stop_slot, message.id)
            drawn = components.render_live(message, run)
            stop_slot.empty()
            if run.saved.is_set():
                footer, finished = drawn, message.id
        elif message.id == editing:
            turn_controls.edit_form(message, owner, conversation.id, choice)
        else:
            prompt_row = components.render_stored(message, partial(
                turn_controls.actions, message, turn, owner, conversation.id, choice, copying=copying),
                live=live) or prompt_row
    if finished is not None:
        _show_finished(owner, conversation, choice, finished, footer, prompt_row, copying)


def _show_finished(owner: int, conversation: ConversationView, choice: Choice, finished: int, footer: Any,
                   prompt_row: Any, copying: int | None) -> None:
    """A reply this run drew live is saved: add what its stored drawing has, in place, instead of a rerun.

    Its buttons go into its footer, the edit button into its prompt's row, and the answer to the keyboard
    shortcuts (Alt+C). The next rerun draws the same elements in the same places. A conversation renamed
    meanwhile (a backend's title; it is also in the sidebar's list), or whose shown version changed, is drawn
    again whole instead.
    """
    now = conversation_view.conversation(owner, conversation.id)
    shown = turn_controls.window(owner, conversation.id)
    turn = shown.turn
    if now is None or now.title != conversation.title or turn is None or turn.streaming or turn.current.id != finished:
        components.redraw_finished()
    with footer:
        turn_controls.actions(turn.current, turn, owner, conversation.id, choice, copying=copying)
    if prompt_row is not None:
        with prompt_row:
            turn_controls.edit_button(turn.prompt_of(turn.current))
    with st.sidebar:
        keyboard.install(_last_answer(versions.visible(shown.messages)), again=True)


def _last_answer(messages: list[MessageView]) -> str | None:
    """The text of the last finished answer on screen (what Alt+C copies), as received."""
    for message in reversed(messages):
        if message.role == "assistant" and message.status != "streaming":
            return message.content or None
    return None


def _submitted(value: Any) -> tuple[str, list[Attachment]]:
    """The text and the checked images of a chat-input submission (images only for vision models).

    A file refused at the image door sends nothing: the question was probably about it. The typed
    prompt goes back into the input and the reason stays above it (as for the rate limit).
    """
    if value is None or isinstance(value, str):
        return value or "", []
    attachments, problems = uploads.prepare_images(value.files or [])
    text = value.text or ""
    if problems:
        refusals.refuse("chat", "prompt", text, uploads.UploadRefused(problems), files=len(value.files))
    return (IMAGE_ONLY_PROMPT if attachments and not text.strip() else text), attachments
