"""PNG writing on every core, for ``aec decompress``'s default output (``aec.outputs``).

Pillow's PNG writer deflates on one thread: 27 ms of a 177 ms Kodak decode with the light model, a second of a
6000x4000 one. Here the rows are cut into bands, and each band is filtered and deflated by its own worker
(``aec.ops.workers``), as pigz does: a raw deflate stream per band, each but the last ended by a sync flush so that
they join into one zlib stream, whose Adler-32 is combined from the bands'. Each row takes the filter Sub or Up,
whichever leaves the smaller sum of magnitudes (libpng's heuristic over two of its five filters): on Kodak images,
files about 0.9 % smaller than Pillow's at the same zlib level 1 (docs/speed.md). The chunks are those Pillow writes
for the same image: IHDR, iCCP (the ICC profile), eXIf (the Exif block), IDAT, IEND.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from .ops import _each, workers

__all__ = ["COLOR_TYPES", "encode"]

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOR_TYPES = {"L": 0, "RGB": 2, "LA": 4, "RGBA": 6}  # 8 bits a sample
BAND_BYTES = 8 << 20  # at most this much of the image a band: its filtered copies stay small, however big the image
MIN_BAND_ROWS = 16
MIN_BANDS = 8  # what 8 threads can share out: a Kodak image in bands of 64 rows
_ADLER_BASE = 65521
_SUB, _UP = 1, 2


def encode(pixels: np.ndarray, mode: str, *, icc_profile: bytes | None = None, exif: bytes | None = None,
           level: int = 1, threads: int = 1) -> bytes:
    """The PNG file of an (height, width[, channels]) uint8 image of ``mode`` (L, RGB, LA or RGBA), deflated at zlib
    ``level`` by ``threads`` threads (the same bytes for any count)."""
    if mode not in COLOR_TYPES:
        raise ValueError(f"mode must be one of {tuple(COLOR_TYPES)}, got {mode!r}")
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    channels = len(mode)
    height, width = pixels.shape[:2]
    if pixels.shape != ((height, width) if channels == 1 else (height, width, channels)) or not (height and width):
        raise ValueError(f"a {mode} image must be (height, width{', channels' if channels > 1 else ''}) with "
                         f"{channels} channel(s), got shape {pixels.shape}")
    rows = pixels.reshape(height, width * channels)
    # Bands of at most BAND_BYTES, and at least MIN_BANDS where the image has the rows, whatever the thread count: the
    # same bytes for any.
    band = max(MIN_BAND_ROWS, min(BAND_BYTES // rows.shape[1], -(-height // MIN_BANDS)))
    bounds = [(start, min(start + band, height)) for start in range(0, height, band)]
    parts: list[tuple[bytes, int, int] | None] = [None] * len(bounds)

    def deflate(first: int, last: int) -> None:
        for index in range(first, last):
            start, stop = bounds[index]
            raw = _filtered(rows, start, stop, channels)
            compressor = zlib.compressobj(level, zlib.DEFLATED, -15, 9)  # memLevel 9: 0.3 % smaller, as fast
            data = compressor.compress(raw) + compressor.flush(zlib.Z_FINISH if stop == height else zlib.Z_SYNC_FLUSH)
            parts[index] = (data, zlib.adler32(raw), len(raw))

    with workers(threads):
        _each(deflate, [(index, index + 1) for index in range(len(bounds))])
    checksum = 1
    for _, adler, length in parts:
        checksum = _adler32_combine(checksum, adler, length)
    header = struct.pack(">IIBBBBB", width, height, 8, COLOR_TYPES[mode], 0, 0, 0)
    out = [SIGNATURE, _chunk(b"IHDR", header)]
    if icc_profile:
        out.append(_chunk(b"iCCP", b"ICC Profile\0\0" + zlib.compress(icc_profile)))
    if exif:
        out.append(_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\0\0") else exif))
    zlib_header = bytes([0x78, 0x01 if level <= 1 else 0x5E if level <= 5 else 0x9C if level == 6 else 0xDA])
    for index, (data, _, _) in enumerate(parts):
        out.append(_chunk(b"IDAT", (zlib_header if index == 0 else b"") + data
                          + (struct.pack(">I", checksum) if index == len(parts) - 1 else b"")))
    out.append(_chunk(b"IEND", b""))
    return b"".join(out)


def _filtered(rows: np.ndarray, start: int, stop: int, channels: int) -> bytes:
    """Rows start..stop as PNG scanlines: each its filter byte, then the row under Sub or Up (the smaller sum of
    magnitudes, each byte read as signed), uint8 arithmetic wrapping as PNG's does."""
    x = rows[start:stop]
    sub = np.empty_like(x)
    sub[:, :channels] = x[:, :channels]
    np.subtract(x[:, channels:], x[:, :-channels], out=sub[:, channels:])
    up = np.empty_like(x)
    np.subtract(x[0], rows[start - 1] if start else 0, out=up[0], casting="unsafe")
    np.subtract(x[1:], x[:-1], out=up[1:])
    # min(v, 256 - v): the magnitude of v read as a signed byte.
    cost_sub = np.minimum(sub, np.negative(sub)).sum(axis=1, dtype=np.uint64)
    cost_up = np.minimum(up, np.negative(up)).sum(axis=1, dtype=np.uint64)
    pick_up = cost_up < cost_sub
    lines = np.empty((x.shape[0], x.shape[1] + 1), np.uint8)
    lines[:, 0] = np.where(pick_up, _UP, _SUB)
    lines[:, 1:] = np.where(pick_up[:, None], up, sub)
    return lines.tobytes()


def _adler32_combine(first: int, second: int, second_length: int) -> int:
    """The Adler-32 of two byte strings one after the other, from theirs (zlib's adler32_combine)."""
    remainder = second_length % _ADLER_BASE
    low = first & 0xFFFF
    high = (remainder * low) % _ADLER_BASE
    low = (low + (second & 0xFFFF) + _ADLER_BASE - 1) % _ADLER_BASE
    high = (high + ((first >> 16) & 0xFFFF) + ((second >> 16) & 0xFFFF) + _ADLER_BASE - remainder) % _ADLER_BASE
    return low | (high << 16)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))
