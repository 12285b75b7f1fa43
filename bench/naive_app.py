"""The naive chat app the first-token figure is compared with: ``st.write_stream`` inside the script run.

What every Streamlit chat example does: the prompt's rerun calls the backend and streams its text
into ``st.write_stream`` in the script thread, each chunk an element update. It reads the same
simulated stream as Chatdeck (CHATDECK_ALLENAI_URL) through the same provider, so both pay the
same parsing; what differs is everything between the provider and the browser. Nothing is saved.

Run by bench/browser.py as ``streamlit run bench/naive_app.py``; not part of the application.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator

import streamlit as st

from providers.allenai import AllenAI
from providers.base import Guarded
from providers.events import ChatMessage, ChatRequest, TextDelta

MODEL = "olmo-3.1-32b-instruct"


async def answer(prompt: str) -> AsyncGenerator[str, None]:
    provider = Guarded(AllenAI(base_url=os.environ["CHATDECK_ALLENAI_URL"], protocol="v5"))  # as the registry gives it
    async for event in provider.stream(ChatRequest(model=MODEL, messages=(ChatMessage("user", prompt),))):
        if isinstance(event, TextDelta):
            yield event.text


prompt = st.chat_input("Message")
if prompt:
    with st.chat_message("user"):
        st.text(prompt)
    with st.chat_message("assistant"):
        st.write_stream(answer(prompt))
        st.caption("first token · done")  # the bench's sign that the reply is complete
