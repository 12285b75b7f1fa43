"""Widget callbacks that drop a result: Streamlit calls ``on_click``/``on_change`` for their effect only
(its types say they return None), and several service functions a button calls return what they did."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec

P = ParamSpec("P")


def ignoring_result(action: Callable[P, object]) -> Callable[P, None]:
    """``action`` as a callback returning None; the arguments pass through unchanged."""

    def callback(*args: P.args, **kwargs: P.kwargs) -> None:
        action(*args, **kwargs)

    return callback
