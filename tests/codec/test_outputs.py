"""Claims about aec.outputs: output names and formats, Pillow saving that keeps what the format holds, and writes
that never clobber a file (a device or a pipe is written into)."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from aec.errors import OutputError
from aec.outputs import (compressed_name, decompressed_name, encode_image, named_format, output_format,
                         write_file)


def test_names_and_formats_follow_the_suffix():
    assert compressed_name("dir/photo.png") == "dir/photo.aec" and decompressed_name("photo.jpg.aec") == "photo.jpg"
    assert decompressed_name("photo.aec", "JPEG") == "photo.jpg"
    assert output_format("x.webp") == "WEBP" and output_format(None) == "PNG" and output_format(None, "TIFF") == "TIFF"
    assert named_format("jpg") == named_format(".JPG") == named_format("jpeg") == "JPEG"
    for refused in (lambda: compressed_name("photo.aec"), lambda: output_format("x.nope"),
                    lambda: output_format("x.png", "JPEG"), lambda: named_format("nope")):
        with pytest.raises(OutputError):
            refused()


def test_saving_keeps_alpha_where_the_format_holds_it_and_drops_it_with_a_warning_elsewhere():
    rgba = Image.fromarray(np.arange(4 * 6 * 4, dtype=np.uint8).reshape(4, 6, 4), "RGBA")
    assert Image.open(io.BytesIO(encode_image(rgba, "PNG", "out.png"))).mode == "RGBA"
    with pytest.warns(UserWarning, match="out.jpg: JPEG has no alpha channel"):
        assert Image.open(io.BytesIO(encode_image(rgba, "JPEG", "out.jpg"))).mode == "RGB"


def test_a_write_never_replaces_a_file_without_force_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.aec"
    write_file(str(target), b"first")
    with pytest.raises(OutputError, match="out.aec already exists; use -f to overwrite it"):
        write_file(str(target), b"second")
    assert target.read_bytes() == b"first"
    write_file(str(target), b"third", force=True)
    assert target.read_bytes() == b"third" and os.listdir(tmp_path) == ["out.aec"]


def test_a_device_is_written_into_not_replaced():
    write_file(os.devnull, b"data")  # a rename would have made /dev/null a regular file
    assert not os.path.isfile(os.devnull)


def test_a_format_whose_plugin_is_missing_names_the_package_to_install(monkeypatch):
    import aec.outputs as outputs

    # as on a machine without pillow-heif and pillow-jxl-plugin: no plugin adds a writer
    monkeypatch.setattr(outputs, "_writable_formats", lambda common=False: {".png": "PNG", ".jpg": "JPEG"})
    monkeypatch.setattr(outputs, "_load_plugins", lambda: False)
    with pytest.raises(OutputError, match=r"cannot write \.heic files here: .*\(pip install pillow-heif\)"):
        output_format("photo.heic")
    with pytest.raises(OutputError, match=r"\(pip install pillow-jxl-plugin\)"):
        output_format("photo.jxl")
    with pytest.raises(OutputError, match=r"heic is written by a Pillow plugin .*\(pip install pillow-heif\)"):
        named_format("heic")
    with pytest.raises(OutputError, match="not a format Pillow writes"):  # an unknown suffix is still just refused
        output_format("photo.xyz")


def test_a_common_format_is_found_without_loading_every_pillow_plugin():
    """PNG, JPEG and the other plugins Pillow loads first name their formats alone (loading all of Pillow's took 29
    ms of a decompress); a rarer suffix still finds its writer."""
    import subprocess
    import sys

    code = ("import sys; from aec.outputs import output_format; assert output_format('a.png') == 'PNG'; "
            "assert output_format('a.jpeg') == 'JPEG'; print('PIL.IcnsImagePlugin' in sys.modules); "
            "print(output_format('a.tga'), 'PIL.IcnsImagePlugin' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "TGA", "True"]
