"""Claims about bitstream.container: the .aec layout, its checks and its error messages."""

import re
import struct
import zlib

import pytest

from aec.bitstream import (
    DEFAULT_MAX_PIXELS,
    FORMAT_VERSION,
    MAGIC,
    FormatError,
    Header,
    Section,
    UnsupportedVersionError,
    pack,
    padded_size,
    parse,
    read_header,
    sniff,
)

HEADER = Header(
    model_id="hyper-m.v1",
    weights_tag=bytes.fromhex("deadbeef"),
    quality=3.5,
    width=768,
    height=512,
    layout="RGB",
    symbol_checksum=0x12345678,
)
SECTIONS = (Section("ZHYP", b"\x01\x02\x03\x04"), Section("YLAT", bytes(range(16))))
DATA = pack(HEADER, SECTIONS)
ALPHA = (Section("ALPH", b"zlib"),)
BODY = 9 + len(HEADER.model_id)  # offset of the weights tag


def patched(data: bytes, offset: int, new: bytes) -> bytes:
    """Overwrite bytes and recompute the trailing CRC, as a well-meaning but odd writer would."""
    body = bytearray(data[:-4])
    body[offset : offset + len(new)] = new
    return bytes(body) + struct.pack("<I", zlib.crc32(body))


def test_pack_then_parse_returns_the_same_header_and_sections():
    assert parse(DATA) == (HEADER, SECTIONS)


def test_pack_output_matches_the_golden_bytes():
    golden = (
        "8b41454302000000"  # magic, version 2.0, flags
        "0a" + b"hyper-m.v1".hex() + "deadbeef"  # model id, weights tag
        "5e01" "00030000" "00020000" "00" "0005" "78563412" "0200"  # q=350, 768, 512, RGB, coder 0.5, checksum, N=2
        + "5a48595004000000" + "01020304"  # ZHYP, 4 bytes
        + "594c415410000000" + bytes(range(16)).hex()  # YLAT, 16 bytes
    )
    body = bytes.fromhex(golden)
    assert DATA == body + struct.pack("<I", zlib.crc32(body))


@pytest.mark.parametrize("quality", [0.0, 0.07, 1.0, 3.5, 12.34, 655.35])
def test_quality_round_trips_in_hundredths(quality):
    header = Header("m", b"abcd", quality, 1, 1)
    assert parse(pack(header, SECTIONS))[0].quality == quality


@pytest.mark.parametrize("layout", ["RGB", "L", "RGBA", "LA"])
def test_every_layout_round_trips(layout):
    header = Header("m", b"abcd", 1.0, 3, 2, layout=layout)
    assert parse(pack(header, SECTIONS + ALPHA * ("A" in layout)))[0].layout == layout


def test_read_header_reads_the_fixed_header_without_the_rest():
    assert read_header(DATA) == HEADER
    assert read_header(DATA[: BODY + 23]) == HEADER


def test_sniff_recognises_the_magic_number():
    assert MAGIC[0] >= 0x80
    assert sniff(DATA) and sniff(DATA[:4])
    assert not sniff(b"\x89PNG\r\n\x1a\n") and not sniff(b"") and not sniff(b"\x8bAE")


def test_parse_accepts_bytearray_and_memoryview():
    assert parse(bytearray(DATA)) == parse(memoryview(DATA)) == (HEADER, SECTIONS)


def test_sections_keep_their_order_and_may_be_empty():
    sections = (Section("YLAT", b""), Section("ZHYP", b"zzzz"), Section("EXIF", b"x" * 1000))
    assert parse(pack(HEADER, sections))[1] == sections


def test_empty_input_is_a_format_error_that_says_so():
    with pytest.raises(FormatError, match="empty input: not an .aec file"):
        parse(b"")


def test_every_truncation_is_a_format_error():
    for cut in range(len(DATA)):
        with pytest.raises(FormatError):
            parse(DATA[:cut])


def test_every_truncation_of_the_fixed_header_is_a_format_error_for_read_header():
    for cut in range(BODY + 23):
        with pytest.raises(FormatError):
            read_header(DATA[:cut])


def test_a_flipped_bit_anywhere_is_a_format_error():
    for offset in range(len(DATA)):
        for bit in (0x01, 0x80):
            damaged = bytearray(DATA)
            damaged[offset] ^= bit
            with pytest.raises(FormatError):
                parse(bytes(damaged))


def test_a_flipped_payload_byte_is_reported_as_a_crc_mismatch():
    damaged = bytearray(DATA)
    damaged[-5] ^= 0x10
    with pytest.raises(FormatError, match=r"file is corrupt \(CRC mismatch"):
        parse(bytes(damaged))


@pytest.mark.parametrize(
    "data", [b"\x89PNG\r\n\x1a\n" + bytes(40), b"hello world, this is text", b"\x8bAEX" + bytes(40), b"x"]
)
def test_wrong_magic_says_not_an_aec_file(data):
    with pytest.raises(FormatError, match="not an .aec file"):
        parse(data)


def test_a_newer_major_version_asks_to_upgrade():
    newer = patched(DATA, 4, bytes([3, 0]))
    for reader in (parse, read_header):
        with pytest.raises(UnsupportedVersionError, match=r"newer aec \(format 3\.x.*upgrade aec"):
            reader(newer)


@pytest.mark.parametrize("version", [(1, 0), (1, 1), (2, 0)])
def test_every_version_it_writes_reads_back(version):
    header = Header(**dict(HEADER.__dict__, version=version))
    assert parse(pack(header, SECTIONS)) == (header, SECTIONS)


def test_a_newer_major_version_is_refused_even_if_its_layout_is_unknown():
    body = MAGIC + bytes([3, 0]) + b"a layout this aec does not know"
    with pytest.raises(UnsupportedVersionError, match="upgrade aec"):
        parse(body + struct.pack("<I", zlib.crc32(body)))  # every major keeps the CRC32 trailer


@pytest.mark.parametrize("tail", [b"", bytes([3, 0]), bytes([7, 1]) + bytes(60), bytes([255, 255]) + b"garbage" * 9])
def test_data_that_only_starts_with_the_magic_is_not_told_to_upgrade(tail):
    for reader in (parse, read_header):
        with pytest.raises(FormatError) as caught:
            reader(MAGIC + tail)
        assert "upgrade" not in str(caught.value) and not isinstance(caught.value, UnsupportedVersionError)


def test_major_version_zero_is_unsupported():
    with pytest.raises(UnsupportedVersionError):
        parse(patched(DATA, 4, bytes([0, 9])))


def test_a_newer_minor_version_is_readable_and_keeps_unknown_sections():
    sections = SECTIONS + (Section("NEW1", b"future"),)
    for major in (1, 2):
        newer = patched(pack(Header(**dict(HEADER.__dict__, version=(major, 0))), sections), 4, bytes([major, 7]))
        header, parsed = parse(newer)
        assert header.version == (major, 7)
        assert parsed == sections


def test_nonzero_reserved_flags_are_refused():
    with pytest.raises(FormatError, match="reserved flags 0x0100 at byte offset 6 must be 0"):
        parse(patched(DATA, 6, b"\x00\x01"))


@pytest.mark.parametrize("model_id", [b"hyper m.v1", b"hyper\xffm.v1", b"hyper/m.v1"])
def test_model_id_with_bad_characters_is_refused(model_id):
    with pytest.raises(FormatError, match="model id"):
        parse(patched(DATA, 9, model_id))


@pytest.mark.parametrize("length", [0, 65])
def test_model_id_length_outside_1_to_64_is_refused(length):
    with pytest.raises(FormatError, match="model id length"):
        parse(patched(DATA, 8, bytes([length])))


@pytest.mark.parametrize("offset, name", [(BODY + 6, "width"), (BODY + 10, "height")])
def test_zero_width_or_height_is_refused(offset, name):
    with pytest.raises(FormatError, match=f"image {name} is 0"):
        parse(patched(DATA, offset, bytes(4)))


def test_unknown_layout_is_refused():
    with pytest.raises(FormatError, match="unknown channel layout 4"):
        parse(patched(DATA, BODY + 14, b"\x04"))


def test_huge_dimensions_are_refused_unless_the_limit_is_raised():
    huge = patched(DATA, BODY + 6, struct.pack("<II", 100_000, 100_000))
    with pytest.raises(FormatError, match=f"over the limit of {DEFAULT_MAX_PIXELS}.*raise max_pixels"):
        parse(huge)
    assert parse(huge, max_pixels=10**11)[0].width == 100_000
    with pytest.raises(FormatError, match="over the limit of 1000"):
        parse(DATA, max_pixels=1000)


def test_the_pixel_limit_counts_the_padding_to_64_that_the_decoder_allocates():
    strip = patched(DATA, BODY + 6, struct.pack("<II", 1, 2**28))  # 2**28 pixels, 2**34 once padded
    with pytest.raises(FormatError, match="1x268435456 \\(coded padded to 64x268435456 = 17179869184 pixels\\), "
                                          f"over the limit of {DEFAULT_MAX_PIXELS}"):
        parse(strip)
    assert padded_size(1, 2**28) == (64, 2**28) and padded_size(65, 64) == (128, 64)
    assert parse(DATA, max_pixels=768 * 512)[0].width == 768  # already a multiple of 64: no padding


def test_read_header_reports_huge_dimensions_without_refusing_them():
    assert read_header(patched(DATA, BODY + 6, struct.pack("<II", 2**32 - 1, 2**32 - 1))).width == 2**32 - 1


def test_a_section_length_past_the_end_is_refused():
    first_section = BODY + 23
    with pytest.raises(FormatError, match="section 0 \\('ZHYP'\\) at byte offset .* declares 1000 payload bytes"):
        parse(patched(DATA, first_section + 4, struct.pack("<I", 1000)))
    with pytest.raises(FormatError, match="declares 4294967295 payload bytes"):
        parse(patched(DATA, first_section + 4, struct.pack("<I", 2**32 - 1)))


def test_too_many_sections_are_refused_before_reading_them():
    with pytest.raises(FormatError, match="65 sections .* over the limit of 64"):
        parse(patched(DATA, BODY + 21, struct.pack("<H", 65)))


def test_trailing_bytes_are_refused():
    with pytest.raises(FormatError, match="3 unexpected bytes after the end"):
        parse(DATA + b"abc")


def test_duplicate_sections_are_refused():
    data = patched(DATA, BODY + 23 + 8 + 4, b"ZHYP")
    with pytest.raises(FormatError, match="'ZHYP' appears twice"):
        parse(data)


def test_a_non_alphanumeric_section_type_is_refused():
    with pytest.raises(FormatError, match="section type"):
        parse(patched(DATA, BODY + 23, b"ZH P"))


@pytest.mark.parametrize("sections, layout, fragment", [
    ((Section("YLAT", b""),), "RGB", "lacks its ZHYP section"),
    ((Section("ZHYP", b""),), "L", "lacks its YLAT section"),
    ((), "RGB", "lacks its ZHYP and YLAT sections"),
    (SECTIONS, "RGBA", "lacks its ALPH section (layout RGBA, with alpha)"),
    (SECTIONS, "LA", "lacks its ALPH section (layout LA, with alpha)"),
    (SECTIONS + ALPHA, "RGB", "layout is RGB (no alpha) but it has an ALPH section at byte offset 78"),
    (SECTIONS + ALPHA, "L", "layout is L (no alpha) but it has an ALPH section"),
    ((Section("ZHYP", b"abc"), SECTIONS[1]), "RGB", "ZHYP section at byte offset 42 holds 3 bytes, not whole"),
    ((SECTIONS[0], Section("YLAT", b"abcde")), "RGB", "YLAT section at byte offset 54 holds 5 bytes"),
])
def test_a_file_without_the_sections_its_layout_needs_is_refused(sections, layout, fragment):
    data = pack(Header("hyper-m.v1", b"abcd", 1.0, 3, 2, layout=layout), sections)
    with pytest.raises(FormatError, match=re.escape(fragment)):
        parse(data)
    assert read_header(data).layout == layout  # the fixed header alone is still readable


def test_error_messages_are_one_line():
    cases = [b"", DATA[:20], DATA + b"x", patched(DATA, 4, b"\x03"), patched(DATA, 6, b"\x01")]
    for data in cases:
        with pytest.raises(FormatError) as caught:
            parse(data)
        assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "changes",
    [
        {"model_id": ""},
        {"model_id": "a b"},
        {"model_id": "x" * 65},
        {"model_id": "modèle"},
        {"weights_tag": b"abc"},
        {"weights_tag": "abcd"},
        {"quality": 3.505},
        {"quality": -1.0},
        {"quality": 700.0},
        {"quality": float("nan")},
        {"width": 0},
        {"height": 2**32},
        {"width": 3.0},
        {"layout": "CMYK"},
        {"symbol_checksum": -1},
        {"coder_version": (0, 256)},
        {"version": (3, 0)},
        {"version": (1, 2)},
        {"version": (FORMAT_VERSION[0], FORMAT_VERSION[1] + 1)},
    ],
)
def test_pack_refuses_a_header_it_cannot_write_faithfully(changes):
    fields = dict(HEADER.__dict__, **changes)
    with pytest.raises(ValueError):
        pack(Header(**fields), SECTIONS)


@pytest.mark.parametrize(
    "sections",
    [
        [Section("ZHY", b"")],
        [Section("ZH P", b"")],
        [Section("ZHYP", "text")],
        [Section("ZHYP", b""), Section("ZHYP", b"")],
        [Section(f"S{i:03d}", b"") for i in range(65)],
        [b"ZHYP"],
    ],
)
def test_pack_refuses_bad_sections(sections):
    with pytest.raises(ValueError):
        pack(HEADER, sections)


def test_parse_refuses_a_nonsense_pixel_limit():
    with pytest.raises(ValueError):
        parse(DATA, max_pixels=0)


@pytest.mark.parametrize("start, named", [
    (b"\x89PNG\r\n\x1a\n", "89 50 4E 47 (a PNG image)"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "FF D8 FF E0 (a JPEG image)"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "52 49 46 46 (a WebP image)"),
    (b"hello world", "68 65 6C 6C,"),
])
def test_data_that_is_not_aec_is_named_in_hex_and_by_its_format_never_as_a_python_bytes_literal(start, named):
    from aec.bitstream import read_header

    with pytest.raises(FormatError) as refused:
        read_header(start)
    message = str(refused.value)
    assert message == f"not an .aec file: it starts with {named.rstrip(',')}, not aec's magic number 8B 41 45 43"
    assert "b'" not in message and "\\x" not in message
