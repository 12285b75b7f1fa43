"""The chat page's sidebar: who is using the app, the conversation library, backend and model pickers.

Every function reads state and storage with bounded queries; none touches the network.
This module renders nothing when imported.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from access import identity
from markup.safe_markdown import plain
from providers import registry
from providers.events import Options
from runner import backend_health
from runner.runner import get_runner
from services import conversation_view
from services.conversation_view import ConversationView
from views import conversations, health_badges, signin


@dataclass(frozen=True)
class Choice:
    provider: str
    model: str
    options: Options
    vision: bool = False  # the model accepts images


def owner_id() -> int:
    """The signed-in user's id, as the router's sign-in gate found it (views/signin.py)."""
    if "owner_id" not in st.session_state:
        return signin.require_user(identity.streamlit_config())
    return int(st.session_state["owner_id"])


def current_conversation(owner: int) -> ConversationView | None:
    """The conversation named by ``?c=`` in the URL, if it is this user's."""
    conversation_id = st.query_params.get("c")
    if not conversation_id:
        return None
    conversation = conversation_view.conversation(owner, conversation_id)
    if conversation is None:
        st.warning("That conversation was not found. It may have been deleted, or the link is wrong.")
        del st.query_params["c"]
    return conversation


def conversation_list(owner: int, current: ConversationView | None) -> None:
    """New chat, search and the conversation list with each conversation's menu (views/conversations.py)."""
    conversations.conversation_list(owner, current)


def backend_picker(current: ConversationView | None) -> Choice:
    """Backend, model and sampling pickers; defaults from the conversation or the URL."""
    params = st.query_params
    backends = registry.all_backends()  # built-in and custom endpoints (cached, no query per rerun)
    # A new chat starts on the default backend, or on the first one an admin left switched on.
    usable = [name for name, info in backends.items() if info.status != "disabled"]
    first_choice = registry.DEFAULT_BACKEND if registry.DEFAULT_BACKEND in usable or not usable else usable[0]
    default_provider = (current.provider if current else params.get("provider")) or first_choice
    if default_provider not in backends:
        st.warning(f"Unknown backend {plain(repr(default_provider))}; "  # from the URL or an import
                   f"using {plain(backends[first_choice].display_name)}.")
        default_provider = first_choice
    names = list(backends)
    states = backend_health.states(owner_id())
    st.session_state.setdefault("provider", default_provider)
    provider = st.sidebar.selectbox(
        "Backend", names, key="provider", format_func=lambda n: health_badges.picker_label(backends[n], states[n])
    )
    info = registry.backend(provider)
    models = get_runner().catalog.models(provider)
    ids = [m.id for m in models]
    labels = {m.id: m.label + ("  ·  vision" if m.vision else "") + ("  ·  reasoning" if m.reasoning else "")
              for m in models}
    wanted = current.model if current and current.provider == provider else params.get("model")
    if wanted:
        wanted = info.resolve_model(wanted)
        if wanted not in ids:
            ids.insert(0, wanted)
    model_key = f"model_{provider}"
    st.session_state.setdefault(model_key, wanted or ids[0])
    if st.session_state[model_key] not in ids:
        st.session_state[model_key] = ids[0]
    model = st.sidebar.selectbox("Model", ids, key=model_key, format_func=lambda m: labels.get(m, m))
    with st.sidebar.expander("Sampling", icon=":material/tune:"):
        temperature = st.slider("Temperature", 0.0, 1.0, 0.7, 0.05, key="temperature")
        top_p = st.slider("Top p", 0.05, 1.0, 1.0, 0.05, key="top_p")
    tools = get_runner().catalog.tool_servers(provider) if info.tool_servers else []
    chosen = st.sidebar.multiselect(
        "Tools", tools, key=f"tool_servers_{provider}",
        help="Tool servers (MCP) this backend offers, e.g. web search or image generation: the model may use "
             "the ones you pick.",
    ) if tools else []
    options = Options(temperature=temperature, top_p=top_p, tool_servers=tuple(chosen))
    vision = any(m.vision for m in models if m.id == model)
    return Choice(provider, model, options, vision)
