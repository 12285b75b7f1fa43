"""The chat page's system prompt box and presets, and the compare page's "fill from a preset".

Draws only: presets are read and written through sharing/service.py. Renders nothing when imported.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from markup.safe_markdown import plain
from providers import registry
from providers.base import BackendInfo
from services.conversation_view import ConversationView
from sharing import service
from views.callbacks import ignoring_result

NEW_CHAT_SYSTEM = "system_prompt_new"  # session key: the system prompt a new chat starts with


def system_prompt_box(owner: int, conversation: ConversationView | None, backend: BackendInfo) -> str:
    """The conversation's system prompt (editable), or the one a new chat will start with; says how this
    backend receives it. Returns the prompt for a new chat ("" when a conversation is open)."""
    with st.sidebar.expander("System prompt", icon=":material/settings_suggest:",
                             expanded=bool(conversation and conversation.system_prompt)):
        note(f"{plain(backend.display_name)}: {plain(backend.system_prompt_help)}.")
        if conversation is None:
            return str(st.text_area("System prompt for the new chat", key=NEW_CHAT_SYSTEM, height=100,
                                    placeholder="e.g. Answer briefly, in British English."))
        key = f"system_{conversation.id}"
        st.session_state.setdefault(key, conversation.system_prompt)
        st.text_area("System prompt of this conversation", key=key, height=100)
        if st.session_state[key] != conversation.system_prompt:
            st.button("Save system prompt", key=f"save_{key}", icon=":material/save:",
                      on_click=ignoring_result(service.set_system_prompt),
                      args=(owner, conversation.id, st.session_state[key]))
            if backend.system_prompt != "message":
                note("It applies to the next new backend chat: the backend keeps the one this chat began with.")
    return ""


def note(text: str) -> None:
    """A quiet line inside a sidebar box (Markdown, not a caption: the sidebar's captions head the library)."""
    st.markdown(f":gray[{text}]")


def presets_box(owner: int, provider: str, model: str, options: dict[str, float | None], system_prompt: str) -> None:
    """Start a chat from a preset in one click; save the current settings as a preset (admins: for the team)."""
    is_admin = bool(st.session_state.get("is_admin"))
    with st.sidebar.expander("Presets", icon=":material/bookmarks:"):
        items = service.visible_presets(owner)
        if not items:
            note("No presets yet.")
        for preset in items:
            start, remove = st.columns([5, 1], vertical_alignment="center")
            label = (":material/groups: " if preset.team else "") + plain(preset.name)
            start.button(label, key=f"preset_{preset.id}", width="stretch", on_click=_start, args=(owner, preset.id),
                         help=f"New chat: {plain(preset.provider)} · {plain(preset.model)}"
                              + (" · with a system prompt" if preset.system_prompt else ""))
            if (preset.team and is_admin) or (not preset.team and preset.owner_id == owner):
                remove.button("", key=f"preset_delete_{preset.id}", icon=":material/delete:", type="tertiary",
                              help="Delete this preset", on_click=ignoring_result(service.delete_preset),
                              args=(owner, preset.id), kwargs={"is_admin": is_admin})
        with st.form("save_preset", clear_on_submit=True, border=False):
            name = st.text_input("Preset name", placeholder="Save the current backend, model, sampling and "
                                                            "system prompt as…")
            team = st.checkbox("For the whole team", help="Admins curate the team's presets.") if is_admin else False
            if st.form_submit_button("Save as preset", icon=":material/bookmark_add:") and name.strip():
                service.save_preset(owner, name=name, provider=provider, model=model, options=options,
                                    system_prompt=system_prompt, team=team, is_admin=is_admin)
                st.rerun()


def _start(owner: int, preset_id: int) -> None:
    """One click: a new conversation with the preset's settings, open, its pickers set to match."""
    preset = service.get_preset(owner, preset_id)
    if preset is None:
        return
    try:
        conversation_id = service.start_chat(owner, preset_id)
    except (LookupError, KeyError):
        st.toast("That preset's backend is no longer available.", icon=":material/error:")
        return
    st.query_params.from_dict({"c": conversation_id})
    apply_choice(preset.provider, preset.model, preset.options)


def apply_choice(provider: str, model: str, options: dict[str, Any] | None = None) -> None:
    """Set the chat page's pickers (before they are drawn: call from a callback)."""
    st.session_state["provider"] = provider
    st.session_state[f"model_{provider}"] = model
    for key in ("temperature", "top_p"):
        if options and isinstance(options.get(key), int | float):
            st.session_state[key] = float(options[key])


def compare_preset_picker(owner: int, index: int, container: Any) -> None:
    """A "From a preset" picker above a compare column: fills its backend, model and system prompt."""
    usable = [p for p in service.visible_presets(owner)
              if p.provider in registry.all_backends()]
    if not usable:
        return
    names = {p.id: p.name for p in usable}
    container.selectbox(f"Preset {index + 1}", [None, *names], key=f"cmp_preset_{index}",
                        format_func=lambda i: "From a preset…" if i is None else names[i],
                        on_change=_fill_column, args=(owner, index), label_visibility="collapsed")


def _fill_column(owner: int, index: int) -> None:
    preset_id = st.session_state.get(f"cmp_preset_{index}")
    preset = service.get_preset(owner, preset_id) if preset_id is not None else None
    if preset is None:
        return
    st.session_state[f"cmp_backend_{index}"] = preset.provider
    st.session_state[f"cmp_model_{index}_{preset.provider}"] = preset.model
    st.session_state[f"cmp_system_{index}"] = preset.system_prompt


def column_system_prompt(index: int, container: Any) -> str:
    """The optional system prompt of a compare column (filled by a preset)."""
    return str(container.text_area(f"System prompt {index + 1}", key=f"cmp_system_{index}", height=68,
                                   placeholder="System prompt (optional)", label_visibility="collapsed"))
