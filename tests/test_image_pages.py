"""Images in the pages under AppTest: stored images that cannot be drawn show a placeholder and the
conversation still opens; refused uploads keep the typed prompt; what the backend receives has no GPS."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import application
from markup.safe_markdown import plain
from storage import repository as repo
from storage.db import get_engine, session
from tests.hostile_images import SVG, bomb_png, jpeg_with_location, truncated_png
from tests.page_fixtures import shown
from tests.sim_fixtures import SimHandle
from tests.sim_huggingchat import DEMO_COOKIES
from views.stored_images import PLACEHOLDER

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
VISION = "meta-llama/Llama-3.2-11B-Vision-Instruct"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), "green").save(out, format="PNG")
    return out.getvalue()


def _stored(name: str, mime: str, data: bytes) -> dict[str, object]:
    return repo.encode_attachment(name, mime, data)


def _conversation_with(attachments: list[dict[str, object]], images: list[dict[str, object]]) -> str:
    """A conversation as old rows hold it: a user message with ``attachments`` and a reply whose
    extra holds generated ``images``, written straight to storage (bytes never checked)."""
    with session(get_engine()) as s:
        owner = repo.local_user(s).id
        conversation = repo.create_conversation(s, owner, provider="allenai", model="tulu", title="Old images")
        repo.add_message(s, owner, conversation.id, role="user", content="Look at these", attachments=attachments)
        reply = repo.add_message(s, owner, conversation.id, role="assistant", content="Nice pictures.",
                                 provider="allenai", model="tulu")
        repo.update_message(s, reply.id, extra={"images": images})
        repo.add_message(s, owner, conversation.id, role="user", content="And the next question")
        return conversation.id


def open_conversation(conversation_id: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["c"] = conversation_id
    return at.run()


def test_a_conversation_with_undrawable_stored_images_opens_with_placeholders(pages_env: None) -> None:
    conversation_id = _conversation_with(
        [_stored("drawing.svg", "image/svg+xml", SVG), _stored("good.png", "image/png", _png()),
         _stored("broken.png", "image/png", truncated_png()), _stored("bomb.png", "image/png", bomb_png(20000))],
        [{"url": "https://x.test/a.png", "mime": "image/png", "alt": "a cat",
          "data_b64": base64.b64encode(b"<html>not an image</html>").decode()}],
    )
    at = open_conversation(conversation_id)
    assert not at.exception
    assert len(at.image) == 1  # only the good PNG is drawn
    placeholders = [c.value for c in at.caption if PLACEHOLDER in c.value]
    assert len(placeholders) == 4
    assert any(plain("drawing.svg") in p and "SVG" in p for p in placeholders)
    assert any(plain("broken.png") in p and "truncated or corrupt" in p for p in placeholders)
    assert any(plain("bomb.png") in p and "400 megapixels" in p for p in placeholders)
    assert any("a cat" in p and "not a PNG, JPEG, GIF or WebP" in p for p in placeholders)
    texts = [m.value for m in at.markdown]
    assert "Nice pictures." in texts and "And the next question" in texts  # the rest still draws


@pytest.fixture
def hc_env(sqlite_url: str, huggingchat_sim: SimHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimHandle]:
    monkeypatch.setenv("CHATDECK_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CHATDECK_SECRET_KEY", "image-page-test")
    monkeypatch.setenv("CHATDECK_HUGGINGCHAT_URL", huggingchat_sim.url + "/chat")
    monkeypatch.setenv("CHATDECK_HUGGINGCHAT_COOKIES", DEMO_COOKIES)
    yield huggingchat_sim
    application.reset()


def _open_vision_chat() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["provider"] = "huggingchat"
    at.query_params["model"] = VISION
    return at.run()


def test_a_refused_upload_sends_nothing_and_keeps_the_typed_prompt(hc_env: SimHandle) -> None:
    at = _open_vision_chat()
    box = at.chat_input(key="prompt")
    box.upload("photo.jpg", jpeg_with_location(), "image/jpeg").upload("huge.png", bomb_png(13000), "image/png")
    box.upload("logo.png", SVG, "image/png")  # an SVG under a PNG name
    box.set_value("Where was this taken?").run()
    assert not at.exception
    assert not hc_env.sim.message_posts()  # nothing reached the backend
    notice = " ".join(shown(w.value) for w in at.warning)
    assert "huge.png" in notice and "169 megapixels (13000×13000)" in notice
    assert "logo.png: SVG images are not accepted" in notice and "Attach your 3 file(s) again" in notice
    assert "photo.jpg" not in notice
    restored = at.chat_input(key="prompt").proto  # what the page put back into the input
    assert restored.set_value and restored.value == "Where was this taken?"
    with session(get_engine()) as s:
        assert repo.list_conversations(s, repo.local_user(s).id) == []


def test_the_backend_receives_the_photo_without_location_and_upright(hc_env: SimHandle) -> None:
    hc_env.sim.script.chunks = ["A field."]
    at = _open_vision_chat()
    box = at.chat_input(key="prompt")
    box.upload("photo.jpeg", jpeg_with_location((40, 20), orientation=6), "image/jpeg")
    box.set_value("Where was this taken?").run()
    assert not at.exception
    part = hc_env.sim.message_posts()[0].files[0]  # as the simulator read it off the HTTP request
    assert part.filename == "base64;photo.jpg"
    sent = base64.b64decode(part.data)
    assert b"PhoneMaker" not in sent and b"53,20.5N" not in sent and b"secret place" not in sent
    with Image.open(io.BytesIO(sent)) as image:
        assert image.size == (20, 40)  # orientation 6 applied: a 40×20 landscape stored rotated
        assert not image.getexif() and "exif" not in image.info and "xmp" not in image.info
        assert "comment" not in image.info and "icc_profile" not in image.info
    assert len(at.image) == 1  # and the stored copy draws


def _import_page(owner: int, data: bytes) -> None:
    from views import your_data

    your_data._import(owner, data)


def test_the_import_says_which_images_became_placeholders(pages_env: None) -> None:
    with session(get_engine()) as s:
        owner = repo.local_user(s).id
    photo = base64.b64encode(_png()).decode()
    svg = base64.b64encode(SVG).decode()
    message = {"role": "user", "content": "Pictures", "created_at": "2026-06-01T10:00:00", "attachments": [
        {"name": "ok.png", "mime": "image/png", "data_b64": photo},
        {"name": "logo.svg", "mime": "image/svg+xml", "data_b64": svg}]}
    document = {"format": "chatdeck.conversations", "version": 1, "conversations": [
        {"id": "ab" * 16, "title": "Pictures", "provider": "allenai", "model": "tulu",
         "created_at": "2026-06-01T10:00:00", "messages": [message]}]}
    at = AppTest.from_function(_import_page, args=(owner, json.dumps(document).encode()), default_timeout=30).run()
    assert not at.exception
    [done] = at.success
    assert "1 conversation imported" in done.value and "1 image(s) could not be imported" in done.value
    reopened = open_conversation("ab" * 16)
    assert len(reopened.image) == 1
    assert any("logo.svg" in shown(c.value) and "not imported: SVG" in shown(c.value) for c in reopened.caption)
