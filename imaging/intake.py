"""The one door for every image that enters Chatdeck: uploads, imports, images a backend generates.

Why a door and not a check here and there: an image is untrusted bytes from a browser, a file or a
backend, and the same three dangers come with each of them.

- **Image bombs.** A PNG of zeros compresses about a thousand to one: a 657 KB file of 13000×13000
  pixels decodes to 1.6 GB. Pillow's own guard (``Image.MAX_IMAGE_PIXELS``, about 89 megapixels) only
  *warns* below twice its limit and raises ``DecompressionBombError`` above it, so a 169-megapixel
  image would still be decoded. :func:`admit` reads only the header (``Image.open`` is lazy: it parses
  the header and decodes nothing) and refuses anything over :data:`MAX_PIXELS` before any pixel is
  decoded; Pillow's error above its own limit is turned into the same message.
- **Location data.** Photos carry GPS coordinates in EXIF, and XMP, comments and text chunks can hold
  anything. :func:`admit` always re-encodes from the pixels alone (after applying the EXIF
  orientation, so the picture stays upright), so none of that leaves the server.
- **Images that cannot be drawn.** Only PNG, JPEG, GIF and WebP (what browsers and the backends take)
  are let in; SVG (a document that can carry scripts and links), other formats, non-images and
  truncated or corrupt files are refused with a reason. :func:`problem_drawing` answers the same
  question for bytes already stored (old rows, earlier imports), so pages show a placeholder instead
  of failing.

Animated GIFs keep their first frame (re-encoded as PNG): the backends look at one frame anyway.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from providers.events import Image as GeneratedImage

MAX_PIXELS = 40_000_000  # width × height read from the header; above this nothing is decoded
MAX_SIDE = 2048  # pixels: larger images are shrunk to fit (models see less than this anyway)
MAX_BYTES = 4 * 1024 * 1024  # re-encoded size limit (backends refuse big files: HuggingChat at 10 MB)
FORMATS = ("PNG", "JPEG", "GIF", "WEBP")  # raster formats browsers draw and vision backends accept
JPEG_QUALITY = 88
_MIME = {"PNG": "image/png", "JPEG": "image/jpeg"}
_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


class ImageRefused(ValueError):
    """The bytes are not an image Chatdeck accepts; the message says why in plain words."""


@dataclass(frozen=True)
class CleanImage:
    """An image that went through the door: re-encoded, no metadata, at most ``MAX_SIDE`` pixels a side."""

    data: bytes
    mime: str
    width: int
    height: int

    @property
    def suffix(self) -> str:
        return ".png" if self.mime == "image/png" else ".jpg"

    def renamed(self, name: str) -> str:
        """``name`` with the suffix of the format it was re-encoded to (``party.gif`` becomes ``party.png``)."""
        stem = name.rsplit(".", 1)[0] if "." in name else name
        return (stem or "image") + self.suffix


def admit(data: bytes) -> CleanImage:
    """``data`` checked (format and pixel count from the header first), upright, shrunk to ``MAX_SIDE``
    and re-encoded without EXIF, XMP, comments, text chunks or ICC profile. Raises :class:`ImageRefused`."""
    with _open_checked(data) as image:
        try:
            if image.format == "JPEG":
                image.draft(None, (MAX_SIDE, MAX_SIDE))  # decode big JPEGs at 1/2, 1/4 or 1/8 scale directly
            image.load()  # the first frame only, for animated GIF and WebP
            small = _shrunk(image)  # before any other copy: a 40 MP RGBA image is 160 MB decoded
        except _DECODE_ERRORS as exc:
            raise ImageRefused("the image is truncated or corrupt and cannot be decoded") from exc
        pixels = _without_metadata(_upright(small), image.info.get("icc_profile"))
        source_format = image.format
    return _encode(pixels, keep_png=source_format in ("PNG", "GIF"))


def problem_drawing(data: bytes) -> str | None:
    """Why stored ``data`` cannot be drawn as an image (``None``: it can). Fully decodes at most once per
    distinct image: verdicts are remembered by content hash, since pages redraw on every rerun."""
    key = hashlib.sha256(data).digest()
    with _verdicts_lock:
        if key in _verdicts:
            _verdicts.move_to_end(key)
            return _verdicts[key]
    verdict = _check_drawable(data)
    with _verdicts_lock:
        _verdicts[key] = verdict
        while len(_verdicts) > _VERDICTS_KEPT:
            _verdicts.popitem(last=False)
    return verdict


_VERDICTS_KEPT = 1024
_verdicts: OrderedDict[bytes, str | None] = OrderedDict()
_verdicts_lock = threading.Lock()


def _check_drawable(data: bytes) -> str | None:
    try:
        image = _open_checked(data)
        with image:
            image.load()
            mode = image.mode
    except ImageRefused as refused:
        return str(refused)
    except _DECODE_ERRORS:
        return "the image is truncated or corrupt and cannot be decoded"
    if mode not in _DRAWABLE_MODES:  # Streamlit re-encodes them to JPEG, which Pillow refuses for these
        return f"its pixel format ({mode}) cannot be shown"
    return None


_DRAWABLE_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "CMYK"})


def _open_checked(data: bytes) -> ImageFile.ImageFile:
    """The image with only its header read: an accepted format, at most ``MAX_PIXELS`` pixels."""
    if _looks_like_svg(data):
        raise ImageRefused("SVG images are not accepted (use PNG, JPEG, GIF or WebP)")
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError as exc:  # over twice Pillow's own limit: it names the pixel count
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise ImageRefused(_too_many(int(found.group(1)) if found else None)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRefused("not a PNG, JPEG, GIF or WebP image") from exc
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageRefused("the image has no pixels")
    if width * height > MAX_PIXELS:
        image.close()
        raise ImageRefused(_too_many(width * height, (width, height)))
    return image


def _too_many(pixels: int | None, size: tuple[int, int] | None = None) -> str:
    limit = f"at most {MAX_PIXELS // 1_000_000} megapixels are accepted"
    if pixels is None:
        return f"the image has far too many pixels; {limit}"
    dims = f" ({size[0]}×{size[1]})" if size else ""
    return f"the image is {pixels / 1_000_000:.0f} megapixels{dims}; {limit}"


def _looks_like_svg(data: bytes) -> bool:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<svg", b"<?xml", b"<!doctype svg")) and b"<svg" in data[:4096].lower()


def _shrunk(image: Image.Image) -> Image.Image:
    """The decoded image in RGB, RGBA or L (alpha kept when it has any), shrunk in place to ``MAX_SIDE``
    (palette images are converted first, so they are not shrunk with nearest-neighbour sampling)."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if has_alpha:
        target = "RGBA"
    elif image.mode.startswith("I"):  # 16-bit grey: scaled to 8 bits, not clipped at 255
        image, target = image.convert("I").point(lambda value: value * (1 / 256)), "L"
    elif image.mode in ("L", "1"):
        target = "L"
    else:
        target = "RGB"
    working = image.convert(target) if image.mode != target else image  # convert keeps info (EXIF orientation)
    working.thumbnail((MAX_SIDE, MAX_SIDE))
    return working


def _upright(image: Image.Image) -> Image.Image:
    """Turned as the EXIF orientation says. EXIF that cannot be parsed (Pillow raises several kinds of
    error on it) counts as no orientation: the pixels are fine and the EXIF is dropped anyway."""
    try:
        return ImageOps.exif_transpose(image)
    except (SyntaxError, ValueError, TypeError, KeyError, IndexError, OSError, struct.error):
        return image.copy()


def _without_metadata(image: Image.Image, icc: bytes | None) -> Image.Image:
    """The pixels in sRGB where a profile says how, detached from every piece of metadata of the source."""
    pixels = _to_srgb(image, icc) if icc and image.mode in ("RGB", "RGBA") else image
    pixels.info = {}  # EXIF, XMP, comments, text chunks, ICC profile: nothing is carried to the encoder
    return pixels


def _to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    """Colours converted from the embedded profile to sRGB, so dropping the profile keeps them; a
    profile Pillow cannot use leaves the pixels as they are."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode=image.mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    return converted if converted is not None else image


def _encode(pixels: Image.Image, *, keep_png: bool) -> CleanImage:
    """PNG for images with transparency and for PNG/GIF sources (lossless), JPEG otherwise; a PNG over
    ``MAX_BYTES`` without transparency falls back to JPEG."""
    formats = ["PNG"] if pixels.mode == "RGBA" else (["PNG", "JPEG"] if keep_png else ["JPEG"])
    for fmt in formats:
        out = io.BytesIO()
        if fmt == "PNG":
            pixels.save(out, format="PNG", optimize=len(formats) == 1)
        else:
            pixels.save(out, format="JPEG", quality=JPEG_QUALITY)
        if out.tell() <= MAX_BYTES:
            return CleanImage(out.getvalue(), _MIME[fmt], pixels.width, pixels.height)
    raise ImageRefused(f"the image is larger than {MAX_BYTES // 2**20} MB even after shrinking")


def admit_generated(image: GeneratedImage) -> GeneratedImage:
    """A backend's generated image through the door: re-encoded, or without data and saying why."""
    if image.data is None:
        return image
    try:
        clean = admit(image.data)
    except ImageRefused as refused:
        return GeneratedImage(image.url, image.mime, image.alt, None, unavailable=str(refused))
    return GeneratedImage(image.url, clean.mime, image.alt, clean.data)
