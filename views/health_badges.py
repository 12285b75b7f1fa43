"""How a backend's state looks in pickers and on the Backends page (the states, their words and which are worth
naming: runner/backend_health.py).

Renders nothing when imported.
"""

from __future__ import annotations

from providers.base import BackendInfo
from runner import backend_health, health

COLORS = {
    health.READY: "green", health.RATE_LIMITED: "orange", health.UNKNOWN: "gray", health.FAILING: "orange",
    health.NEEDS_CREDENTIALS: "blue", health.CREDENTIALS_REJECTED: "red", health.UNREACHABLE: "red",
    health.PROTOCOL_CHANGED: "violet", health.DISABLED: "gray",
}


def badge(state: str) -> str:
    """A Markdown badge for a state."""
    return f":{COLORS.get(state, 'gray')}-badge[{backend_health.label(state)}]"


def picker_label(info: BackendInfo, state: str) -> str:
    """Plain text for a selectbox option: the name, and the state when it is worth naming."""
    if not backend_health.worth_naming(state):
        return info.display_name
    return f"{info.display_name} · {backend_health.label(state)}"
