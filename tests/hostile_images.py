"""Hostile and tricky image files, built at test time (nothing binary is checked in).

The bombs are built cheaply: a PNG header claiming ``side``×``side`` grey pixels and an IDAT of zeros
compressed row by row, so the file is a few hundred KB and no pixel buffer is ever allocated here.
Decoding one would allocate ``side²`` bytes (169 MB for 13000, 400 MB for 20000).
"""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image
from PIL.PngImagePlugin import PngInfo

GPS_IFD = 0x8825
ORIENTATION = 0x0112
SECRET = "53 deg N, secret place"  # text hidden in comments and text chunks
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="53,20.5N"/>'
       b"</rdf:RDF></x:xmpmeta>")
SVG = (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b'<script>alert(1)</script><rect width="10" height="10"/></svg>')


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png(width: int, height: int | None = None) -> bytes:
    """A valid 8-bit greyscale PNG of zeros, compressed without ever holding the pixels."""
    height = width if height is None else height
    compressor = zlib.compressobj(9)
    rows = b"\0" * (width + 1) * 64  # 64 rows: filter byte 0 and zeros
    idat = [compressor.compress(rows) for _ in range(height // 64)]
    idat += [compressor.compress(b"\0" * (width + 1) * (height % 64)), compressor.flush()]
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"".join(idat))
            + _chunk(b"IEND", b""))


def lying_header(fmt: str, width: int, height: int) -> bytes:
    """A small JPEG, GIF or WebP whose header claims ``width``×``height`` pixels (the data is for 16×16)."""
    out = io.BytesIO()
    noise((16, 16)).save(out, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    data = bytearray(out.getvalue())
    if fmt == "JPEG":  # SOF0: marker, length (2), precision (1), height (2), width (2)
        at = data.index(b"\xff\xc0") + 5
        data[at:at + 4] = struct.pack(">HH", height, width)
    elif fmt == "GIF":  # the logical screen, then the first image descriptor
        data[6:10] = struct.pack("<HH", width, height)
        at = data.index(b"\x2c", 13)
        data[at + 5:at + 9] = struct.pack("<HH", width, height)
    else:  # WebP VP8L (lossless): 14-bit width-1 and height-1 after the signature byte
        at = data.index(b"VP8L") + 9
        bits = int.from_bytes(data[at:at + 4], "little") & ~((1 << 28) - 1)
        data[at:at + 4] = (bits | (width - 1) | ((height - 1) << 14)).to_bytes(4, "little")
    return bytes(data)


def noise(size: tuple[int, int], mode: str = "RGB", seed: int = 1) -> Image.Image:
    """Random pixels (they do not compress, so a truncated file really lacks data)."""
    channels = len(mode)
    return Image.frombytes(mode, size, random.Random(seed).randbytes(size[0] * size[1] * channels))


def gps_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (53.0, 20.0, 30.0), 3: "W", 4: (6.0, 15.0, 0.0)})
    return exif


def jpeg_with_location(size: tuple[int, int] = (40, 20), orientation: int = 1) -> bytes:
    """A JPEG carrying GPS EXIF, XMP, a comment and an ICC profile, as phones write them."""
    out = io.BytesIO()
    noise(size).save(out, format="JPEG", exif=gps_exif(orientation), xmp=XMP, comment=SECRET.encode(),
                     icc_profile=_srgb_profile())
    return out.getvalue()


def png_with_text(size: tuple[int, int] = (30, 10)) -> bytes:
    """A PNG with tEXt, iTXt (XMP) and eXIf chunks."""
    info = PngInfo()
    info.add_text("Comment", SECRET)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    out = io.BytesIO()
    noise(size, "RGBA").save(out, format="PNG", pnginfo=info, exif=gps_exif())
    return out.getvalue()


def truncated_png() -> bytes:
    out = io.BytesIO()
    noise((64, 64)).save(out, format="PNG")
    return out.getvalue()[: out.tell() // 2]


def animated_gif() -> bytes:
    frames = [Image.new("P", (12, 8), 1), Image.new("P", (12, 8), 2)]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0,
                   comment=SECRET.encode())
    return out.getvalue()


def _srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
