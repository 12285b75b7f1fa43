"""Drawing a stored image, or a placeholder where it cannot be drawn, so the rest of the message draws.

Stored images are attachments and generated images saved as ``{..., "data_b64": ...}``. Rows from
before the image door (``imaging.intake``), or from old imports, may hold an SVG, a bomb or corrupt
bytes; ``st.image`` would raise on them and take the whole conversation down. Such an image, and one
stored with an ``"unavailable"`` reason instead of data (an import or a backend's image refused at the
door), shows as a one-line placeholder. This module renders nothing when imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from imaging.intake import problem_drawing
from markup.safe_markdown import plain
from views.uploads import stored_image

PLACEHOLDER = "image could not be shown"


def draw(item: Mapping[str, Any], *, caption: str | None, name: str, missing: str, width: int | None = None) -> None:
    """``item``'s image with ``caption``; else the placeholder naming ``name`` and the reason; an item
    that never had data (and no reason) shows ``missing`` (a caption line) as before."""
    data = stored_image(item)
    reason = item.get("unavailable")
    if data is not None and reason is None:
        reason = problem_drawing(data)
        if reason is None:
            if width:
                st.image(data, caption=caption, width=width)
            else:
                st.image(data, caption=caption)
            return
    if data is None and not reason:
        st.caption(missing)
        return
    st.caption(f":material/broken_image: {name}: {PLACEHOLDER} ({plain(reason)})")  # name: escaped by the caller
