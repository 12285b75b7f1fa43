"""Chatdeck's entry point.

Run as a Streamlit script (each browser session), it is the router: page
configuration, the sign-in gate (views/signin.py), ``st.navigation``. Imported as a module by
``streamlit run`` (which finds ``app`` below), it is the ASGI app: Streamlit's
``st.App`` with Chatdeck's start-up work in its lifespan and the REST API's routes (api/).
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import streamlit as st

from access import identity
from services import draw_turns
from views import admin, arena, backends, chat, compare, components, leaderboard, prompt_sets, settings, shared, signin

# A local file: a material-icon favicon would make every browser fetch it from Google. Given as a data URL (read
# once; 417 bytes): given its path, Streamlit read and registered the file again on every rerun (0.9 ms of a
# 35 ms click). The Content-Security-Policy allows data: images.
FAVICON = "data:image/png;base64," + base64.b64encode(
    (Path(__file__).resolve().parent / "assets" / "favicon.png").read_bytes()).decode("ascii")


def main() -> None:
    # sessions take turns to draw (services/draw_turns.py): a send before live updates, a mere redraw last
    with draw_turns.turn(later=components.wants_redraw()):
        _route()


def _route() -> None:
    st.set_page_config(page_title="Chatdeck", page_icon=FAVICON, layout="wide")
    if os.environ.get("CHATDECK_DEMO"):
        st.sidebar.info(
            "**Simulated backends.** Answers come from Chatdeck's bundled simulators, not from real models.",
            icon=":material/science:",
        )
    cfg = identity.streamlit_config()
    signin.require_user(cfg)  # stops here, on the sign-in screen, for anyone not signed in
    page = st.navigation(
        [
            st.Page(chat.render, title="Chat", icon=":material/chat:", default=True),
            # The default page lives at "/"; "/chat" is kept as a link-friendly alias.
            st.Page(chat.render, title="Chat", url_path="chat", visibility="hidden"),
            st.Page(compare.render, title="Compare", icon=":material/view_column:", url_path="compare"),
            st.Page(shared.render, title="Shared", icon=":material/share:", url_path="shared"),
            st.Page(leaderboard.render, title="Leaderboard", icon=":material/leaderboard:", url_path="leaderboard"),
            st.Page(arena.render, title="Team arena", icon=":material/groups:", url_path="arena"),
            st.Page(prompt_sets.render, title="Prompt sets", icon=":material/checklist:", url_path="prompt-sets"),
            st.Page(backends.render, title="Backends", icon=":material/dns:", url_path="backends"),
            st.Page(settings.render, title="Settings", icon=":material/settings:", url_path="settings"),
            # Listed for admins only (the page itself also refuses anyone else).
            st.Page(admin.render, title="Admin", icon=":material/admin_panel_settings:", url_path="admin",
                    visibility="visible" if st.session_state.get("is_admin") else "hidden"),
        ]
    )
    signin.account_box(cfg)
    page.run()


# Chatdeck's own packages; their loggers write like Streamlit's (its format, its ``logger.level``).
OWN_PACKAGES = ("access", "api", "application", "arena", "imaging", "markup", "providers", "runner", "services",
                "sharing", "simulators", "storage", "views")


def _configure_logging() -> None:
    """Without this, Python shows only our warnings and errors, bare, and no info lines at all."""
    from streamlit import config

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(config.get_option("logger.messageFormat")))
    for name in OWN_PACKAGES:
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
            logger.setLevel(str(config.get_option("logger.level")).upper())
            logger.propagate = False


@asynccontextmanager
async def lifespan(_app: object) -> AsyncIterator[None]:
    import application
    from runner.metrics import LoopLag

    _configure_logging()
    # Migrates the database, marks replies a restart cut off and resumes prompt-set batches left unfinished.
    application.current().start()
    server_lag = LoopLag("server")  # this loop serves every HTTP request and websocket (GET /metrics)
    server_lag.start()
    try:
        yield
    finally:
        server_lag.stop()
        application.current().close()  # the batch worker first, then the runner


if __name__ == "__main__":
    main()
else:
    from starlette.middleware import Middleware

    import api
    from api.security_headers import SecurityHeadersMiddleware

    # Every response, Streamlit's page and static files included, carries the CSP and its companions.
    app = st.App(Path(__file__).resolve(), lifespan=lifespan, routes=api.routes(),
                 middleware=[Middleware(SecurityHeadersMiddleware)])
