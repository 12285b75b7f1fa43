"""The other ways images enter, each through the image door: imports (SQLite and PostgreSQL), images a
backend generates, and stored images sent again by a regenerate (HuggingChat simulator on loopback)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator

import pytest
from PIL import Image
from sqlalchemy.engine import Engine

from providers.events import Attachment, Options
from runner.runner import Run, Runner
from services import sending
from storage import repository as repo
from storage import transfer
from storage.db import session
from tests.db_fixtures import SessionFactory
from tests.hostile_images import SECRET, SVG, bomb_png, jpeg_with_location
from tests.sim_fixtures import SimHandle
from tests.sim_huggingchat import DEMO_COOKIES

CONVERSATION_ID = "0123456789abcdef0123456789abcdef"
VISION = "meta-llama/Llama-3.2-11B-Vision-Instruct"
LOCATION = (b"PhoneMaker", b"53,20.5N", SECRET.encode())  # in the hostile JPEG's EXIF, XMP and comment


def _attachment(name: str, mime: str, data: bytes) -> dict[str, object]:
    return {"name": name, "mime": mime, "data_b64": base64.b64encode(data).decode()}


def _export(attachments: list[dict[str, object]]) -> bytes:
    message = {"role": "user", "content": "Holiday pictures", "created_at": "2026-06-01T10:00:00",
               "attachments": attachments}
    return json.dumps({"format": "chatdeck.conversations", "version": 1, "conversations": [
        {"id": CONVERSATION_ID, "title": "Holiday", "provider": "allenai", "model": "olmo",
         "created_at": "2026-06-01T10:00:00", "messages": [message]},
    ]}).encode()


def _stored_attachments(db: SessionFactory, owner: int) -> list[dict[str, object]]:
    with db() as s:
        [message] = repo.recent_messages(s, owner, CONVERSATION_ID, limit=5)
        return list(message.attachments)


def test_an_import_reencodes_its_images_and_keeps_refused_ones_as_placeholders(db: SessionFactory) -> None:
    with db() as s:
        owner = repo.get_or_create_user(s, "alice").id
    document = _export([_attachment("beach.jpg", "image/jpeg", jpeg_with_location((60, 40), orientation=6)),
                        _attachment("logo.svg", "image/svg+xml", SVG),
                        _attachment("bomb.png", "image/png", bomb_png(13000))])
    with db() as s:
        result = transfer.import_file(s, owner, document)
    assert result == transfer.ImportResult(imported=1, skipped=0, messages=1, images_missing=2)
    photo, logo, bomb = _stored_attachments(db, owner)
    data = base64.b64decode(str(photo["data_b64"]))
    assert photo["name"] == "beach.jpg" and photo["mime"] == "image/jpeg" and photo["size"] == len(data)
    assert not any(needle in data for needle in LOCATION)
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (40, 60) and not image.getexif()  # upright, and nothing left of the EXIF
    assert "data_b64" not in logo and "SVG images are not accepted" in str(logo["unavailable"])
    assert "data_b64" not in bomb and "169 megapixels" in str(bomb["unavailable"])

    with db() as s:  # exported again and imported elsewhere, the placeholders travel as they are
        again = transfer.conversation_json(s, owner, CONVERSATION_ID)
        bob = repo.get_or_create_user(s, "bob").id
        repo.delete_conversation(s, owner, CONVERSATION_ID)
    assert again is not None
    with db() as s:
        assert transfer.import_file(s, bob, again).images_missing == 2
    assert _stored_attachments(db, bob)[1:] == [logo, bomb]


@pytest.fixture
def hc_runner(engine: Engine, huggingchat_sim: SimHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runner]:
    monkeypatch.setenv("CHATDECK_HUGGINGCHAT_URL", huggingchat_sim.url + "/chat")
    monkeypatch.setenv("CHATDECK_HUGGINGCHAT_COOKIES", DEMO_COOKIES)
    runner = Runner(engine, flush_interval=0.05)
    yield runner
    runner.shutdown()


def _conversation(engine: Engine, model: str) -> tuple[int, str]:
    with session(engine) as s:
        owner = repo.local_user(s).id
        return owner, repo.create_conversation(s, owner, provider="huggingchat", model=model).id


def _finished(run: Run, engine: Engine) -> dict[str, object]:
    """The stored reply's ``extra`` once the run is saved."""
    assert run.saved.wait(10)
    with session(engine) as s:
        return dict(repo.recent_messages(s, run.owner_id, run.conversation_id, limit=1)[0].extra)


@pytest.mark.parametrize(("image", "mime"), [(jpeg_with_location((50, 30), orientation=6), "image/jpeg"),
                                             (SVG, "image/svg+xml")])
def test_a_generated_image_is_reencoded_or_kept_out_with_the_reason(
    image: bytes, mime: str, engine: Engine, hc_runner: Runner, huggingchat_sim: SimHandle
) -> None:
    huggingchat_sim.sim.script.image, huggingchat_sim.sim.script.image_mime = image, mime
    huggingchat_sim.sim.script.chunks = ["Here it is."]
    owner, cid = _conversation(engine, "Qwen/Qwen2.5-72B-Instruct")
    extra = _finished(hc_runner.start(owner_id=owner, conversation_id=cid, provider="huggingchat",
                                      model="Qwen/Qwen2.5-72B-Instruct", prompt="Draw a beach",
                                      options=Options()), engine)
    [stored] = extra["images"]  # type: ignore[misc]
    if mime == "image/svg+xml":
        assert "data_b64" not in stored and "SVG images are not accepted" in stored["unavailable"]
        return
    data = base64.b64decode(stored["data_b64"])
    assert stored["mime"] == "image/jpeg" and not any(needle in data for needle in LOCATION)
    with Image.open(io.BytesIO(data)) as drawn:
        assert drawn.size == (30, 50) and not drawn.getexif()


def test_a_regenerate_sends_an_old_rows_photo_through_the_door_again(
    engine: Engine, hc_runner: Runner, huggingchat_sim: SimHandle
) -> None:
    owner, cid = _conversation(engine, VISION)
    raw = jpeg_with_location((40, 20))  # stored byte for byte, as before the image door
    _finished(hc_runner.start(owner_id=owner, conversation_id=cid, provider="huggingchat", model=VISION,
                              prompt="Where is this?", attachments=[Attachment("old.jpg", "image/jpeg", raw)]),
              engine)
    with session(engine) as s:
        [prompt] = [m for m in repo.recent_messages(s, owner, cid, limit=5) if m.role == "user"]
        assert b"PhoneMaker" in repo.decode_attachment(prompt.attachments[0])  # an old row's photo
    _finished(sending.regenerate(hc_runner, owner_id=owner, conversation_id=cid, provider="huggingchat", model=VISION),
              engine)
    [part] = huggingchat_sim.sim.message_posts()[-1].files
    sent = base64.b64decode(part.data)
    assert sent != raw and not any(needle in sent for needle in LOCATION)
    with Image.open(io.BytesIO(sent)) as image:
        assert image.size == (40, 20) and not image.getexif()
