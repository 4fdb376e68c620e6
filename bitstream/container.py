"""The .aec container: fixed header, typed length-prefixed sections, CRC32 trailer."""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable, Sequence

from .errors import FormatError, UnsupportedVersionError

__all__ = [
    "MAGIC",
    "FORMAT_VERSION",
    "WRITABLE_VERSIONS",
    "DEFAULT_MAX_PIXELS",
    "MAX_MODEL_ID_LENGTH",
    "MAX_SECTIONS",
    "LAYOUTS",
    "PIXEL_GRID",
    "COMPRESSED_SECTIONS",
    "lowest_version",
    "Header",
    "Section",
    "pack",
    "parse",
    "padded_size",
    "read_header",
    "read_index",
    "sniff",
    "valid_model_id",
]

# A non-ASCII first byte stops text tools and charset sniffers from taking the file for text.
MAGIC = b"\x8bAEC"
FORMAT_VERSION = (2, 0)  # the newest this aec reads and writes (format 2.0: y coded in indexed blocks)
# Every version this aec writes (pack refuses others: a file that lies about its layout) and reads: 1.0 and 1.1 (y in
# Gaussian blocks, 1.1 with ICCZ/EXFZ) and 2.0. A decoder reads a later minor of a major it knows (minors add
# sections only).
WRITABLE_VERSIONS = ((1, 0), (1, 1), (2, 0))
# 8192 x 8192, counted padded: every camera photo up to 61 megapixels, below Pillow's own warning threshold (89.5 M),
# and at most about 3.5 GB to decode and 5.5 GB to encode at aec's measured rates; larger images need max_pixels.
DEFAULT_MAX_PIXELS = 1 << 26
MAX_MODEL_ID_LENGTH = 64
MAX_SECTIONS = 64
LAYOUTS = ("RGB", "L", "RGBA", "LA")
# Every 1.0 model codes the image padded to a multiple of 64 on each side and allocates in proportion to that, so the
# pixel limit counts the padded size: a 1 x 2**28 strip is 64 x 2**28 pixels of work.
PIXEL_GRID = 64
# The sections a decodable 1.0 image needs, those that are range-coded (whole u32 words), and the alpha plane, which a
# file has exactly when its layout has alpha.
REQUIRED_SECTIONS = ("ZHYP", "YLAT")
CODED_SECTIONS = ("ZHYP", "YLAT")
ALPHA_SECTION = "ALPH"
ALPHA_LAYOUTS = ("RGBA", "LA")
# Format 1.1: the ICC profile and the Exif block zlib-compressed, instead of ICCP and EXIF verbatim (never both).
COMPRESSED_SECTIONS = {"ICCZ": "ICCP", "EXFZ": "EXIF"}

_MODEL_ID = re.compile(r"[A-Za-z0-9._-]+")
_SECTION_KIND = re.compile(r"[A-Za-z0-9]{4}")
_PREAMBLE = struct.Struct("<4sBBHB")  # magic, major, minor, flags, model id length
_BODY = struct.Struct("<4sHIIBBBIH")  # weights tag .. number of sections
_SECTION = struct.Struct("<4sI")
_CRC = struct.Struct("<I")
_U16_MAX = 0xFFFF
_U32_MAX = 0xFFFFFFFF


@dataclass(frozen=True)
class Header:
    """Everything the fixed header says about a compressed image."""

    model_id: str
    weights_tag: bytes
    quality: float
    width: int
    height: int
    layout: str = "RGB"
    symbol_checksum: int = 0
    coder_version: tuple[int, int] = (0, 5)
    version: tuple[int, int] = FORMAT_VERSION


def lowest_version(sections: "tuple[Section, ...] | list[Section]", major: int = FORMAT_VERSION[0]) -> tuple[int, int]:
    """The lowest version of format ``major`` whose features these sections use (writers emit it): 2.0 for any (it
    has every 1.1 section); in format 1, 1.1 with ICCZ or EXFZ."""
    if major == 2:
        return (2, 0)
    if major != 1:
        raise ValueError(f"major must be 1 or 2, got {major!r}")
    return (1, 1) if any(section.kind in COMPRESSED_SECTIONS for section in sections) else (1, 0)


def _holds(kind: str) -> str:
    """What a section holds: ICCZ the ICC profile, as ICCP does."""
    return COMPRESSED_SECTIONS.get(kind, kind)


@dataclass(frozen=True)
class Section:
    """One typed payload, e.g. Section("YLAT", data)."""

    kind: str
    payload: bytes


def padded_size(width: int, height: int) -> tuple[int, int]:
    """The (width, height) a model codes: each rounded up to a multiple of PIXEL_GRID."""
    return width + (-width) % PIXEL_GRID, height + (-height) % PIXEL_GRID


def valid_model_id(model_id: object) -> bool:
    """Whether a model id can be written into a header: 1 to 64 characters of [A-Za-z0-9._-]."""
    return isinstance(model_id, str) and 1 <= len(model_id) <= MAX_MODEL_ID_LENGTH and bool(_MODEL_ID.fullmatch(model_id))


def sniff(prefix: bytes) -> bool:
    """Return True if the data starts with the .aec magic number."""
    return bytes(prefix[: len(MAGIC)]) == MAGIC


def pack(header: Header, sections: Sequence[Section]) -> bytes:
    """Serialise a header and its sections into .aec bytes."""
    _check_header(header)
    sections = tuple(sections)
    _check_sections(sections)
    model_id = header.model_id.encode("ascii")
    parts = [
        _PREAMBLE.pack(MAGIC, header.version[0], header.version[1], 0, len(model_id)),
        model_id,
        _BODY.pack(
            bytes(header.weights_tag),
            round(header.quality * 100),
            header.width,
            header.height,
            LAYOUTS.index(header.layout),
            header.coder_version[0],
            header.coder_version[1],
            header.symbol_checksum,
            len(sections),
        ),
    ]
    for section in sections:
        payload = bytes(section.payload)
        parts += [_SECTION.pack(section.kind.encode("ascii"), len(payload)), payload]
    body = b"".join(parts)
    return body + _CRC.pack(zlib.crc32(body))


def read_header(data: bytes) -> Header:
    """Parse and check the fixed header only (no CRC check), e.g. for `aec info`."""
    raw, _, _ = _walk_fixed(_as_bytes(data))
    return _check_fixed(raw)


def parse(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[Header, tuple[Section, ...]]:
    """Parse and fully check .aec bytes; return the header and the sections in file order."""
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise ValueError(f"max_pixels must be a positive int, got {max_pixels!r}")
    data = _as_bytes(data)
    # Locate every byte first and check the CRC before judging field values, so a damaged
    # file is reported as corrupt rather than as a strange but plausible header.
    raw, offset, count = _walk_fixed(data)
    sections = []
    for index in range(count):
        kind_bytes, length = _SECTION.unpack(_take(data, offset, _SECTION.size, f"section {index} header"))
        payload_offset = offset + _SECTION.size
        if length > len(data) - payload_offset:
            raise FormatError(
                f"section {index} ({_show(kind_bytes)}) at byte offset {offset} declares {length} payload bytes "
                f"but only {len(data) - payload_offset} remain; the file is truncated or corrupt"
            )
        sections.append((offset, kind_bytes, data[payload_offset : payload_offset + length]))
        offset = payload_offset + length
    stored = _CRC.unpack(_take(data, offset, _CRC.size, "CRC32"))[0]
    end = offset + _CRC.size
    if end != len(data):
        raise FormatError(
            f"{len(data) - end} unexpected bytes after the end of the .aec data at byte offset {end}; "
            "strip the trailing data (was something appended to the file?)"
        )
    computed = zlib.crc32(memoryview(data)[:offset])
    if computed != stored:
        raise FormatError(
            f"file is corrupt (CRC mismatch: stored 0x{stored:08x}, computed 0x{computed:08x}); "
            "re-create or re-download it"
        )
    header = _check_fixed(raw)
    _check_pixels(header, max_pixels)
    return header, _check_parsed_sections(header, sections)


def _check_pixels(header: Header, max_pixels: int) -> None:
    padded_width, padded_height = padded_size(header.width, header.height)
    if padded_width * padded_height > max_pixels:
        raise FormatError(
            f"image is {header.width}x{header.height} (coded padded to {padded_width}x{padded_height} = "
            f"{padded_width * padded_height} pixels), over the limit of {max_pixels}; "
            "raise max_pixels if you trust this file"
        )


@dataclass(frozen=True)
class _RawHeader:
    """Fixed-header fields as stored, before their values are judged."""

    major: int
    minor: int
    flags: int
    model_id: bytes
    body_offset: int  # where the weights tag starts; later fields are reported relative to it
    weights_tag: bytes
    quality: int
    width: int
    height: int
    layout: int
    coder_major: int
    coder_minor: int
    symbol_checksum: int


# What a file that is not .aec often is, by its first bytes, so that the message can say so.
_SIGNATURES = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
               (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"), (b"BM", "a BMP image"),
               (b"\x1f\x8b", "gzip data"), (b"\x28\xb5\x2f\xfd", "zstd data"))


def _hex(data: bytes) -> str:
    """Bytes as hex pairs (89 50 4E 47), not as a Python bytes literal."""
    return " ".join(f"{byte:02X}" for byte in data)


def _known_format(data: bytes) -> str:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return " (a WebP image)"
    if data[4:8] == b"ftyp":
        return " (an AVIF, HEIC or MP4 file)"
    return next((f" ({name})" for signature, name in _SIGNATURES if data.startswith(signature)), "")


def _walk_fixed(data: bytes) -> tuple[_RawHeader, int, int]:
    """Read the fixed header's raw fields; return them, the end offset and the section count."""
    if not data:
        raise FormatError("empty input: not an .aec file")
    if not data.startswith(MAGIC[: len(data)]):
        raise FormatError(f"not an .aec file: it starts with {_hex(data[:4])}{_known_format(data)}, not aec's magic "
                          f"number {_hex(MAGIC)}")
    # The version comes before anything else: a newer major may lay out the rest differently, but keeps the CRC32
    # trailer, which tells a newer file from a damaged one (or from one that only starts with the magic).
    _check_version(*_take(data, 4, 2, "format version"), lambda: _crc_trailer_matches(data))
    _, major, minor, flags, id_length = _PREAMBLE.unpack(_take(data, 0, _PREAMBLE.size, "header"))
    if not 1 <= id_length <= MAX_MODEL_ID_LENGTH:
        raise FormatError(
            f"model id length {id_length} at byte offset 8 is outside 1..{MAX_MODEL_ID_LENGTH}; the file is corrupt"
        )
    model_id = _take(data, _PREAMBLE.size, id_length, "model id")
    offset = _PREAMBLE.size + id_length
    *body, count = _BODY.unpack(_take(data, offset, _BODY.size, "header"))
    if count > MAX_SECTIONS:
        raise FormatError(
            f"{count} sections declared at byte offset {offset + _BODY.size - 2}, over the limit of "
            f"{MAX_SECTIONS}; the file is corrupt"
        )
    return _RawHeader(major, minor, flags, model_id, offset, *body), offset + _BODY.size, count


def _check_version(major: int, minor: int, crc_matches: Callable[[], bool]) -> None:
    """UnsupportedVersionError for a newer major whose CRC32 trailer holds (every major keeps it), FormatError for
    data that only starts like an .aec file."""
    if major > FORMAT_VERSION[0]:
        if not crc_matches():
            raise FormatError(
                f"not an .aec file this or any aec wrote: it starts with aec's magic number, but its format version "
                f"{major}.{minor} (byte offset 4) is unknown and its last 4 bytes are not the CRC32 every .aec file "
                "ends with; the file is corrupt or of another kind"
            )
        raise UnsupportedVersionError(
            f"written by a newer aec (format {major}.x, this aec reads 1.x and 2.x); upgrade aec"
        )
    if major < 1:
        raise UnsupportedVersionError(
            f"unknown format version {major}.{minor} at byte offset 4 (this aec reads 1.x and 2.x); "
            "the file is corrupt or was written by an unreleased aec"
        )


def _check_fixed(raw: _RawHeader) -> Header:
    """Judge the raw fixed-header fields and build the Header."""
    flags, model_id, body_offset, layout = raw.flags, raw.model_id, raw.body_offset, raw.layout
    if flags:
        raise FormatError(
            f"reserved flags 0x{flags:04x} at byte offset 6 must be 0; the file is corrupt or from an "
            "incompatible writer"
        )
    if not _MODEL_ID.fullmatch(model_id.decode("latin-1")):
        raise FormatError(
            f"model id {model_id!r} at byte offset 9 has characters outside [A-Za-z0-9._-]; the file is corrupt"
        )
    for name, value, at in (("width", raw.width, body_offset + 6), ("height", raw.height, body_offset + 10)):
        if value == 0:
            raise FormatError(f"image {name} is 0 at byte offset {at}; the file is corrupt")
    if layout >= len(LAYOUTS):
        raise FormatError(
            f"unknown channel layout {layout} at byte offset {body_offset + 14} (known: "
            f"{', '.join(f'{i}={name}' for i, name in enumerate(LAYOUTS))}); the file is corrupt"
        )
    return Header(
        model_id=model_id.decode("ascii"),
        weights_tag=raw.weights_tag,
        quality=raw.quality / 100,
        width=raw.width,
        height=raw.height,
        layout=LAYOUTS[layout],
        symbol_checksum=raw.symbol_checksum,
        coder_version=(raw.coder_major, raw.coder_minor),
        version=(raw.major, raw.minor),
    )


def _check_parsed_sections(header: Header, sections: list[tuple[int, bytes, bytes]]) -> tuple[Section, ...]:
    seen: set[str] = set()
    checked = []
    alpha = header.layout in ALPHA_LAYOUTS
    for offset, kind_bytes, payload in sections:
        kind = kind_bytes.decode("latin-1")
        if not _SECTION_KIND.fullmatch(kind):
            raise FormatError(
                f"section type {_hex(kind_bytes)} (hex) at byte offset {offset} is not 4 ASCII letters/digits; "
                "the file is corrupt"
            )
        if kind in seen:
            raise FormatError(
                f"section type {kind!r} appears twice (again at byte offset {offset}); the file is corrupt"
            )
        if kind in CODED_SECTIONS and len(payload) % 4:
            raise FormatError(
                f"the {kind} section at byte offset {offset} holds {len(payload)} bytes, not whole 4-byte words of "
                "range-coded data; the file is corrupt"
            )
        if kind not in seen and _holds(kind) in {_holds(earlier) for earlier in seen}:
            raise FormatError(f"section type {kind!r} at byte offset {offset} holds what another section of the file "
                              "holds (ICCP and ICCZ, or EXIF and EXFZ); the file is corrupt")
        if kind == ALPHA_SECTION and not alpha:
            raise FormatError(
                f"the file's layout is {header.layout} (no alpha) but it has an {ALPHA_SECTION} section at byte "
                f"offset {offset}; the file is corrupt"
            )
        seen.add(kind)
        checked.append(Section(kind, payload))
    missing = [kind for kind in REQUIRED_SECTIONS + ((ALPHA_SECTION,) if alpha else ()) if kind not in seen]
    if missing:
        with_alpha = f" (layout {header.layout}, with alpha)" if ALPHA_SECTION in missing else ""
        raise FormatError(f"the file lacks its {' and '.join(missing)} section{'s' * (len(missing) > 1)}{with_alpha}; "
                          "the file is corrupt")
    return tuple(checked)


def _check_header(header: Header) -> None:
    """Raise ValueError if pack cannot write this header faithfully."""
    if not isinstance(header, Header):
        raise ValueError(f"header must be a Header, got {type(header).__name__}")
    if not isinstance(header.model_id, str) or not _MODEL_ID.fullmatch(header.model_id):
        raise ValueError(f"model_id must match [A-Za-z0-9._-]+, got {header.model_id!r}")
    if len(header.model_id) > MAX_MODEL_ID_LENGTH:
        raise ValueError(f"model_id is {len(header.model_id)} characters, over the limit of {MAX_MODEL_ID_LENGTH}")
    if not isinstance(header.weights_tag, (bytes, bytearray)) or len(header.weights_tag) != 4:
        raise ValueError(f"weights_tag must be 4 bytes, got {header.weights_tag!r}")
    hundredths = header.quality * 100 if isinstance(header.quality, (int, float)) else float("nan")
    if not 0 <= hundredths <= _U16_MAX or abs(hundredths - round(hundredths)) > 1e-6:
        raise ValueError(f"quality must be a multiple of 0.01 in [0, {_U16_MAX / 100}], got {header.quality!r}")
    for name in ("width", "height"):
        value = getattr(header, name)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _U32_MAX:
            raise ValueError(f"{name} must be an int in [1, 2**32 - 1], got {value!r}")
    if header.layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {header.layout!r}")
    if not isinstance(header.symbol_checksum, int) or not 0 <= header.symbol_checksum <= _U32_MAX:
        raise ValueError(f"symbol_checksum must be a u32, got {header.symbol_checksum!r}")
    if not _is_byte_pair(header.coder_version):
        raise ValueError(f"coder_version must be two ints in [0, 255], got {header.coder_version!r}")
    # Writing a version we do not implement would make a file that lies about its layout.
    if not _is_byte_pair(header.version) or header.version not in WRITABLE_VERSIONS:
        versions = ", ".join(f"{major}.{minor}" for major, minor in WRITABLE_VERSIONS)
        raise ValueError(f"pack writes format {versions}, got {header.version!r}")


def _check_sections(sections: tuple[Section, ...]) -> None:
    if len(sections) > MAX_SECTIONS:
        raise ValueError(f"{len(sections)} sections, over the limit of {MAX_SECTIONS}")
    kinds = set()
    for section in sections:
        if not isinstance(section, Section):
            raise ValueError(f"sections must be Section objects, got {type(section).__name__}")
        if not isinstance(section.kind, str) or not _SECTION_KIND.fullmatch(section.kind):
            raise ValueError(f"section kind must be 4 ASCII letters/digits, got {section.kind!r}")
        if section.kind in kinds:
            raise ValueError(f"section kind {section.kind!r} appears twice; each kind may appear once")
        kinds.add(section.kind)
        if not isinstance(section.payload, (bytes, bytearray, memoryview)):
            kind = type(section.payload).__name__
            raise ValueError(f"section {section.kind!r} payload must be bytes, got {kind}")
        if memoryview(section.payload).nbytes > _U32_MAX:
            raise ValueError(f"section {section.kind!r} payload is over 2**32 - 1 bytes")


def _is_byte_pair(value: object) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(part, int) and not isinstance(part, bool) and 0 <= part <= 255 for part in value)
    )


def _crc_trailer_matches(data: bytes) -> bool:
    return len(data) > _CRC.size and _CRC.unpack_from(data, len(data) - _CRC.size)[0] == zlib.crc32(
        memoryview(data)[: len(data) - _CRC.size])


def _stream_crc_trailer_matches(stream: BinaryIO, start: int) -> bool:
    """_crc_trailer_matches for a seekable stream, read in blocks from ``start`` (bounded memory)."""
    stream.seek(start)
    crc, tail = 0, b""
    while True:
        block = stream.read(1 << 20)
        if not block:
            break
        joined = tail + block
        crc = zlib.crc32(joined[: -_CRC.size], crc) if len(joined) > _CRC.size else crc
        tail = joined[-_CRC.size:]
    return len(tail) == _CRC.size and _CRC.unpack(tail)[0] == crc


def read_index(stream: BinaryIO, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[Header, tuple[tuple[str, int, int], ...]]:
    """The header and each section's (type, payload offset, payload length) of a seekable binary stream at its start,
    reading only the fixed header and the section headers (payloads are skipped by seeking, so a file of any size
    costs a few hundred bytes): what an image library's open needs. It checks the magic, the version, the fixed
    header's fields and the pixel limit; the lengths, the CRC and the section rules are ``parse``'s, on the whole data.
    """
    start = stream.tell()
    head = stream.read(_PREAMBLE.size + MAX_MODEL_ID_LENGTH + _BODY.size)
    if not head:
        raise FormatError("empty input: not an .aec file")
    if not head.startswith(MAGIC[: len(head)]):
        raise FormatError(f"not an .aec file: it starts with {_hex(head[:4])}{_known_format(head)}, not aec's magic "
                          f"number {_hex(MAGIC)}")
    _check_version(*_take(head, 4, 2, "format version"), lambda: _stream_crc_trailer_matches(stream, start))
    raw, offset, count = _walk_fixed(head)
    header = _check_fixed(raw)
    _check_pixels(header, max_pixels)
    stream.seek(start + offset)
    index = []
    for number in range(count):
        kind, length = _SECTION.unpack(_take(stream.read(_SECTION.size), 0, _SECTION.size, f"section {number} header"))
        offset += _SECTION.size
        index.append((kind.decode("latin-1"), offset, length))
        offset += length
        stream.seek(start + offset)
    return header, tuple(index)


def _take(data: bytes, offset: int, size: int, what: str) -> bytes:
    """Return data[offset:offset+size] or raise FormatError naming the truncated field."""
    if offset + size > len(data):
        raise FormatError(
            f"truncated {what} at byte offset {offset}: needs {size} bytes, {max(len(data) - offset, 0)} left; "
            "the file is incomplete"
        )
    return data[offset : offset + size]


def _as_bytes(data: bytes) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"expected bytes, got {type(data).__name__}")


def _show(kind: bytes) -> str:
    return repr(kind.decode("latin-1"))
