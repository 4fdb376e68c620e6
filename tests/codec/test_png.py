"""aec.png writes the PNG that aec decompress outputs: Pillow reads back every pixel, the metadata, any thread count."""

import io
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from aec import png
from aec.outputs import encode_image
from tests.conftest import smooth_image

SHAPES = {"L": (23, 17), "LA": (9, 40, 2), "RGB": (37, 29, 3), "RGBA": (1, 1, 4)}


def read(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("mode", list(SHAPES))
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_pillow_reads_back_every_pixel_of_every_mode(mode, threads):
    pixels = np.random.default_rng(len(mode)).integers(0, 256, SHAPES[mode], dtype=np.uint8)
    image = read(png.encode(pixels, mode, threads=threads))
    assert image.format == "PNG" and image.mode == mode
    np.testing.assert_array_equal(np.asarray(image), pixels)


def test_many_bands_join_into_one_stream_the_same_for_any_thread_count(monkeypatch):
    monkeypatch.setattr(png, "BAND_BYTES", 1000)  # bands of 16 rows (the least): 13 of them
    pixels = smooth_image(200, 50)
    files = {threads: png.encode(pixels, "RGB", threads=threads) for threads in (1, 2, 4)}
    assert files[1] == files[2] == files[4]
    assert files[1].count(b"IDAT") == 13
    np.testing.assert_array_equal(np.asarray(read(files[1])), pixels)


def test_the_icc_profile_and_the_exif_block_travel_as_pillow_writes_them():
    pixels = smooth_image(16, 24)
    profile, exif = bytes(range(256)) * 3, b"Exif\0\0MM\0*\0\0\0\x08\0\0"
    ours = png.encode(pixels, "RGB", icc_profile=profile, exif=exif)
    image = read(ours)
    assert image.info["icc_profile"] == profile and image.info["exif"] == exif
    pillows = io.BytesIO()
    Image.fromarray(pixels).save(pillows, "PNG", icc_profile=profile, exif=exif, compress_level=1)
    chunks = [kind for kind in (b"IHDR", b"iCCP", b"eXIf", b"IDAT", b"IEND")]
    assert [ours.index(kind) for kind in chunks] == sorted(ours.index(kind) for kind in chunks)
    before_idat = ours.index(b"IDAT") - 4  # up to the first IDAT's length: the same chunks, byte for byte
    assert ours[:before_idat] == pillows.getvalue()[:before_idat]


def test_files_are_about_as_small_as_pillows_at_the_same_level():
    pixels = smooth_image(256, 384)
    pillows = io.BytesIO()
    Image.fromarray(pixels).save(pillows, "PNG", compress_level=1)
    assert len(png.encode(pixels, "RGB")) < 1.03 * len(pillows.getvalue())


def test_aec_decompress_writes_png_with_it():
    image = Image.fromarray(smooth_image(40, 30))
    assert encode_image(image, "PNG", "out.png", threads=2) == png.encode(np.asarray(image), "RGB")


@pytest.mark.parametrize("mode, shape", [("P", (4, 4)), ("RGB", (4, 4)), ("L", (4, 4, 1)), ("RGB", (0, 4, 3))])
def test_a_mode_or_shape_it_does_not_write_is_a_value_error(mode, shape):
    with pytest.raises(ValueError):
        png.encode(np.zeros(shape, np.uint8), mode)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=3000), st.binary(max_size=3000))
def test_adler32_of_two_strings_combines_from_theirs(first, second):
    combined = png._adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second))
    assert combined == zlib.adler32(first + second)


def test_an_output_is_written_with_the_codecs_threads_or_the_free_cores():
    import aec
    from aec import threads

    assert aec.Codec(threads=3).writing_threads() == 3
    assert 1 <= aec.Codec().writing_threads() <= threads.cores()
