"""Keyboard use of the chat: shortcuts, the chat input focused on arrival and after each answer,
visible focus, and "Jump to latest" while a reply is written below the fold.

Streamlit has no keyboard API and ``st.html`` runs no scripts, so this is a small custom component
(``assets/keyboard``): a zero-height, same-origin frame that loads one script into the app page. Both
are files served by Streamlit from this origin, so the Content-Security-Policy (``script-src 'self'``,
no inline script) allows them. The script acts as a person would: it focuses the chat input, presses
Chatdeck's own buttons and links (found by Streamlit's test ids and the ``st-key-…`` classes of keyed
widgets) and copies the last answer, which the page hands it as text. What Streamlit does not allow:
shortcuts inside other components' frames, and a shortcut while the browser's own UI has the focus.
This module renders nothing when imported.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "keyboard"

# (keys, what they do): the "Keyboard shortcuts" help lists exactly what assets/keyboard/chatdeck-keys.js does.
SHORTCUTS = [
    ("Alt + N", "New chat (on Compare: new comparison)"),
    ("/ or Alt + I", "Focus the message box"),
    ("Esc", "Stop the reply being written"),
    ("Alt + C", "Copy the last answer"),
    ("Alt + K", "Go to Compare"),
    ("Tab, Shift + Tab", "Move between controls; Enter or Space uses the one in focus"),
]


def install(last_answer: str | None = None, *, again: bool = False) -> None:
    """Load the shortcuts into the page (once per page; reruns only pass the new ``last_answer``).

    ``again``: a second instance, later in the same run, for an answer that ended while the run drew it. Its
    frame hands the new answer over (the last frame to deliver wins); the first keeps its frame, so Alt+C
    never lacks an answer while a frame loads, and gets the new one on the next rerun, which has no second.
    """
    # Declared here, in the script run: Streamlit registers (and serves) a component only when it is
    # declared inside one, and this module is first imported before the runtime exists.
    component = components.declare_component("chatdeck_keys", path=str(ASSETS))
    component(last_answer=last_answer or "", key="chatdeck_keys_again" if again else "chatdeck_keys", default=None,
              tab_index=-1)


def shortcuts_help() -> None:
    """A "Keyboard shortcuts" popover in the sidebar."""
    with st.sidebar.popover("Keyboard shortcuts", icon=":material/keyboard:", width="stretch"):
        st.markdown("\n".join(f"- **{keys}**: {what}" for keys, what in SHORTCUTS))
        st.caption("On a Mac, Alt is the Option key. / focuses the message box when no text field has the focus.")
