"""Images attached in the chat input, passed through the image door; and the bytes of stored images.

Pure helpers (no Streamlit calls): the chat page turns uploaded files into ``Attachment``s here,
and ``stored_images`` decodes stored ones. This module renders nothing when imported.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from imaging.intake import MAX_SIDE, ImageRefused, admit
from providers.events import Attachment

IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "gif"]  # what the chat input offers for vision models
__all__ = ["IMAGE_TYPES", "MAX_SIDE", "UploadRefused", "prepare_image", "prepare_images", "stored_image"]


class UploadRefused(ValueError):
    """Files of one message that the image door refused, each with its reason (the message is not sent)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Not sent: " + "; ".join(problems) + ".")


class Upload(Protocol):
    name: str

    def getvalue(self) -> bytes: ...


def prepare_images(files: Iterable[Upload]) -> tuple[list[Attachment], list[str]]:
    """The uploads that really are images, re-encoded; and a message per refused file."""
    attachments, problems = [], []
    for upload in files:
        try:
            attachments.append(prepare_image(upload.name, upload.getvalue()))
        except ImageRefused as exc:
            problems.append(f"{upload.name}: {exc}")
    return attachments, problems


def prepare_image(name: str, data: bytes) -> Attachment:
    """``data`` through the image door (``imaging.intake.admit``): checked from its header, upright,
    shrunk to ``MAX_SIDE``, re-encoded without metadata. Raises ``ImageRefused`` (a ``ValueError``)."""
    clean = admit(data)
    return Attachment(clean.renamed(name), clean.mime, clean.data)


def stored_image(item: Mapping[str, Any]) -> bytes | None:
    """The bytes of a stored attachment or generated image that is an image, else None."""
    if not str(item.get("mime", "")).startswith("image/") or not item.get("data_b64"):
        return None
    try:
        return base64.b64decode(item["data_b64"], validate=True)
    except (binascii.Error, ValueError):
        return None
