"""Images attached in the chat input, checked and made small enough to send; and images to show.

Pure helpers (no Streamlit calls): the chat page turns uploaded files into ``Attachment``s here,
and ``components`` decodes stored images. This module renders nothing when imported.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from PIL import Image, UnidentifiedImageError

from providers.events import Attachment

IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "gif"]  # what the chat input offers for vision models
MAX_SIDE = 2048  # pixels: larger images are shrunk to fit (models see less than this anyway)
MAX_BYTES = 4 * 1024 * 1024  # larger files are re-encoded (backends refuse big files: HuggingChat at 10 MB)
_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}


class Upload(Protocol):
    name: str

    def getvalue(self) -> bytes: ...


def prepare_images(files: Iterable[Upload]) -> tuple[list[Attachment], list[str]]:
    """The uploads that really are images, shrunk where too large; and a message per rejected file."""
    attachments, problems = [], []
    for upload in files:
        try:
            attachments.append(prepare_image(upload.name, upload.getvalue()))
        except ValueError as exc:
            problems.append(f"{upload.name}: {exc}")
    return attachments, problems


def prepare_image(name: str, data: bytes) -> Attachment:
    """``data`` checked by Pillow; shrunk (and re-encoded) when over ``MAX_SIDE`` or ``MAX_BYTES``."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()  # structure check; the image must be reopened after it
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError("not an image Chatdeck can read") from exc
    mime = _FORMATS.get(image.format or "")
    if mime is None:
        raise ValueError(f"{image.format or 'this'} images are not supported (use PNG, JPEG, WebP or GIF)")
    if max(image.size) <= MAX_SIDE and len(data) <= MAX_BYTES:
        return Attachment(name, mime, data)
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    if image.mode in ("RGBA", "LA", "P") and mime != "image/jpeg":
        image.save(out, format="PNG", optimize=True)
        mime, suffix = "image/png", ".png"
    else:
        image.convert("RGB").save(out, format="JPEG", quality=85)
        mime, suffix = "image/jpeg", ".jpg"
    if out.tell() > MAX_BYTES:
        raise ValueError("too large even after shrinking")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return Attachment(stem + suffix, mime, out.getvalue())


def stored_image(item: Mapping[str, Any]) -> bytes | None:
    """The bytes of a stored attachment or generated image that is an image, else None."""
    if not str(item.get("mime", "")).startswith("image/") or not item.get("data_b64"):
        return None
    try:
        return base64.b64decode(item["data_b64"], validate=True)
    except (binascii.Error, ValueError):
        return None
