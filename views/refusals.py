"""Telling a user their message was not sent, without losing it: the rate limit, a disabled backend.

A page that finds its prompt refused calls :func:`refuse`: the prompt goes back into the chat input
(set through ``st.session_state`` before the input is drawn on the rerun) and the reason stays on
screen, above the input, until the next message is sent or the wait is over. Widget callbacks
(regenerate, edit) call :func:`remember`, which keeps the reason without a rerun of its own.
This module renders nothing when imported.
"""

from __future__ import annotations

import time
from typing import Any, NoReturn

import streamlit as st

from access.limits import RateLimitedError
from access.policy import BackendDisabledError
from markup.safe_markdown import plain

REFUSED = (RateLimitedError, BackendDisabledError)
NOTICE = "refusal_notice"  # session key: (page, message, icon, shown until: time.time())
RESTORE = "refusal_restore"  # session key: (chat input key, prompt)
SHOWN_FOR = 120.0  # seconds a reason without a wait stays on screen at most


def remember(page: str, error: Exception) -> None:
    """Keep ``error``'s message to show on ``page`` (until the next send, or its wait is over)."""
    wait = getattr(error, "retry_after", None)
    icon = ":material/speed:" if isinstance(error, RateLimitedError) else ":material/block:"
    st.session_state[NOTICE] = (page, str(error), icon, time.time() + (wait if wait else SHOWN_FOR))


def refuse(page: str, input_key: str, prompt: str, error: Exception, *, files: int = 0) -> NoReturn:
    """Put ``prompt`` back into the chat input ``input_key``, keep the reason, and rerun the page.

    ``files``: how many attachments came with it (a chat input cannot be given files back).
    """
    remember(page, error)
    if files:
        page_, message, icon, until = st.session_state[NOTICE]
        st.session_state[NOTICE] = (page_, f"{message} Attach your {files} file(s) again.", icon, until)
    st.session_state[RESTORE] = (input_key, prompt)
    st.rerun()


def restore(input_key: str) -> None:
    """Before drawing the chat input ``input_key``: give it back the prompt that was refused."""
    pending = st.session_state.get(RESTORE)
    if pending and pending[0] == input_key:
        del st.session_state[RESTORE]
        st.session_state[input_key] = pending[1]


def forget() -> None:
    """A new message was sent: the last reason no longer applies."""
    st.session_state.pop(NOTICE, None)


def show(page: str, slot: Any) -> None:
    """The reason the last message on ``page`` was refused, in ``slot`` (above the chat input), while it holds."""
    notice = st.session_state.get(NOTICE)
    if not notice or notice[0] != page:
        return
    _, message, icon, until = notice
    if time.time() > until:
        del st.session_state[NOTICE]
        return
    slot.warning(plain(message, one_line=False), icon=icon)  # may name a file, a backend, a model
