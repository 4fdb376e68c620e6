"""Reading inputs in bounded memory: a file, a pipe or a stream is read up to a limit, and devices are refused.

A stranger's input may never end (`/dev/zero`, `/dev/urandom`, a pipe from a runaway program), so nothing is read
whole: at most ``input_limit(max_pixels)`` bytes, enough for any image within the pixel limit stored raw (16-bit
RGBA, 8 bytes a pixel) plus metadata, and .aec input stops after its first bytes if they are not the magic number.
Character and block devices are refused by name (gzip and zstd refuse them too); pipes and FIFOs are read, since
`aec compress <(curl ...)` is one.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from .errors import InputError

BYTES_PER_PIXEL = 8  # 16-bit RGBA stored raw, the largest an image file needs per pixel
METADATA_BYTES = 64 << 20  # room for ICC profiles, EXIF and the like beside the pixels
_CHUNK = 1 << 20


def input_limit(max_pixels: int) -> int:
    """The most bytes an input within the pixel limit needs: 8 a pixel plus 64 MiB (512 MiB + 64 MiB by default)."""
    return BYTES_PER_PIXEL * max_pixels + METADATA_BYTES


def read_stream(stream: BinaryIO, limit: int, name: str, *, magic: bytes | None = None) -> bytes:
    """Everything a binary stream holds, refusing more than ``limit`` bytes (InputError).

    With ``magic``, only the first ``len(magic)`` bytes are read if they are not it: the caller's parser then refuses
    them as not its format, without reading on.
    """
    data = bytearray()
    if magic:
        data += _read_up_to(stream, len(magic))
        if bytes(data) != magic:
            return bytes(data)
    while True:
        chunk = _read_up_to(stream, min(_CHUNK, limit + 1 - len(data)))
        if not chunk:
            return bytes(data)
        data += chunk
        if len(data) > limit:
            raise InputError(f"{name} is larger than {limit} bytes, more than any image within the pixel limit "
                             "needs; raise the pixel limit (CLI: --max-pixels) if you trust it")


def read_path(path: str | os.PathLike, limit: int, *, magic: bytes | None = None) -> bytes:
    """A file or a pipe by name, as read_stream; InputError for a device, a missing or unreadable file."""
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            raise InputError(f"{path} is a device, not a file; aec reads regular files and pipes")
        with open(path, "rb") as handle:
            return read_stream(handle, limit, str(path), magic=magic)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None


def text_stream(stream: object) -> InputError:
    """The error for a stream that reads text, not bytes (a file opened without 'b', a StringIO)."""
    name = getattr(stream, "name", None)
    return InputError(f"{name if isinstance(name, str) else 'the input'} is a text stream; open the file in binary "
                      "mode ('rb')")


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes: fewer only at the end of the stream (a pipe may return less per read); InputError for a
    stream that gives text (a file opened without 'b')."""
    parts = []
    while size > 0:
        part = stream.read(size)
        if not isinstance(part, (bytes, bytearray)) and part is not None:
            raise text_stream(stream)
        if not part:
            break
        parts.append(part)
        size -= len(part)
    return b"".join(parts)
