"""The image door (imaging.intake) against hostile files: bombs, SVG, non-images, truncated files, and
images carrying location data. Every hostile file is built at test time (tests/hostile_images.py).

Memory is measured per case in a fresh Python process (its peak resident size before and after one
``admit``), so one case's peak cannot hide another's; the bounds are generous, far below what decoding
a bomb allocates (169 MB for 13000×13000 grey pixels, 400 MB for 20000×20000).
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imaging.intake import MAX_PIXELS, MAX_SIDE, ImageRefused, admit, problem_drawing
from tests.hostile_images import (
    ORIENTATION,
    SECRET,
    SVG,
    animated_gif,
    bomb_png,
    gps_exif,
    jpeg_with_location,
    lying_header,
    noise,
    png_with_text,
    truncated_png,
)

ROOT = Path(__file__).resolve().parent.parent
MEASURE = """
import json, resource, sys, time
from imaging.intake import ImageRefused, admit
from tests.hostile_images import jpeg_with_location, png_with_text
admit(jpeg_with_location()); admit(png_with_text())  # codecs and plugins loaded before measuring
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
try:
    clean = admit(data)
    outcome = {"admitted": [clean.width, clean.height]}
except ImageRefused as exc:
    outcome = {"refused": str(exc)}
outcome["seconds"] = time.perf_counter() - started
outcome["growth_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps(outcome))
"""


def admit_in_fresh_process(data: bytes, tmp_path: Path) -> dict[str, Any]:
    """``admit(data)`` in a new interpreter: its outcome and how much its peak memory grew (MB)."""
    path = tmp_path / "input.bin"
    path.write_bytes(data)
    done = subprocess.run([sys.executable, "-c", MEASURE, str(path)], cwd=ROOT, capture_output=True, text=True,  # noqa: S603
                          timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("side", "message"), [
    (13000, "169 megapixels (13000×13000); at most 40 megapixels"),  # Pillow itself would only warn
    (20000, "400 megapixels; at most 40 megapixels"),  # Pillow raises DecompressionBombError
])
def test_bombs_are_refused_from_the_header_without_decoding(side: int, message: str, tmp_path: Path) -> None:
    result = admit_in_fresh_process(bomb_png(side), tmp_path)
    assert message in result["refused"]
    assert result["growth_mb"] < 40, result  # decoding would take side² bytes: 169 MB or more


@pytest.mark.parametrize(("fmt", "side", "message"), [
    ("JPEG", 9000, "81 megapixels (9000×9000)"), ("JPEG", 60000, "3600 megapixels"),
    ("GIF", 7000, "49 megapixels (7000×7000)"), ("GIF", 65535, "4295 megapixels"),
    ("WEBP", 7000, "49 megapixels (7000×7000)"), ("WEBP", 16384, "268 megapixels"),
])
def test_other_formats_lying_about_their_size_are_refused_from_the_header(
    fmt: str, side: int, message: str, tmp_path: Path
) -> None:
    result = admit_in_fresh_process(lying_header(fmt, side, side), tmp_path)
    assert f"the image is {message}; at most 40 megapixels" in result["refused"]
    assert result["growth_mb"] < 40, result


def test_an_image_at_the_limit_is_decoded_shrunk_and_stays_within_memory(tmp_path: Path) -> None:
    assert MAX_PIXELS == 8000 * 5000
    result = admit_in_fresh_process(bomb_png(8000, 5000), tmp_path)
    assert result["admitted"] == [MAX_SIDE, 1280]
    assert result["growth_mb"] < 120, result  # 40 MB of grey pixels, plus the shrunk copy
    with pytest.raises(ImageRefused, match=r"40 megapixels \(8000×5001\)"):
        admit(bomb_png(8000, 5001))


@pytest.mark.parametrize(("make", "outcome", "bound_mb"), [
    (lambda: SVG, "SVG images are not accepted", 8),
    (lambda: b"this is not an image, whatever its name says" * 1000, "not a PNG, JPEG, GIF or WebP image", 8),
    (truncated_png, "truncated or corrupt", 8),
    (lambda: jpeg_with_location((1200, 900), orientation=6), [900, 1200], 48),  # decoded: 3 MB of pixels
    (png_with_text, [30, 10], 8),
])
def test_every_hostile_file_stays_within_memory(make: Any, outcome: Any, bound_mb: int, tmp_path: Path) -> None:
    result = admit_in_fresh_process(make(), tmp_path)
    assert (outcome in result["refused"]) if isinstance(outcome, str) else result["admitted"] == outcome
    assert result["growth_mb"] < bound_mb, result


@pytest.mark.parametrize(("data", "message"), [
    (SVG, "SVG images are not accepted"),
    (b"\xef\xbb\xbf  <svg xmlns='http://www.w3.org/2000/svg'/>", "SVG images are not accepted"),
    (b"%PDF-1.7 this is not an image at all, whatever its name says" * 20, "not a PNG, JPEG, GIF or WebP image"),
    (b"", "not a PNG, JPEG, GIF or WebP image"),
    (truncated_png(), "truncated or corrupt"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "not a PNG, JPEG, GIF or WebP image"),
])
def test_what_is_not_a_drawable_raster_image_is_refused_with_the_reason(
    data: bytes, message: str, tmp_path: Path
) -> None:
    with pytest.raises(ImageRefused, match=message):
        admit(data)
    assert message in (problem_drawing(data) or "")  # the same reason for bytes already stored


def test_other_formats_are_refused_even_when_pillow_reads_them() -> None:
    out = io.BytesIO()
    noise((8, 8)).save(out, format="BMP")
    with pytest.raises(ImageRefused, match="not a PNG, JPEG, GIF or WebP"):
        admit(out.getvalue())


def test_a_photo_leaves_without_location_exif_xmp_comment_or_profile() -> None:
    original = jpeg_with_location((300, 200))
    assert b"PhoneMaker" in original and SECRET.encode() in original and b"53,20.5N" in original
    clean = admit(original)
    assert clean.mime == "image/jpeg"
    for needle in (b"PhoneMaker", SECRET.encode(), b"53,20.5N", b"Exif\0\0", b"http://ns.adobe.com/xap"):
        assert needle not in clean.data
    with Image.open(io.BytesIO(clean.data)) as image:
        assert image.size == (300, 200)
        assert not image.getexif() and not image.getexif().get_ifd(0x8825)
        assert not {"exif", "xmp", "comment", "icc_profile"} & set(image.info)


def test_orientation_is_applied_before_the_exif_goes() -> None:
    clean = admit(jpeg_with_location((40, 20), orientation=6))  # "rotate 90° clockwise to display"
    with Image.open(io.BytesIO(clean.data)) as image:
        assert image.size == (20, 40) and ORIENTATION not in image.getexif()


def test_a_png_loses_its_text_chunks_and_keeps_its_transparency() -> None:
    original = png_with_text()
    with Image.open(io.BytesIO(original)) as image:
        assert image.info["Comment"] == SECRET and "xmp" in image.info
    clean = admit(original)
    assert clean.mime == "image/png" and SECRET.encode() not in clean.data
    with Image.open(io.BytesIO(clean.data)) as image:
        image.load()
        assert image.mode == "RGBA" and image.size == (30, 10)
        assert not image.getexif() and not {"Comment", "xmp", "XML:com.adobe.xmp", "exif"} & set(image.info)
        assert image.tobytes() == noise((30, 10), "RGBA").tobytes()  # lossless: the same pixels


def test_an_animated_gif_keeps_its_first_frame_as_a_png() -> None:
    clean = admit(animated_gif())
    assert clean.mime == "image/png" and clean.renamed("party.gif") == "party.png"
    with Image.open(io.BytesIO(clean.data)) as image:
        assert getattr(image, "n_frames", 1) == 1 and "comment" not in image.info
        assert image.convert("RGB").getpixel((0, 0)) == Image.new("P", (1, 1), 1).convert("RGB").getpixel((0, 0))


def test_large_photos_are_shrunk_and_webp_becomes_jpeg() -> None:
    out = io.BytesIO()
    noise((MAX_SIDE + 500, 300)).save(out, format="WEBP", exif=Image.Exif().tobytes())
    clean = admit(out.getvalue())
    assert clean.mime == "image/jpeg" and clean.renamed("shot.webp") == "shot.jpg"
    assert (clean.width, clean.height) == (MAX_SIDE, round(300 * MAX_SIDE / (MAX_SIDE + 500)))


def test_stored_images_that_draw_have_no_problem() -> None:
    clean = admit(png_with_text())
    assert problem_drawing(clean.data) is None
    assert problem_drawing(clean.data) is None  # the remembered verdict


def test_broken_exif_never_escapes_as_an_error_and_the_picture_still_gets_in() -> None:
    """Seeded random damage to a photo's EXIF (Pillow raises struct.error, TypeError, SyntaxError... on
    some of it): every photo is admitted, upright or not, and without its EXIF."""
    intact = gps_exif(6).tobytes()
    rng = random.Random(14)
    for _ in range(150):
        damaged = bytearray(intact)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        out = io.BytesIO()
        noise((16, 8)).save(out, format=rng.choice(["JPEG", "PNG"]), exif=bytes(damaged[:rng.randrange(8, 300)]))
        clean = admit(out.getvalue())
        assert sorted((clean.width, clean.height)) == [8, 16]
        with Image.open(io.BytesIO(clean.data)) as image:
            assert not image.getexif()


def test_sixteen_bit_grey_is_scaled_not_clipped_and_old_rows_of_it_are_not_drawn_raw() -> None:
    out = io.BytesIO()
    Image.new("I;16", (400, 10), 40000).save(out, format="PNG")  # Streamlit cannot redraw this mode
    assert problem_drawing(out.getvalue()) == "its pixel format (I;16) cannot be shown"
    clean = admit(out.getvalue())
    with Image.open(io.BytesIO(clean.data)) as image:
        assert image.mode == "L" and image.getpixel((0, 0)) == 40000 // 256
    assert problem_drawing(clean.data) is None
