"""The Pillow plugin: Image.open of .aec files and streams, Image.save(..., "AEC"), registered on `import aec`."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import aec
from aec import FormatError, InputError
from tests.conftest import smooth_image

REPO = Path(__file__).resolve().parents[2]


def test_importing_aec_registers_the_format_with_pillow():
    assert Image.registered_extensions()[".aec"] == "AEC"
    assert "AEC" in Image.OPEN and "AEC" in Image.SAVE
    assert Image.MIME["AEC"] == "image/x-aec"


def test_save_and_open_round_trip_as_the_api_does(tmp_path, installed_tiny):
    rgba = np.dstack([smooth_image(20, 30, seed=2), np.arange(600, dtype=np.uint8).reshape(20, 30)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "x.aec", quality=25)  # the format from the suffix
    data = (tmp_path / "x.aec").read_bytes()
    assert aec.read_header(data).quality == 1.5  # 0-100 linearly onto the tiny model's 1 to 3
    expected = aec.decompress_array(data)
    with Image.open(tmp_path / "x.aec") as opened:
        assert (opened.format, opened.mode, opened.size) == ("AEC", "RGBA", (30, 20))
        assert np.array_equal(np.asarray(opened), expected)
    with Image.open(io.BytesIO(data)) as streamed:  # a stream, sniffed by the magic number
        assert np.array_equal(np.asarray(streamed.convert("RGBA")), expected)


def test_save_to_a_stream_takes_the_format_name_and_aec_options(installed_tiny):
    gray = Image.fromarray(smooth_image(16, 16, seed=1)).convert("L")
    gray.info["icc_profile"] = b"a profile"
    buffer = io.BytesIO()
    gray.save(buffer, "AEC", quality=50, effort=0)
    with Image.open(io.BytesIO(buffer.getvalue())) as opened:
        assert opened.mode == "L" and opened.info["icc_profile"] == b"a profile"
        assert opened.info["aec_model_quality"] == 2
        assert "aec_quality" not in opened.info  # the tiny model has no 0-100 scale in the manifest
    native = io.BytesIO()
    gray.save(native, "AEC", model_quality=2, effort=0)
    assert native.getvalue() == buffer.getvalue()
    stripped = io.BytesIO()
    gray.save(stripped, "AEC", quality=50, strip=True)
    assert len(stripped.getvalue()) < len(buffer.getvalue())
    with pytest.raises(InputError, match="not a number"):
        gray.save(io.BytesIO(), "AEC", quality="high")


def test_a_shipped_models_file_opens_with_its_0_to_100_quality():
    vector = Path(__file__).resolve().parents[1] / "vectors" / "aec-sc192-r5_rgb_64x48.aec"  # model quality 1
    with Image.open(vector) as opened:
        assert opened.info["aec_model"] == "aec-sc192-r5" and opened.info["aec_model_quality"] == 1.0
        assert opened.info["aec_quality"] == 0.0


def test_open_reads_the_header_and_decodes_only_when_the_pixels_are_needed(tmp_path, tiny_codec, monkeypatch):
    from aec import api

    data = tiny_codec.compress(smooth_image(9, 13), 50)
    calls = []
    monkeypatch.setattr(api, "default_codec", lambda: calls.append(1) or tiny_codec)
    opened = Image.open(io.BytesIO(data))
    assert opened.size == (13, 9) and calls == []
    assert np.array_equal(np.asarray(opened), tiny_codec.decompress_array(data)) and calls == [1]


def test_a_damaged_file_is_refused_as_aec_refuses_it_its_header_on_open_the_rest_on_load(tiny_codec, monkeypatch):
    from aec import api

    monkeypatch.setattr(api, "default_codec", lambda: tiny_codec)
    data = bytearray(tiny_codec.compress(smooth_image(9, 13), 50))
    data[-1] ^= 0xFF
    opened = Image.open(io.BytesIO(bytes(data)))  # the header is sound
    with pytest.raises(FormatError, match="CRC mismatch"):
        opened.load()
    data[6] = 1  # reserved flags
    with pytest.raises(FormatError, match="reserved flags"):
        Image.open(io.BytesIO(bytes(data)))


class _CountingReader(io.RawIOBase):
    """A seekable file of ``size`` bytes that starts with ``head`` (zeros after it, never stored), counting what is
    read of it."""

    def __init__(self, head: bytes, size: int):
        self.head, self.size, self.position, self.read_bytes = head, size, 0, 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=0):
        self.position = {0: 0, 1: self.position, 2: self.size}[whence] + offset
        return self.position

    def tell(self):
        return self.position

    def readinto(self, buffer):
        count = max(0, min(len(buffer), self.size - self.position))
        chunk = self.head[self.position:self.position + count].ljust(count, b"\0")
        buffer[:count] = chunk
        self.position += count
        self.read_bytes += count
        return count


def test_open_reads_only_the_headers_of_a_file_of_any_size(tiny_codec):
    from aec.bitstream import Section, pack, parse

    header, sections = parse(tiny_codec.compress(smooth_image(9, 13), 50))
    huge = [Section("YLAT", b"\0" * 8), *(s for s in sections if s.kind != "YLAT")]
    head = pack(header, huge)
    # YLAT declared 1 GiB long (the rest of the file zeros): a file that only Image.open's header read can afford.
    at = head.index(b"YLAT") + 4
    head = head[:at] + (1 << 30).to_bytes(4, "little") + head[at + 4:]
    stream = _CountingReader(head, 1 << 31)
    with Image.open(stream) as opened:
        assert opened.format == "AEC" and opened.size == (13, 9)
    assert stream.read_bytes < 4096


def test_loading_closes_the_file_as_pillows_own_plugins_do(tmp_path, tiny_codec, monkeypatch):
    from aec import api

    monkeypatch.setattr(api, "default_codec", lambda: tiny_codec)
    (tmp_path / "x.aec").write_bytes(tiny_codec.compress(smooth_image(9, 13), 50))
    Image.fromarray(smooth_image(9, 13)).save(tmp_path / "x.png")
    descriptors = len(os.listdir("/proc/self/fd"))
    images = [Image.open(tmp_path / "x.aec") for _ in range(20)]
    assert len(os.listdir("/proc/self/fd")) == descriptors + 20  # open until the pixels are read
    for image in images:
        image.load()
    pngs = [Image.open(tmp_path / "x.png") for _ in range(20)]
    for image in pngs:
        image.load()  # Pillow's PNG plugin, for comparison: it closes each file
    assert len(os.listdir("/proc/self/fd")) == descriptors


def test_compressing_an_aec_file_is_refused(tiny_codec):
    data = tiny_codec.compress(smooth_image(9, 13), 50)
    with pytest.raises(InputError, match="already an .aec file"):
        tiny_codec.compress(data, 50)


def test_import_aec_and_opening_an_aec_file_import_no_torch(tmp_path, tiny_codec):
    path = tmp_path / "x.aec"
    path.write_bytes(tiny_codec.compress(smooth_image(9, 13), 50))
    code = ("import sys, aec\n"
            "from PIL import Image\n"
            "image = Image.open(sys.argv[1])\n"
            "print(image.format, image.size, 'torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["AEC", "(13,", "9)", "False"]
