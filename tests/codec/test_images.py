"""Every image mode a user has: layouts, lossless alpha, 16-bit input, orientation, ICC and EXIF."""

import io
import re
import struct
import types
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from aec.bitstream import DEFAULT_MAX_PIXELS, FormatError, parse, read_header
from aec import InputError, PrecisionWarning
from tests.conftest import smooth_image


def _round_trip(codec, image, **kwargs):
    data = codec.compress(image, 2, **kwargs)
    return data, codec.decompress(data)


@pytest.mark.parametrize("mode,layout,out_mode", [("L", "L", "L"), ("LA", "LA", "LA"), ("RGB", "RGB", "RGB"),
                                                   ("RGBA", "RGBA", "RGBA"), ("P", "RGB", "RGB"),
                                                   ("CMYK", "RGB", "RGB"), ("1", "L", "L")])
def test_each_mode_decodes_to_its_layout(tiny_codec, mode, layout, out_mode):
    image = Image.fromarray(smooth_image(19, 23)).convert(mode)
    data, decoded = _round_trip(tiny_codec, image)
    assert read_header(data).layout == layout
    assert decoded.mode == out_mode and decoded.size == (23, 19)


def test_alpha_is_lossless(tiny_codec):
    rgba = np.dstack([smooth_image(21, 34), np.random.default_rng(0).integers(0, 256, (21, 34), dtype=np.uint8)])
    data, decoded = _round_trip(tiny_codec, rgba)
    assert np.array_equal(np.asarray(decoded)[:, :, 3], rgba[:, :, 3])
    assert tiny_codec.decompress_array(data).shape == (21, 34, 4)


def test_palette_transparency_becomes_alpha(tiny_codec):
    image = Image.fromarray(smooth_image(16, 16)).convert("P")
    image.info["transparency"] = 0
    _, decoded = _round_trip(tiny_codec, image)
    assert decoded.mode == "RGBA"


def test_sixteen_bit_input_is_reduced_with_a_warning(tiny_codec):
    wide = (np.arange(40 * 30, dtype=np.uint16).reshape(30, 40) * 50).astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(wide).save(buffer, "PNG")  # a 16-bit grayscale PNG (mode I;16)
    with pytest.warns(PrecisionWarning):
        data = tiny_codec.compress(io.BytesIO(buffer.getvalue()), 50)
    assert read_header(data).layout == "L"
    with pytest.warns(PrecisionWarning):
        tiny_codec.compress(wide, 50)


def test_exif_orientation_is_applied_and_metadata_carried(tiny_codec):
    image = Image.fromarray(smooth_image(10, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    exif[0x010F] = "aec test camera"
    icc = b"fake icc profile bytes"
    buffer = io.BytesIO()
    image.save(buffer, "PNG", exif=exif.tobytes(), icc_profile=icc)
    data, decoded = _round_trip(tiny_codec, io.BytesIO(buffer.getvalue()))
    assert decoded.size == (10, 30)  # width and height swapped by the orientation
    assert decoded.info["icc_profile"] == icc
    restored = Image.Exif()
    restored.load(decoded.info["exif"])
    assert restored[0x010F] == "aec test camera" and 0x0112 not in restored
    stripped = tiny_codec.compress(io.BytesIO(buffer.getvalue()), 2, strip=True)
    assert {s.kind for s in parse(stripped)[1]} == {"ZHYP", "YLAT"}
    assert len(stripped) < len(data)


def test_array_shapes_map_to_layouts(tiny_codec):
    gray = smooth_image(9, 9)[:, :, 0]
    assert tiny_codec.decompress_array(tiny_codec.compress(gray, 1)).shape == (9, 9)
    assert tiny_codec.decompress_array(tiny_codec.compress(np.dstack([gray, gray]), 0)).shape == (9, 9, 2)
    with pytest.raises(Exception, match="array"):
        tiny_codec.compress(np.zeros((4, 4, 5), dtype=np.uint8))


def test_a_missing_alpha_section_is_a_format_error(tiny_codec):
    from aec.bitstream import Section, pack

    data = tiny_codec.compress(np.dstack([smooth_image(8, 8), np.full((8, 8), 7, np.uint8)]), 1)
    header, sections = parse(data)
    broken = pack(header, [s for s in sections if s.kind != "ALPH"])
    with pytest.raises(FormatError, match="ALPH"):
        tiny_codec.decompress(broken)
    bomb = pack(header, [s if s.kind != "ALPH" else Section("ALPH", __import__("zlib").compress(bytes(10**6)))
                         for s in sections])
    with pytest.raises(FormatError, match="alpha"):
        tiny_codec.decompress(bomb)


def test_bytes_after_the_alpha_zlib_stream_are_refused(tiny_codec):
    from aec.bitstream import Section, pack

    data = tiny_codec.compress(np.dstack([smooth_image(8, 8), np.full((8, 8), 7, np.uint8)]), 1)
    header, sections = parse(data)
    assert tiny_codec.decompress_array(data).shape == (8, 8, 4)
    padded = pack(header, [s if s.kind != "ALPH" else Section("ALPH", s.payload + b"hidden") for s in sections])
    with pytest.raises(FormatError, match="the ALPH section has 6 bytes after its zlib stream"):
        tiny_codec.decompress_array(padded)


def test_list_images_takes_image_suffixes_in_any_case_sorted(tmp_path):
    from aec.images import list_images

    for name in ("b.PNG", "a.jpg", "c.webp", "notes.txt", "d.ppm"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "e.png").mkdir()  # a folder named like an image is not one
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG", "c.webp", "d.ppm"]


# ----------------------------------------------------------------------------------------------------------
# Wider than 8 bits: converted by the real range, with a warning that names it, or refused


def _tiff(tmp_path, array: np.ndarray, name: str = "wide.tif"):
    path = tmp_path / name
    Image.fromarray(array).save(path)
    return path


def _loaded(path, **kwargs):
    from aec.images import load

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = load(path, 1 << 28, **kwargs)
    return source.rgb[:, :, 0].astype(np.float64), [str(w.message) for w in caught
                                                    if issubclass(w.category, PrecisionWarning)]


GRADIENT = np.tile(np.round(np.linspace(0, 244, 64)), (16, 1))  # whole values, mean 122


@pytest.mark.parametrize("values, scale, fragment", [
    (GRADIENT / 255, 255, "32-bit float image with values in [0, 1] (here 0 to 0.956863) scaled to 8 bits"),
    (GRADIENT + 0.25, 1, "32-bit float image with values in [0, 255] (here 0.25 to 244.25) rounded to 8 bits"),
])
def test_a_float_image_is_read_by_its_range_with_a_warning(tmp_path, values, scale, fragment):
    gray, warned = _loaded(_tiff(tmp_path, values.astype(np.float32)))
    np.testing.assert_allclose(gray, np.round(values * scale), atol=0.5)
    assert abs(gray.mean() - 122) < 1 and warned == [fragment]


def test_an_integer_image_in_8_bit_range_is_exact_and_in_16_bit_range_reduced(tmp_path):
    gray, warned = _loaded(_tiff(tmp_path, GRADIENT.astype(np.int32)))
    np.testing.assert_array_equal(gray, GRADIENT.astype(np.int32))
    assert warned == []
    gray, warned = _loaded(_tiff(tmp_path, (GRADIENT * 257).astype(np.int32)))
    np.testing.assert_array_equal(gray, GRADIENT.astype(np.int32))
    assert warned == ["32-bit integer image with values up to 62708 read as 16-bit and reduced to 8 bits per channel"]


@pytest.mark.parametrize("values, fragment", [
    (np.array([[0.5, np.nan]], np.float32), "NaN or infinite pixels"),
    (np.array([[0.5, np.inf]], np.float32), "NaN or infinite pixels"),
    (np.array([[0.0, 300.0]], np.float32), "float image with values from 0 to 300: aec takes float images in [0, 1]"),
    (np.array([[-1.0, 0.5]], np.float32), "float image with values from -1 to 0.5"),
    (np.array([[-5, 7]], np.int32), "integer image with values from -5 to 7: aec takes integer images in 0..255"),
    (np.array([[0, 70000]], np.int32), "integer image with values from 0 to 70000"),
])
def test_a_wide_image_no_range_fits_is_refused_clearly(tmp_path, values, fragment):
    from aec.images import load

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy warning on the way either
        with pytest.raises(InputError, match=re.escape(fragment)):
            load(_tiff(tmp_path, values), 1 << 28)


def _png16(path, array: np.ndarray):
    """A 16-bit RGB(A) PNG, written by hand: Pillow cannot write one."""
    height, width, channels = array.shape
    raw = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, {3: 2, 4: 6}[channels], 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("channels", [3, 4])
def test_sixteen_bit_colour_is_reduced_with_a_warning_like_sixteen_bit_gray(tmp_path, channels):
    wide = (np.random.default_rng(channels).integers(0, 65536, (8, 8, channels))).astype(np.uint16)
    gray, warned = _loaded(_png16(tmp_path / "wide.png", wide))
    assert warned == ["16-bit image reduced to 8 bits per channel"]
    assert np.abs(gray - wide[:, :, 0] / 257).max() <= 1  # Pillow takes the high byte, aec would round
    ppm = tmp_path / "wide.ppm"
    ppm.write_bytes(b"P6 8 8 65535\n" + wide[:, :, :3].astype(">u2").tobytes())
    assert _loaded(ppm)[1] == ["16-bit image reduced to 8 bits per channel"]
    Image.fromarray(wide[:, :, :3].astype(np.uint8)).save(tmp_path / "narrow.png")
    assert _loaded(tmp_path / "narrow.png")[1] == []


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height 8-bit gray and holds one broken data chunk: only its header is readable."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(100))[:-4]) + chunk(b"IEND", b""))


# Files that declare more pixels than they hold: each format's header with little or no pixel data. The 35-byte GIF
# and the PNG are the issue's; Pillow alone refuses the GIF (268 M pixels), not the 16000 x 16000 PNG.
BOMBS = {
    "gif": b"GIF89a" + struct.pack("<HH", 16384, 16384) + b"\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00"
           b"\x02\x02D\x01\x00;",
    "png": _png_header(16000, 16000),
    "ppm": b"P6\n9000 9000\n255\n" + bytes(30),
    "pgm-strip": b"P5\n1 70000000\n255\n" + bytes(30),  # 1 pixel wide: 64 x 70 M once padded
    "bmp": b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, 20000, 20000, 1, 24, 0, 0,
                                                                   0, 0, 0, 0),
}


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_an_image_over_the_default_limit_is_refused_from_its_header_naming_the_option(kind, monkeypatch):
    from PIL import ImageFile

    from aec.images import load

    def no_decoding(self):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(InputError, match=r"exceeds the pixel limit of 67108864; raise it with max_pixels "
                                         r"\(CLI: --max-pixels\)"):
        load(BOMBS[kind], DEFAULT_MAX_PIXELS)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif", ".bmp", ".gif", ".ppm"])
def test_every_format_is_judged_by_its_header_before_its_pixels(tmp_path, monkeypatch, suffix):
    from PIL import ImageFile

    from aec.images import load

    Image.fromarray(smooth_image(70, 65)).save(tmp_path / f"photo{suffix}")  # 128 x 128 once padded
    assert load(tmp_path / f"photo{suffix}", 128 * 128).rgb.shape == (70, 65, 3)
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("the pixels were decoded"))
    with pytest.raises(InputError, match="65x70 \\(coded padded to 128x128 = 16384 pixels\\) exceeds the pixel limit "
                                         "of 16383"):
        load(tmp_path / f"photo{suffix}", 128 * 128 - 1)


def test_the_default_pixel_limit_takes_a_61_megapixel_photo_and_refuses_a_16384_square():
    from aec.images import check_size

    check_size(9504, 6336, DEFAULT_MAX_PIXELS, "a 61-megapixel camera's photo")
    check_size(8192, 8192, DEFAULT_MAX_PIXELS, "the largest square")
    with pytest.raises(InputError, match="raise it"):
        check_size(16384, 16384, DEFAULT_MAX_PIXELS, "a 2**28 bomb")
    assert DEFAULT_MAX_PIXELS < Image.MAX_IMAGE_PIXELS  # Pillow's own threshold never speaks first


class _Watched(types.ModuleType):
    """PIL.Image's module class while a test runs: records every write to its MAX_IMAGE_PIXELS."""

    writes: list = []

    def __setattr__(self, name, value):
        if name == "MAX_IMAGE_PIXELS":
            _Watched.writes.append(value)
        super().__setattr__(name, value)


def test_aec_never_changes_pillows_process_wide_pixel_limit(tmp_path, tiny_codec, monkeypatch):
    Image.fromarray(smooth_image(64, 64)).save(tmp_path / "photo.png")
    Image.fromarray(smooth_image(64, 64)).save(tmp_path / "photo.tif")
    monkeypatch.setattr(Image, "__class__", _Watched)
    _Watched.writes = []
    for source in (tmp_path / "photo.png", tmp_path / "photo.tif", BOMBS["gif"], BOMBS["png"]):
        try:
            tiny_codec.compress(source, 50)
        except InputError:
            pass
    assert _Watched.writes == []


def test_an_application_that_lowers_pillows_limit_keeps_it_and_aec_keeps_its_own(tmp_path, monkeypatch):
    from aec.images import load

    Image.fromarray(smooth_image(64, 64)).save(tmp_path / "photo.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow warns above 1000 pixels and refuses above 2000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load(tmp_path / "photo.png", 64 * 64).rgb.shape == (64, 64, 3)  # aec's limit allows it: no warning
    with pytest.raises(Image.DecompressionBombError):
        Image.open(tmp_path / "photo.png")  # and Pillow's is the application's, as it set it


# ----------------------------------------------------------------------------------------------------------
# Format 1.1: ICC profile and Exif block compressed


def _srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def test_the_icc_profile_and_exif_block_travel_compressed_in_a_1_1_file(tiny_codec):
    from aec.bitstream import parse

    profile = _srgb_profile()
    exif = Image.Exif()
    exif[0x010E] = "a description " * 20  # ImageDescription
    image = Image.fromarray(smooth_image(64, 96))
    image.info["icc_profile"] = profile
    image.info["exif"] = exif.tobytes()
    data = tiny_codec.compress(image, 50)
    header, sections = parse(data)
    kinds = {section.kind: len(section.payload) for section in sections}
    assert header.version == (2, 0) and "ICCZ" in kinds and "EXFZ" in kinds
    assert "ICCP" not in kinds and "EXIF" not in kinds
    assert kinds["ICCZ"] < len(profile) and kinds["EXFZ"] < len(image.info["exif"])
    decoded = tiny_codec.decompress(data)
    assert decoded.info["icc_profile"] == profile and decoded.info["exif"] == image.info["exif"]
    stripped = tiny_codec.compress(image, 2, strip=True)
    # The metadata costs what zlib makes of it (the issue measured 576 bytes verbatim for this profile).
    assert len(data) - len(stripped) < len(profile) + len(image.info["exif"]) - 100


def test_files_are_format_2_0_and_incompressible_metadata_stays_verbatim(tiny_codec):
    from aec.bitstream import parse

    image = Image.fromarray(smooth_image(16, 16))
    assert parse(tiny_codec.compress(image, 50))[0].version == (2, 0)
    image.info["icc_profile"] = np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8).tobytes()
    header, sections = parse(tiny_codec.compress(image, 50))
    assert header.version == (2, 0) and "ICCP" in [section.kind for section in sections]


def _with_metadata_sections(tiny_codec, *extra):
    from aec.bitstream import Section, pack, parse

    header, sections = parse(tiny_codec.compress(smooth_image(16, 16), 50))
    return pack(header, [*sections, *(Section(kind, payload) for kind, payload in extra)])


@pytest.mark.parametrize("extra, fragment", [
    ((("ICCZ", b"not zlib"),), "the ICCZ section is corrupt"),
    ((("EXFZ", zlib.compress(b"\0" * ((64 << 20) + 1))),), "inflates to over"),
    ((("ICCZ", zlib.compress(b"profile") + b"junk"),), "not one whole zlib stream"),
    ((("ICCP", b"profile"), ("ICCZ", zlib.compress(b"profile"))), "holds what another section of the file holds"),
])
def test_bad_compressed_metadata_is_refused(tiny_codec, extra, fragment):
    from aec import FormatError

    with pytest.raises(FormatError, match=fragment):
        tiny_codec.decompress(_with_metadata_sections(tiny_codec, *extra))
