"""The chat page: one conversation with one backend, its reply streaming in.

Registered by the router as ``st.Page(chat.render, ...)``; renders nothing when imported.
"""

from __future__ import annotations

import streamlit as st

from pages import components, sidebar
from providers import registry
from runner.runner import get_runner
from storage import repository as repo
from storage.db import get_engine, session

VISIBLE_MESSAGES = 50


def render() -> None:
    owner = sidebar.owner_id()
    conversation = sidebar.current_conversation(owner)
    choice = sidebar.backend_picker(conversation)
    backend = registry.backend(choice.provider)
    runner = get_runner()

    prompt = st.chat_input(f"Message {backend.display_name}…", key="prompt", submit_mode="disable", max_chars=100_000)
    if prompt and prompt.strip():
        with session(get_engine()) as s:
            if conversation is None:
                title = prompt.strip().splitlines()[0][:60]
                conversation = repo.create_conversation(
                    s, owner, provider=choice.provider, model=choice.model, title=title
                )
            elif (conversation.provider, conversation.model) != (choice.provider, choice.model):
                repo.set_conversation_model(s, owner, conversation.id, choice.provider, choice.model)
        st.query_params.from_dict({"c": conversation.id})
        runner.start(
            owner_id=owner, conversation_id=conversation.id, provider=choice.provider,
            model=choice.model, prompt=prompt, options=choice.options,
        )
    sidebar.conversation_list(owner, conversation)  # after sending, so a new chat is listed at once

    if conversation is None:
        st.title("Chatdeck")
        st.caption(f"Start a conversation with **{backend.display_name}** · {choice.model}. "
                   "Your chats are saved and stay here after a reload.")
        return

    st.subheader(conversation.title or "Untitled", anchor=False)
    with session(get_engine()) as s:
        total = repo.count_messages(s, owner, conversation.id)
        messages = repo.recent_messages(s, owner, conversation.id, limit=VISIBLE_MESSAGES)
    if total > len(messages):
        st.caption(f"Showing the latest {len(messages)} of {total} messages.")
    for message in messages:
        run = runner.get(message.id) if message.status == "streaming" else None
        if run is not None:
            components.render_live(message, run)
        else:
            components.render_stored(message)
