"""The chat page (AppTest) drawing a stored conversation that is hostile in every field: whatever markdown
Streamlit receives (text, captions, alerts, headings, widget labels, image captions) holds no remote image
and no HTML tag. The browser test (tests/test_browser_hostile.py) proves the same end to end, live too."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from markup.safe_markdown import plain
from simulators.hostile import hostile_line, hostile_markdown, leak
from storage import repository as repo
from storage.db import get_engine, session

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
ATTACKER = "http://attacker.example"
REMOTE_IMAGE = re.compile(r"!\[(?![^\]]*\]\(data:)")  # "![" that does not start a data: image
TAG = re.compile(r"<[A-Za-z/!?]")


def _png() -> str:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "blue").save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def _seed() -> str:
    with session(get_engine()) as s:
        owner = repo.local_user(s).id
        c = repo.create_conversation(s, owner, provider="huggingface", model="meta-llama/Llama-3.3-70B-Instruct",
                                     title=hostile_line(ATTACKER, "title"))
        repo.add_message(s, owner, c.id, role="user", content=hostile_markdown(ATTACKER, "prompt"),
                         attachments=[{"name": hostile_line(ATTACKER, "attachment"), "mime": "image/png",
                                       "size": 10, "data_b64": _png()}])
        reply = repo.add_message(s, owner, c.id, role="assistant", content=hostile_markdown(ATTACKER, "answer"),
                                 provider=hostile_line(ATTACKER, "backend"), model=hostile_line(ATTACKER, "model"))
        repo.update_message(
            s, reply.id, reasoning=hostile_markdown(ATTACKER, "reasoning"), status="error",
            error=hostile_line(ATTACKER, "error"), ttft_ms=5, total_ms=10,
            extra={"sources": [{"url": f"https://example.org/a) ![s]({leak(ATTACKER, 'breakout')})",
                                "title": hostile_line(ATTACKER, "source")},
                               {"url": leak(ATTACKER, "source-url"), "title": ""}],
                   "answered_by": {"model": hostile_line(ATTACKER, "answered-by")},
                   "reasoning_status": hostile_line(ATTACKER, "status")},
        )
        return c.id


def _markdown_values(at: AppTest) -> list[str]:
    """Every string the page handed Streamlit to draw as markdown (bodies, captions, alerts, labels)."""
    values: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        for field in ("body", "label", "caption", "help"):
            value = getattr(proto, field, None) if proto is not None else None
            if isinstance(value, str) and value:
                values.append(value)
        if proto is not None and hasattr(proto, "imgs"):
            values.extend(img.caption for img in proto.imgs if img.caption)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return values


@pytest.mark.usefixtures("pages_env")
def test_a_hostile_stored_conversation_reaches_streamlit_without_images_or_tags() -> None:
    conversation_id = _seed()
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["c"] = conversation_id
    at.run()
    assert not at.exception
    values = _markdown_values(at)
    drawn = "\n".join(values)
    for field in ("title", "prompt", "attachment", "answer", "reasoning", "error", "source", "answered-by",
                  "status", "model", "backend"):
        assert field in drawn or plain(field) in drawn, field  # every hostile field was drawn somewhere...
    for value in values:  # ...and none of them as an image or a tag
        assert not REMOTE_IMAGE.search(value.replace("\\!\\[", "")), value
        assert not TAG.search(value.replace("\\<", "")), value
    assert "breakout" not in drawn  # the source URL that breaks out of its link is not a link at all
    assert f"]({leak(ATTACKER, 'source-url')})" in drawn  # a plain http(s) source stays a link
