"""Every image mode a user has: layouts, lossless alpha, 16-bit input, orientation, ICC and EXIF."""

import io

import numpy as np
import pytest
from PIL import Image

from aec.bitstream import FormatError, parse, read_header
from aec import PrecisionWarning
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
        data = tiny_codec.compress(io.BytesIO(buffer.getvalue()), 2)
    assert read_header(data).layout == "L"
    with pytest.warns(PrecisionWarning):
        tiny_codec.compress(wide, 2)


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
    assert tiny_codec.decompress_array(tiny_codec.compress(np.dstack([gray, gray]), 1)).shape == (9, 9, 2)
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
