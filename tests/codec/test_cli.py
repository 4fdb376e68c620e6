"""Claims about the aec command line, run through click's CliRunner with the tiny test model."""

from __future__ import annotations

import contextlib
import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import click
import pytest
from click.testing import CliRunner
from PIL import Image

from aec.bitstream import MAGIC, parse
from aec import __version__, batch, cli
from aec.cli import main
from aec.outputs import compressed_name, decompressed_name
from tests.conftest import smooth_image

REPO = Path(__file__).resolve().parents[2]


def run(*args, input: bytes | None = None):
    return CliRunner().invoke(main, [str(arg) for arg in args], input=input)


def write_png(path: Path, height: int, width: int, seed: int = 0) -> Path:
    from tests.conftest import smooth_image

    Image.fromarray(smooth_image(height, width, seed)).save(path)
    return path


def assert_ok(result) -> None:
    assert result.exit_code == 0, result.output
    assert result.exception is None, result.exception


def assert_one_line_error(result, *fragments: str, exit_code: int = 1) -> str:
    """The CLI failed the aec way: one 'aec: error:' line on stderr, no traceback, the given exit code."""
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # anything else is an uncaught error
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("aec: error: "), lines
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def assert_usage_error(result, *fragments: str) -> None:
    """A bad option value, the click way: exit 2, one 'Error: Invalid value for' on stderr, no traceback."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.stderr.count("Error: Invalid value for") == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def leftovers(folder: Path) -> list[str]:
    """Temporary files a failed write would have left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture(scope="module")
def aec_data(tiny_codec) -> bytes:
    """A valid 17x5 .aec file written by the tiny model, shared by the decode and corruption tests."""
    from tests.conftest import smooth_image

    return tiny_codec.compress(smooth_image(5, 17, 3), quality=50)


@pytest.fixture
def weights(tiny_weights) -> list[str]:
    return ["--weights", str(tiny_weights)]


# ----------------------------------------------------------------------------------------------------------
# Round trips and naming


@pytest.mark.parametrize("height, width", [(1, 1), (5, 17), (129, 65)])
def test_round_trip_keeps_the_pixel_shape(tmp_path, weights, height, width):
    source = write_png(tmp_path / "in.png", height, width)
    assert_ok(run("compress", source, "-o", tmp_path / "x.aec", "-q", 2, *weights))
    assert_ok(run("decompress", tmp_path / "x.aec", "-o", tmp_path / "out.png", *weights))
    decoded = Image.open(tmp_path / "out.png")
    assert decoded.format == "PNG"
    assert np.asarray(decoded).shape == (height, width, 3)


def test_default_names_put_the_output_next_to_the_input(tmp_path, weights, monkeypatch):
    folder = tmp_path / "pictures"
    folder.mkdir()
    source = write_png(folder / "photo.png", 5, 17)
    monkeypatch.chdir(tmp_path)  # the output goes next to the input, not into the working folder
    result = run("compress", "pictures/photo.png", *weights)
    assert_ok(result)
    assert (folder / "photo.aec").read_bytes().startswith(MAGIC)
    assert "photo.aec" in result.stderr and "bpp" in result.stderr  # the one summary line
    source.unlink()
    assert_ok(run("decompress", "pictures/photo.aec", *weights))
    assert Image.open(folder / "photo.png").size == (17, 5)
    assert sorted(p.name for p in folder.iterdir()) == ["photo.aec", "photo.png"]


@pytest.mark.parametrize(
    "name, expected",
    [("photo.aec", "photo.png"), ("dir/photo.AEC", "dir/photo.png"), ("photo.bmp.aec", "photo.bmp"),
     ("photo.jpg.aec", "photo.jpg"), ("photo.bin", "photo.bin.png"), ("photo.png", "photo.png.png"),
     ("photo", "photo.png")],
)
def test_decompressed_name_keeps_a_known_image_suffix(name, expected):
    assert decompressed_name(name) == expected


def test_compressed_name_replaces_the_suffix():
    assert compressed_name("dir/photo.png") == "dir/photo.aec"
    assert compressed_name("photo") == "photo.aec"


def test_compressing_an_aec_file_without_o_is_refused(tmp_path, aec_data):
    (tmp_path / "x.aec").write_bytes(aec_data)
    assert_one_line_error(run("compress", tmp_path / "x.aec"), "already has the .aec suffix")
    assert (tmp_path / "x.aec").read_bytes() == aec_data


def test_several_inputs_go_into_the_folder_with_one_summary_line(tmp_path, weights):
    sources = [write_png(tmp_path / f"img{i}.png", 5 + i, 7, seed=i) for i in range(3)]
    out = tmp_path / "out"
    out.mkdir()
    result = run("compress", *sources, "-o", out, "-q", 1, *weights)
    assert_ok(result)
    assert sorted(p.name for p in out.iterdir()) == ["img0.aec", "img1.aec", "img2.aec"]
    images = sum(p.stat().st_size for p in sources)
    compressed = sum(p.stat().st_size for p in out.iterdir())
    # Off a terminal no progress bar (nor its bare label): the summary is all there is on stderr.
    assert result.stderr.splitlines() == [f"aec: 3 of 3 files compressed, {images:,} -> {compressed:,} bytes, "
                                          f"ratio {images / compressed:.2f}:1"]
    decoded = tmp_path / "decoded"
    decoded.mkdir()
    back = run("decompress", *sorted(out.iterdir()), "-o", decoded, *weights)
    assert_ok(back)
    written = sum(p.stat().st_size for p in decoded.iterdir())
    assert back.stderr.splitlines() == [f"aec: 3 of 3 files decompressed, {compressed:,} -> {written:,} bytes, "
                                        f"ratio {written / compressed:.2f}:1"]
    assert [Image.open(decoded / f"img{i}.png").size for i in range(3)] == [(7, 5), (7, 6), (7, 7)]
    quiet = run("decompress", *sorted(out.iterdir()), "-o", decoded, "-f", "--quiet", *weights)
    assert_ok(quiet)
    assert quiet.stderr == ""


def test_a_progress_bar_is_drawn_only_on_a_terminal(tmp_path, weights, monkeypatch):
    sources = [write_png(tmp_path / f"img{i}.png", 4, 4, seed=i) for i in range(2)]
    monkeypatch.setattr(cli, "is_terminal", lambda stream: stream is sys.stderr)
    result = run("compress", *sources, "-o", tmp_path, *weights)
    assert_ok(result)
    assert "compressing" in result.stderr and "2 of 2 files compressed" in result.stderr


@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_one_big_image_shows_its_progress_on_a_terminal_only(tmp_path, weights, monkeypatch, tiny_codec, command):
    source = write_png(tmp_path / "big.png", 80, 1100)  # three g_a and g_s tiles, two slices in the tiny model
    if command == "decompress":
        (tmp_path / "big.aec").write_bytes(tiny_codec.compress(Image.open(source), 50))
        source = tmp_path / "big.aec"
    label = f"{command}ing"
    plain = run(command, source, "-o", tmp_path / "plain.out.png" if command == "decompress" else tmp_path / "a.aec",
                *weights)
    assert_ok(plain)
    assert "%" not in plain.stderr and "\r" not in plain.stderr  # off a terminal: the summary line only
    assert len(plain.stderr.splitlines()) == 1

    monkeypatch.setattr(cli, "is_terminal", lambda stream: stream is sys.stderr)
    shown = run(command, source, "-o", tmp_path / "shown.out.png" if command == "decompress" else tmp_path / "b.aec",
                *weights)
    assert_ok(shown)
    # Each redraw starts with a carriage return (and an erase-line code, which click leaves out off a real terminal).
    pieces = shown.stderr.replace("\033[K", "").split("\r")
    drawn = [int(piece.split(f"{label} ")[1].rstrip(" %")) for piece in pieces if f"{label} " in piece]
    assert drawn[0] == 0 and drawn[-1] == 100 and len(drawn) >= 4, shown.stderr
    assert drawn == sorted(set(drawn))  # rising, each percentage drawn once
    summary = pieces[-1]  # the line is cleared before the summary is said
    assert "%" not in summary and summary.strip() == plain.stderr.strip().replace("plain", "shown").replace(
        "a.aec", "b.aec")


def test_several_inputs_need_an_existing_folder(tmp_path):
    sources = [write_png(tmp_path / f"img{i}.png", 2, 2) for i in range(2)]
    result = run("compress", *sources, "-o", tmp_path / "missing")
    assert result.exit_code == 2
    assert "existing folder" in result.stderr
    assert not (tmp_path / "missing").exists()


def test_a_failing_input_does_not_stop_the_others(tmp_path, weights):
    good = write_png(tmp_path / "good.png", 4, 4)
    (tmp_path / "bad.png").write_text("not an image")
    out = tmp_path / "out"
    out.mkdir()
    result = run("compress", tmp_path / "bad.png", tmp_path / "nope.png", good, "-o", out, *weights)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("aec: error: ")]
    assert len(errors) == 2 and "bad.png" in errors[0] and "nope.png" in errors[1]
    assert "2 of 3 files failed" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("aec: 1 of 3 files compressed, ")  # the summary says both
    assert len(result.stderr.splitlines()) == 3
    assert sorted(p.name for p in out.iterdir()) == ["good.aec"]
    quiet = run("compress", tmp_path / "bad.png", good, "-o", out, "-f", "--quiet", *weights)
    assert quiet.exit_code == 1
    assert quiet.stderr.splitlines()[-1] == "aec: 1 of 2 files failed"


def test_two_inputs_with_the_same_output_name_do_not_overwrite_each_other(tmp_path, weights):
    out = tmp_path / "out"
    out.mkdir()
    first = write_png(tmp_path / "a.png", 3, 3)
    (tmp_path / "sub").mkdir()
    second = write_png(tmp_path / "sub" / "a.png", 4, 4)
    result = run("compress", first, second, "-o", out, "-f", *weights)
    assert result.exit_code == 1
    assert "already written from" in result.stderr
    assert parse((out / "a.aec").read_bytes())[0].height == 3


# ----------------------------------------------------------------------------------------------------------
# stdin and stdout


def test_dash_reads_stdin_and_writes_stdout(tmp_path, weights):
    png = write_png(tmp_path / "in.png", 5, 17).read_bytes()
    compressed = run("compress", "-", *weights, input=png)
    assert_ok(compressed)
    assert compressed.stdout_bytes.startswith(MAGIC)
    assert compressed.stderr == ""  # nothing to say when the data goes to stdout
    decompressed = run("decompress", "-", *weights, input=compressed.stdout_bytes)
    assert_ok(decompressed)
    assert decompressed.stdout_bytes.startswith(b"\x89PNG")
    (tmp_path / "round.png").write_bytes(decompressed.stdout_bytes)
    assert Image.open(tmp_path / "round.png").size == (17, 5)


def test_output_dash_writes_the_file_to_stdout(tmp_path, aec_data, weights):
    (tmp_path / "x.aec").write_bytes(aec_data)
    result = run("decompress", tmp_path / "x.aec", "-o", "-", *weights)
    assert_ok(result)
    assert result.stdout_bytes.startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.aec"]


def test_binary_is_never_written_to_a_terminal(tmp_path, aec_data, monkeypatch):
    monkeypatch.setattr(batch, "is_terminal", lambda stream: True)
    (tmp_path / "x.aec").write_bytes(aec_data)
    result = run("decompress", tmp_path / "x.aec", "-o", "-")
    assert_one_line_error(result, "refusing to write binary data to a terminal")
    assert result.stdout_bytes == b""
    result = run("compress", "-", "-o", tmp_path / "x.png.aec")
    assert_one_line_error(result, "refusing to read binary data from a terminal")
    assert not (tmp_path / "x.png.aec").exists()


def test_stdin_must_be_the_only_input(tmp_path):
    result = run("compress", "-", write_png(tmp_path / "a.png", 2, 2), "-o", tmp_path)
    assert result.exit_code == 2
    assert "only input" in result.stderr


# ----------------------------------------------------------------------------------------------------------
# Overwriting, atomic writes and the input


def test_existing_output_is_kept_without_force_and_replaced_with_it(tmp_path, weights):
    source = write_png(tmp_path / "photo.png", 6, 6)
    target = tmp_path / "photo.aec"
    target.write_bytes(b"precious")
    assert_one_line_error(run("compress", source, *weights), "photo.aec already exists", "-f")
    assert target.read_bytes() == b"precious"
    assert_ok(run("compress", source, "-f", *weights))
    assert target.read_bytes().startswith(MAGIC)
    assert leftovers(tmp_path) == []


def test_the_input_is_never_modified(tmp_path, weights):
    source = write_png(tmp_path / "photo.png", 9, 11)
    before = source.read_bytes()
    os.utime(source, ns=(1_000_000_000, 1_000_000_000))
    assert_ok(run("compress", source, *weights))
    assert_ok(run("decompress", tmp_path / "photo.aec", "-o", tmp_path / "back.png", *weights))
    assert source.read_bytes() == before
    assert source.stat().st_mtime_ns == 1_000_000_000


def test_output_equal_to_input_is_refused_even_with_force(tmp_path, aec_data):
    source = tmp_path / "x.png"
    source.write_bytes(b"\x89PNG not really")
    assert_one_line_error(run("compress", source, "-o", source, "-f"), "is the input file")
    assert source.read_bytes() == b"\x89PNG not really"
    (tmp_path / "x.png").write_bytes(aec_data)  # a misnamed .aec file
    assert_one_line_error(run("decompress", tmp_path / "x.png", "-o", tmp_path / "x.png", "-f"), "is the input")
    assert (tmp_path / "x.png").read_bytes() == aec_data


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, OSError(28, "No space left on device")])
def test_a_failed_write_leaves_no_file_behind(tmp_path, weights, monkeypatch, interruption):
    source = write_png(tmp_path / "photo.png", 4, 4)

    def fail(descriptor):
        raise interruption

    monkeypatch.setattr(cli.os, "fsync", fail)  # after the temporary file is written, before the rename
    result = run("compress", source, *weights)
    if interruption is KeyboardInterrupt:
        assert result.exit_code == 130
        assert "interrupted" in result.stderr
    else:
        assert_one_line_error(result, "cannot write", "No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_an_image_pillow_cannot_save_leaves_no_file_behind(tmp_path, aec_data, monkeypatch, weights):
    (tmp_path / "x.aec").write_bytes(aec_data)

    def refuse(self, fp, format=None, **params):
        raise OSError(f"cannot write mode {self.mode} as {format}")

    monkeypatch.setattr(Image.Image, "save", refuse)
    result = run("decompress", tmp_path / "x.aec", "-o", tmp_path / "x.bmp", *weights)
    assert_one_line_error(result, "cannot save the image as BMP")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.aec"]


def test_decompress_writes_the_format_the_suffix_names(tmp_path, aec_data, weights):
    (tmp_path / "x.aec").write_bytes(aec_data)
    assert_ok(run("decompress", tmp_path / "x.aec", "-o", tmp_path / "x.bmp", *weights))
    assert Image.open(tmp_path / "x.bmp").format == "BMP"


def test_decompress_refuses_an_unknown_output_suffix(tmp_path, aec_data):
    (tmp_path / "x.aec").write_bytes(aec_data)
    result = run("decompress", tmp_path / "x.aec", "-o", tmp_path / "x.xyz")
    assert result.exit_code == 2
    assert "cannot write .xyz files" in result.stderr and ".png" in result.stderr
    assert not (tmp_path / "x.xyz").exists()


def _formats_pillow_writes() -> list[tuple[str, str]]:
    from PIL import features

    pairs = [(".png", "PNG"), (".jpg", "JPEG"), (".jpeg", "JPEG"), (".webp", "WEBP"), (".tif", "TIFF"),
             (".bmp", "BMP")]
    return pairs + ([(".avif", "AVIF")] if features.check("avif") else [])


@pytest.mark.parametrize("suffix, image_format", _formats_pillow_writes())
def test_decompress_writes_any_format_pillow_writes_by_the_suffix(tmp_path, weights, suffix, image_format):
    source = write_png(tmp_path / "in.png", 24, 40)
    assert_ok(run("compress", source, "-o", tmp_path / "x.aec", *weights))
    assert_ok(run("decompress", tmp_path / "x.aec", "-o", tmp_path / "ref.png", *weights))
    result = run("decompress", tmp_path / "x.aec", "-o", tmp_path / f"out{suffix}", *weights)
    assert_ok(result)
    assert "warning" not in result.stderr
    with Image.open(tmp_path / f"out{suffix}") as decoded:
        assert decoded.format == image_format and decoded.size == (40, 24)
        pixels = np.asarray(decoded.convert("RGB"), dtype=np.float64)
    reference = np.asarray(Image.open(tmp_path / "ref.png").convert("RGB"), dtype=np.float64)
    # Lossy formats are written near-transparently (JPEG 95 4:4:4, WebP 95, AVIF 90): no second visible loss.
    assert 10 * np.log10(255 ** 2 / max(np.mean((pixels - reference) ** 2), 1e-10)) > 35


def _rgba_aec(tmp_path: Path, weights) -> Path:
    from tests.conftest import smooth_image

    rgba = np.dstack([smooth_image(12, 20), np.arange(240, dtype=np.uint8).reshape(12, 20)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert_ok(run("compress", tmp_path / "a.png", "-o", tmp_path / "a.aec", *weights))
    return tmp_path / "a.aec"


@pytest.mark.parametrize("suffix, mode", [(".jpg", "RGB"), (".bmp", "RGB"), (".ppm", "RGB")])
def test_alpha_a_format_cannot_hold_is_dropped_with_a_warning(tmp_path, weights, suffix, mode):
    result = run("decompress", _rgba_aec(tmp_path, weights), "-o", tmp_path / f"b{suffix}", *weights)
    assert_ok(result)
    assert "aec: warning:" in result.stderr and "has no alpha channel" in result.stderr
    assert "alpha channel is dropped" in result.stderr and ".png" in result.stderr
    assert Image.open(tmp_path / f"b{suffix}").mode == mode


@pytest.mark.parametrize("suffix", [".png", ".webp", ".tif"])
def test_formats_with_alpha_keep_it_without_a_warning(tmp_path, weights, suffix):
    result = run("decompress", _rgba_aec(tmp_path, weights), "-o", tmp_path / f"b{suffix}", *weights)
    assert_ok(result)
    assert "warning" not in result.stderr
    assert Image.open(tmp_path / f"b{suffix}").mode == "RGBA"


def test_format_chooses_what_stdout_gets_and_the_default_names(tmp_path, aec_data, weights):
    import io

    (tmp_path / "x.aec").write_bytes(aec_data)
    plain = run("decompress", tmp_path / "x.aec", "-o", "-", *weights)
    assert_ok(plain)
    assert Image.open(io.BytesIO(plain.stdout_bytes)).format == "PNG"  # PNG by default
    for name, image_format in (("webp", "WEBP"), ("JPEG", "JPEG"), (".tif", "TIFF")):
        result = run("decompress", tmp_path / "x.aec", "-o", "-", "--format", name, *weights)
        assert_ok(result)
        assert Image.open(io.BytesIO(result.stdout_bytes)).format == image_format
    assert_ok(run("decompress", tmp_path / "x.aec", "--format", "jpeg", *weights))
    assert Image.open(tmp_path / "x.jpg").format == "JPEG"


def test_a_format_pillow_does_not_write_or_one_that_contradicts_the_output_name_is_a_usage_error(tmp_path,
                                                                                                  aec_data):
    (tmp_path / "x.aec").write_bytes(aec_data)
    assert_usage_error(run("decompress", tmp_path / "x.aec", "-o", "-", "--format", "xyz"), "'--format'", "xyz")
    assert_usage_error(run("decompress", tmp_path / "x.aec", "-o", tmp_path / "y.png", "--format", "jpeg"),
                       "PNG", "JPEG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.aec"]


# ----------------------------------------------------------------------------------------------------------
# Bad inputs: exit 1, one line, no output


def _corrupt(aec_data: bytes, how: str) -> bytes:
    if how == "empty":
        return b""
    if how == "truncated":
        return aec_data[: len(aec_data) // 2]
    if how == "wrong magic":
        return b"GIF8" + aec_data[4:]
    if how == "text":
        return b"hello, world\n" * 4
    body = bytearray(aec_data[:-4])
    body[-5] ^= 0x10  # inside the last (YLAT) payload
    if how == "flipped byte":
        return bytes(body) + aec_data[-4:]
    # The same flip with a fixed-up CRC: now the symbol checksum has to catch it.
    return bytes(body) + struct.pack("<I", zlib.crc32(body))


@pytest.mark.parametrize(
    "how, fragment",
    [("empty", "empty"), ("truncated", "truncated"), ("wrong magic", "not an .aec file"),
     ("text", "not an .aec file"), ("flipped byte", "CRC"), ("flipped byte, CRC fixed", "x.aec:")],
)
def test_a_bad_aec_file_fails_in_one_line_without_output(tmp_path, aec_data, weights, how, fragment):
    (tmp_path / "x.aec").write_bytes(_corrupt(aec_data, how))
    result = run("decompress", tmp_path / "x.aec", *weights)
    assert_one_line_error(result, fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.aec"]


@pytest.mark.parametrize(
    "content, fragment",
    [(b"", "is empty"), (b"just some text\n", "not a readable image"), (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "bad.png")],
)
def test_a_bad_image_fails_in_one_line_without_output(tmp_path, weights, content, fragment):
    (tmp_path / "bad.png").write_bytes(content)
    result = run("compress", tmp_path / "bad.png", *weights)
    assert_one_line_error(result, "bad.png", fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.png"]


@pytest.mark.parametrize("command", ["compress", "decompress", "info"])
def test_a_missing_input_fails_in_one_line(tmp_path, command):
    result = run(command, tmp_path / "nope.png")
    assert_one_line_error(result, "cannot read", "nope.png", "No such file or directory")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_as_input_fails_in_one_line(tmp_path):
    assert_one_line_error(run("compress", tmp_path), f"{tmp_path} is a folder; give -r")


def test_recursive_takes_the_files_below_a_folder_and_keeps_its_subfolders_under_o(tmp_path, weights):
    photos = tmp_path / "photos"
    (photos / "2024" / "june").mkdir(parents=True)
    (photos / ".hidden").mkdir()
    write_png(photos / "a.png", 4, 6)
    write_png(photos / "2024" / "b.PNG", 5, 6, seed=1)
    write_png(photos / "2024" / "june" / "c.png", 6, 6, seed=2)
    write_png(photos / ".hidden" / "d.png", 4, 4)
    (photos / "notes.txt").write_text("not an image")
    archive = tmp_path / "archive"
    archive.mkdir()
    result = run("compress", "-r", photos, "-o", archive, *weights)
    assert_ok(result)
    found = sorted(str(p.relative_to(archive)) for p in archive.rglob("*") if p.is_file())
    assert found == ["2024/b.aec", "2024/june/c.aec", "a.aec"]
    assert "3 of 3 files compressed" in result.stderr
    decoded = tmp_path / "decoded"
    decoded.mkdir()
    assert_ok(run("decompress", "-r", archive, "-o", decoded, *weights))
    assert Image.open(decoded / "2024" / "june" / "c.png").size == (6, 6)
    assert_ok(run("decompress", "-r", archive, *weights))  # without -o: next to each file
    assert (archive / "2024" / "b.png").is_file()


@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_a_missing_o_folder_is_a_usage_error_with_one_input_as_with_several(tmp_path, weights, command):
    sources = [write_png(tmp_path / f"{i}.png", 4, 4) for i in range(2)]
    if command == "decompress":
        for source in sources:
            assert_ok(run("compress", source, *weights))
        sources = [source.with_suffix(".aec") for source in sources]
    missing = tmp_path / "missing"
    for inputs, output in (((sources[0],), f"{missing}/"), ((sources[0],), missing / "x.png"),
                           (tuple(sources), f"{missing}/")):
        result = run(command, *inputs, "-o", output, *weights)
        assert result.exit_code == 2, (inputs, output, result.output)
        assert "missing" in result.stderr and "Traceback" not in result.output
    assert not missing.exists()
    assert_ok(run(command, sources[0], "-o", tmp_path / ("one.aec" if command == "compress" else "one.png"),
                  *weights))  # a new file in an existing folder is fine


def test_the_help_of_o_says_where_outputs_go_without_it():
    help_of_o = " ".join(next(p for p in main.commands["compress"].params if p.name == "output").help.split())
    assert "next to its input" in help_of_o and "required" not in help_of_o


@pytest.mark.parametrize("plugin, suffix", [("pillow_heif", ".heic"), ("pillow_jxl", ".jxl")])
def test_decompress_writes_the_formats_the_installed_pillow_plugins_write(tmp_path, weights, plugin, suffix):
    module = pytest.importorskip(plugin)  # both are in the bench extra
    if plugin == "pillow_heif":
        module.register_heif_opener()
    source = write_png(tmp_path / "photo.png", 24, 40)
    assert_ok(run("compress", source, *weights))
    result = run("decompress", tmp_path / "photo.aec", "-o", tmp_path / f"out{suffix}", *weights)
    assert_ok(result)
    assert Image.open(tmp_path / f"out{suffix}").size == (40, 24)
    streamed = run("decompress", "--format", suffix[1:], tmp_path / "photo.aec", "-o", "-", *weights)
    assert_ok(streamed)
    assert Image.open(io.BytesIO(streamed.stdout_bytes)).size == (40, 24)


def test_recursive_needs_files_below_the_folder_and_o_a_folder(tmp_path, weights):
    (tmp_path / "empty").mkdir()
    result = run("compress", "-r", tmp_path / "empty", *weights)
    assert result.exit_code == 2 and "no image files in" in result.stderr
    write_png(tmp_path / "empty" / "a.png", 4, 4)
    result = run("compress", "-r", tmp_path / "empty", "-o", tmp_path / "x.aec", *weights)
    assert result.exit_code == 2 and "-o must be an existing folder" in result.stderr


@pytest.mark.parametrize("quality, fragment",
                         [(q, f"{q} is out of range") for q in ("-1", "100.5", "101", "1000")]
                         + [(q, f"{q} is not a finite number") for q in ("inf", "-inf", "nan")])
def test_quality_out_of_0_to_100_names_the_range(tmp_path, weights, quality, fragment):
    source = write_png(tmp_path / "photo.png", 4, 4)
    result = run("compress", source, "-q", quality, *weights)
    assert_usage_error(result, "'-q' / '--quality'", fragment, "give a quality from 0 to 100")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


@pytest.mark.parametrize("quality, model_quality", [("0", "1"), ("50", "2"), ("100", "3"), ("75", "2.5")])
def test_quality_0_to_100_codes_at_the_models_own_quality(tmp_path, weights, quality, model_quality):
    source = write_png(tmp_path / "photo.png", 8, 8)
    assert_ok(run("compress", source, "-q", quality, "-o", tmp_path / "a.aec", *weights))
    assert_ok(run("compress", source, "--model-quality", model_quality, "-o", tmp_path / "b.aec", *weights))
    assert (tmp_path / "a.aec").read_bytes() == (tmp_path / "b.aec").read_bytes()
    assert parse((tmp_path / "a.aec").read_bytes())[0].quality == float(model_quality)


def test_the_default_quality_is_75(tmp_path, weights):
    source = write_png(tmp_path / "photo.png", 8, 8)
    assert_ok(run("compress", source, "-o", tmp_path / "a.aec", *weights))
    assert_ok(run("compress", source, "-q", 75, "-o", tmp_path / "b.aec", *weights))
    assert (tmp_path / "a.aec").read_bytes() == (tmp_path / "b.aec").read_bytes()


def test_a_model_quality_the_model_does_not_take_stops_at_the_first_of_several_inputs(tmp_path, weights):
    sources = [write_png(tmp_path / f"img{i}.png", 4, 4, seed=i) for i in range(3)]
    folder = tmp_path / "out"
    folder.mkdir()
    result = run("compress", *sources, "--model-quality", 9, "-o", folder, "--quiet", *weights)
    assert_usage_error(result, "'--model-quality'", "model quality 9 is out of range",  # once, not once per input
                       "model test-tiny takes model qualities from 1 to 3 (trained at 1, 2, 3)")
    assert list(folder.iterdir()) == []


def test_quality_and_model_quality_together_are_a_usage_error(tmp_path, weights):
    result = run("compress", write_png(tmp_path / "a.png", 4, 4), "-q", 50, "--model-quality", 2, *weights)
    assert result.exit_code == 2 and "give one of -q, --model-quality" in result.stderr


def test_compress_parses_nothing_and_decompress_judges_the_file_before_the_codec_parses_it(tmp_path, weights,
                                                                                         installed_tiny, monkeypatch):
    from aec import api

    parsed = []
    for module in (batch, api):
        for name in ("parse", "read_header", "_read_header"):
            if hasattr(module, name):
                def counting(*args, _original=getattr(module, name), _name=f"{module.__name__}.{name}", **kwargs):
                    parsed.append(_name)
                    return _original(*args, **kwargs)

                monkeypatch.setattr(module, name, counting)
    source = write_png(tmp_path / "photo.png", 8, 16)
    result = run("compress", source, *weights)
    assert_ok(result)
    assert parsed == []  # the size and rate come from the API's EncodeResult, not from re-reading the bytes
    size = (tmp_path / "photo.aec").stat().st_size
    assert f"16x8, {8 * size / 128:.3f} bpp" in result.stderr
    assert_ok(run("decompress", tmp_path / "photo.aec", "-o", tmp_path / "back.png"))  # the model the file names
    # The CLI's own parse refuses a bad file before torch or a model is loaded; it reads nothing from the result.
    assert parsed == ["aec.batch.parse", "aec.api.parse"]
    parsed.clear()
    result = run("compress", "-f", source, "-v", *weights)
    assert "16x8, quality 75 (model quality 2.5), " in result.stderr
    assert parsed == ["aec.api.parse"]  # only -v's PSNR: the file decoded again


def test_decompress_loads_only_the_model_the_file_names(tmp_path, aec_data, installed_tiny):
    (tmp_path / "x.aec").write_bytes(aec_data)
    assert_ok(run("decompress", tmp_path / "x.aec", "-o", tmp_path / "x.png"))
    assert installed_tiny == ["test-tiny"]  # never the default model (None) first
    assert Image.open(tmp_path / "x.png").size == (17, 5)


def test_a_file_naming_a_model_that_is_not_installed_fails_that_file_only(tmp_path, aec_data):
    (tmp_path / "x.aec").write_bytes(aec_data)  # written by test-tiny, which is not installed
    result = run("decompress", tmp_path / "x.aec", "-o", tmp_path / "x.png")
    assert_one_line_error(result, "x.aec: model 'test-tiny' is not installed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.aec"]


def test_max_pixels_refuses_larger_images_both_ways(tmp_path, aec_data, weights):
    source = write_png(tmp_path / "photo.png", 5, 17)
    assert_one_line_error(run("compress", source, "--max-pixels", 84, *weights), "photo.png", "pixel limit of 84")
    (tmp_path / "x.aec").write_bytes(aec_data)
    assert_one_line_error(run("decompress", tmp_path / "x.aec", "--max-pixels", 84, *weights), "limit of 84")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png", "x.aec"]


def test_quality_must_be_a_number(tmp_path):
    result = run("compress", tmp_path / "x.png", "-q", "high")
    assert result.exit_code == 2, result.output
    assert "--quality" in result.stderr


def test_a_missing_weights_file_is_a_usage_error(tmp_path):
    result = run("compress", tmp_path / "x.png", "--weights", tmp_path / "none.safetensors")
    assert result.exit_code == 2
    assert "none.safetensors" in result.stderr


def test_a_weights_file_that_is_not_a_model_is_a_usage_error(tmp_path, aec_data):
    source = write_png(tmp_path / "photo.png", 4, 4)
    (tmp_path / "x.aec").write_bytes(aec_data)
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    assert_usage_error(run("compress", source, "--weights", tmp_path / "junk.safetensors"), "'--weights'",
                       "cannot load the model")
    assert_usage_error(run("decompress", tmp_path / "x.aec", "--weights", tmp_path / "junk.safetensors"),
                       "'--weights'", "cannot load the model")
    assert not (tmp_path / "photo.aec").exists()


def test_verbose_and_quiet_contradict(tmp_path):
    result = run("compress", tmp_path / "x.png", "-v", "--quiet")
    assert result.exit_code == 2


# ----------------------------------------------------------------------------------------------------------
# Statistics, info, version and help


def test_verbose_prints_size_rate_and_time_on_stderr(tmp_path, weights):
    source = write_png(tmp_path / "photo.png", 8, 16)
    result = run("compress", source, "-v", "-q", 2, *weights)
    assert_ok(result)
    assert result.stdout == ""
    size = (tmp_path / "photo.aec").stat().st_size
    line = result.stderr.strip()
    assert "photo.png -> " in line and "16x8" in line and "quality 2" in line
    assert f"-> {size} bytes" in line and f"{8 * size / 128:.3f} bpp" in line and line.endswith(" s")


@pytest.mark.parametrize("mode, jobs", [("RGB", "1"), ("L", "1"), ("RGBA", "1"), ("RGB", "2")])
def test_verbose_reports_the_psnr_of_what_was_coded(tmp_path, weights, tiny_codec, mode, jobs):
    from aec.metrics import psnr

    sources = [write_png(tmp_path / f"{i}.png", 24, 40, i) for i in range(int(jobs))]
    for path in sources:
        Image.open(path).convert(mode).save(path)
    result = run("compress", "-v", "-j", jobs, *sources, *(["-o", tmp_path] if len(sources) > 1 else []), *weights)
    assert_ok(result)
    for path in sources:
        original = np.asarray(Image.open(path).convert("L" if mode == "L" else "RGB"), dtype=np.float64)
        decoded = np.asarray(tiny_codec.decompress(path.with_suffix(".aec")).convert("L" if mode == "L" else "RGB"))
        expected = psnr(float(np.mean((decoded - original) ** 2)), 255.0)
        assert f"{path.name} -> {path.with_suffix('.aec')}: 40x24, " in result.stderr
        assert f", PSNR {expected:.2f} dB, " in result.stderr, (expected, result.stderr)
    assert "MS-SSIM" not in result.stderr  # undefined under 161 pixels on a side


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_verbose_reports_the_ms_ssim_of_what_was_coded_where_it_is_defined(tmp_path, weights, tiny_codec, mode):
    from aec.metrics import ms_ssim

    source = write_png(tmp_path / "photo.png", 161, 170)
    Image.open(source).convert(mode).save(source)
    result = run("compress", "-v", source, *weights)
    assert_ok(result)
    original = np.asarray(Image.open(source))
    decoded = np.asarray(tiny_codec.decompress(tmp_path / "photo.aec"))
    assert f", MS-SSIM {ms_ssim(original, decoded):.4f}, " in result.stderr, result.stderr


def test_quiet_prints_nothing_on_success(tmp_path, weights):
    source = write_png(tmp_path / "photo.png", 4, 4)
    result = run("compress", source, "--quiet", *weights)
    assert_ok(result)
    assert result.output == ""


def test_info_describes_the_header_and_sections(tmp_path, aec_data):
    (tmp_path / "x.aec").write_bytes(aec_data)
    result = run("info", tmp_path / "x.aec")
    assert_ok(result)
    header, sections = parse(aec_data)
    text = result.stdout
    assert f"file size       {len(aec_data)} bytes" in text
    assert "format version  2.0" in text
    assert f"model           {header.model_id} (weights tag {header.weights_tag.hex()})" in text
    assert "quality         model quality 2 (no 0-100 scale here for model test-tiny)" in text
    assert "size            17 x 5" in text
    assert "layout          RGB" in text
    assert f"bits per pixel  {8 * len(aec_data) / 85:.4f}" in text
    for section in sections:
        assert f"{section.kind}" in text and f"{len(section.payload)} bytes" in text


def test_info_gives_the_0_to_100_quality_of_a_shipped_models_file():
    vector = REPO / "tests" / "vectors" / "aec-sc192-r5_rgb_64x48.aec"  # coded at model quality 1
    result = run("info", vector)
    assert_ok(result)
    assert "quality         0 (model quality 1)" in result.stdout


def test_info_reports_bad_files_and_goes_on(tmp_path, aec_data):
    (tmp_path / "good.aec").write_bytes(aec_data)
    (tmp_path / "bad.aec").write_bytes(aec_data[:20])
    result = run("info", tmp_path / "bad.aec", tmp_path / "good.aec")
    assert result.exit_code == 1
    assert "good.aec" in result.stdout and "bits per pixel" in result.stdout
    assert result.stderr.count("aec: error: ") == 1 and "bad.aec" in result.stderr


def test_info_reads_stdin(aec_data):
    result = run("info", "-", input=aec_data)
    assert_ok(result)
    assert result.stdout.startswith("<stdin>\n")


def test_help_and_info_do_not_load_torch(tmp_path, aec_data):
    (tmp_path / "x.aec").write_bytes(aec_data)
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from aec.cli import main\n"
        "for args in (['--help'], ['info', sys.argv[1]], ['models']):\n"
        "    assert CliRunner().invoke(main, args).exit_code == 0, args\n"
        "print('torch' in sys.modules)\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.aec")], capture_output=True, text=True,
                          env=environment, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False", "importing aec.cli imported torch (is aec/__init__.py eager?)"


def test_models_lists_the_installed_models_with_the_default_and_the_retired_marked():
    import json

    manifest = json.loads((REPO / "weights" / "manifest.json").read_text())
    result = run("models")
    assert_ok(result)
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["MODEL", "ARCHITECTURE", "STEPS", "QUALITIES", "STATUS"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == set(manifest["models"])
    for model_id, entry in manifest["models"].items():
        assert entry["architecture"] in rows[model_id]
        assert f"{entry['training']['steps']:,}" in rows[model_id]
        if entry.get("retired_after"):
            assert rows[model_id].endswith(f"retired (aec {entry['retired_after']} decodes its files)")
        elif entry.get("decoder_only"):
            assert rows[model_id].endswith(f"decodes only (since aec {entry['decoder_only']['since']})")
        else:
            assert rows[model_id].endswith("default" if model_id == manifest["default"] else "installed")
    assert sum(line.endswith("default") for line in lines) == 1
    # the default first, then the installed models, those that decode only, then the retired ones
    statuses = ["retired" if "retired (" in line else "decodes" if "decodes only (" in line else line.split()[-1]
                for line in lines[1:]]
    assert statuses == sorted(statuses, key=["default", "installed", "decodes", "retired"].index)


def test_version_prints_the_package_version():
    result = run("--version")
    assert_ok(result)
    assert result.stdout == f"aec {__version__}\n"


def test_help_gives_examples_and_exit_codes():
    result = run("--help")
    assert_ok(result)
    assert "Examples:" in result.stdout and "aec compress photo.png" in result.stdout
    assert "Exit codes:" in result.stdout and "130" in result.stdout
    for command in ("compress", "decompress", "info", "models"):
        text = run(command, "--help").stdout
        assert "Examples:" in text and "Exit codes:" in text, command


# ----------------------------------------------------------------------------------------------------------
# Image modes and metadata through the command line


def test_alpha_and_metadata_survive_the_command_line(tmp_path, weights):
    from tests.conftest import smooth_image

    rgba = np.dstack([smooth_image(12, 20), np.arange(240, dtype=np.uint8).reshape(12, 20)])
    source = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(source, icc_profile=b"icc bytes")
    assert_ok(run("compress", source, "-o", tmp_path / "a.aec", *weights))
    assert_ok(run("decompress", tmp_path / "a.aec", "-o", tmp_path / "b.png", *weights))
    with Image.open(tmp_path / "b.png") as decoded:
        assert decoded.mode == "RGBA" and decoded.info.get("icc_profile") == b"icc bytes"
        assert np.array_equal(np.asarray(decoded)[:, :, 3], rgba[:, :, 3])
    assert_ok(run("compress", source, "-o", tmp_path / "s.aec", "--strip", *weights))
    assert (tmp_path / "s.aec").stat().st_size < (tmp_path / "a.aec").stat().st_size


def test_sixteen_bit_input_warns_in_one_line(tmp_path, weights):
    wide = (np.arange(30 * 40, dtype=np.uint16).reshape(30, 40) * 50).astype(np.uint16)
    Image.fromarray(wide).save(tmp_path / "w.png")
    result = run("compress", tmp_path / "w.png", *weights)
    assert_ok(result)
    assert "aec: warning: 16-bit image reduced to 8 bits" in result.stderr


# ----------------------------------------------------------------------------------------------------------
# Hostile and special inputs and outputs


def test_a_model_that_is_not_installed_is_a_usage_error(tmp_path):
    source = write_png(tmp_path / "photo.png", 4, 4)
    assert_usage_error(run("compress", source, "--model", "foo"), "'--model'", "foo")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_a_bad_file_is_refused_before_torch_is_imported_or_a_model_loaded(tmp_path, aec_data, tiny_weights):
    from aec.bitstream import Section, pack

    header, sections = parse(aec_data)
    (tmp_path / "bomb.aec").write_bytes(pack(header, [Section("YLAT", b"")]))  # no ZHYP
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from aec.cli import main\n"
        "result = CliRunner().invoke(main, ['decompress', sys.argv[1], '--weights', sys.argv[2]])\n"
        "print(result.exit_code, 'torch' in sys.modules)\n"
        "print(result.output)\n"
    )
    path = os.pathsep.join(entry for entry in sys.path if entry)  # this aec, wherever it is imported from
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "bomb.aec"), str(tiny_weights)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path}, cwd=tmp_path,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 False\n"), done.stdout
    assert "lacks its ZHYP section" in done.stdout


@pytest.mark.parametrize("command", ["info", "decompress", "compress"])
def test_a_device_as_input_is_refused_by_name(command):
    assert_one_line_error(run(command, "/dev/zero"), "/dev/zero is a device, not a file")


@pytest.mark.parametrize("command", ["info", "decompress"])
def test_endless_stdin_that_is_not_aec_data_is_refused_after_its_first_bytes(command):
    with open("/dev/zero", "rb") as endless:
        assert_one_line_error(run(command, "-", input=endless), "not an .aec file")


def test_endless_stdin_is_read_no_further_than_an_image_within_the_pixel_limit_needs(weights):
    with open("/dev/zero", "rb") as endless:
        result = run("compress", "-", "--max-pixels", 1000, *weights, input=endless)
    assert_one_line_error(result, f"<stdin> is larger than {8 * 1000 + (64 << 20)} bytes", "--max-pixels")


def test_output_into_dev_null_needs_no_force_and_leaves_it_a_device(tmp_path, aec_data, weights):
    import stat

    (tmp_path / "x.aec").write_bytes(aec_data)
    assert_ok(run("decompress", tmp_path / "x.aec", "-o", "/dev/null", *weights))
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_force_writes_into_a_pipe_instead_of_replacing_it(tmp_path, aec_data, weights):
    import stat
    import threading

    (tmp_path / "x.aec").write_bytes(aec_data)
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = run("decompress", tmp_path / "x.aec", "-o", fifo, "-f", *weights)
    reader.join(10)
    if reader.is_alive() and stat.S_ISFIFO(os.stat(fifo).st_mode):  # the run never opened the pipe: let the reader go
        try:  # without blocking: a reader that has just finished would leave this open() waiting for ever
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
        reader.join(10)
    assert_ok(result)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode), "the pipe was replaced by a regular file"
    assert received and received[0].startswith(b"\x89PNG")
    assert leftovers(tmp_path) == []


def _with_sections(aec_data: bytes, *extra) -> bytes:
    from aec.bitstream import pack

    header, sections = parse(aec_data)
    return pack(header, [*sections, *extra])


def test_a_garbage_exif_block_is_left_out_of_a_tiff_with_a_warning(tmp_path, aec_data, weights):
    from aec.bitstream import Section

    (tmp_path / "x.aec").write_bytes(_with_sections(aec_data, Section("EXIF", b"not an exif block")))
    result = run("decompress", tmp_path / "x.aec", "-o", tmp_path / "x.tif", *weights)
    assert_ok(result)
    assert "aec: warning: " in result.stderr and "EXIF block cannot be written as TIFF" in result.stderr
    assert Image.open(tmp_path / "x.tif").size == (17, 5)


def test_an_icc_profile_too_large_for_png_readers_is_left_out_of_png_kept_in_tiff(tmp_path, aec_data, weights):
    from aec.bitstream import Section

    profile = bytes(range(256)) * (8 << 10)  # 2 MiB: Pillow reads a PNG's profile of at most 1 MiB
    (tmp_path / "x.aec").write_bytes(_with_sections(aec_data, Section("ICCP", profile)))
    result = run("decompress", tmp_path / "x.aec", "-o", tmp_path / "x.png", *weights)
    assert_ok(result)
    assert "the ICC profile (2097152 bytes) is larger than PNG readers take" in result.stderr
    assert_ok(run("compress", tmp_path / "x.png", "-o", tmp_path / "again.aec", *weights))  # aec reads what it wrote
    assert_ok(run("decompress", tmp_path / "x.aec", "-o", tmp_path / "x.tif", *weights))
    assert Image.open(tmp_path / "x.tif").info["icc_profile"] == profile


def test_stdin_and_stdout_use_no_click_api_that_click_8_5_deprecates(tmp_path, weights, monkeypatch):
    import warnings

    import click

    for name in ("get_binary_stream", "get_text_stream"):
        with warnings.catch_warnings():  # from click 8.5 on, reaching them warns already
            warnings.simplefilter("ignore", DeprecationWarning)
            original = getattr(click, name)

        def deprecated(*args, _original=original, _name=name, **kwargs):
            warnings.warn(f"'{_name}' is deprecated and will be removed in Click 9.0.", DeprecationWarning,
                          stacklevel=2)
            return _original(*args, **kwargs)

        # In the module's namespace: setattr would read the old value through click's __getattr__, which warns
        # (click 8.5); undone, the name is removed again (or the original put back, where click still has it).
        monkeypatch.setitem(vars(click), name, deprecated)
    png = write_png(tmp_path / "in.png", 5, 17).read_bytes()
    sources = [write_png(tmp_path / f"{i}.png", 4, 4) for i in range(2)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compressed = run("compress", "-", *weights, input=png)
        decompressed = run("decompress", "-", *weights, input=compressed.stdout_bytes)
        several = run("compress", *sources, "-o", tmp_path, *weights)  # the batch summary on stderr
    for result in (compressed, decompressed, several):
        assert_ok(result)
        assert "deprecated" not in result.stderr
    assert not [w for w in caught if issubclass(w.category, DeprecationWarning)]


# ----------------------------------------------------------------------------------------------------------
# Encoder effort and rate control


def test_effort_makes_a_file_the_decoder_reads_and_says_so_in_verbose(tmp_path, weights):
    source = write_png(tmp_path / "photo.png", 40, 56)
    result = run("compress", source, "-v", "-q", 2, "-e", 1, *weights)
    assert_ok(result)
    assert "effort 1" in result.stderr
    assert_ok(run("decompress", tmp_path / "photo.aec", "-o", tmp_path / "back.png", *weights))
    assert Image.open(tmp_path / "back.png").size == (56, 40)


def test_an_effort_beyond_the_levels_is_a_usage_error(tmp_path, weights):
    result = run("compress", write_png(tmp_path / "photo.png", 8, 8), "-e", 9, *weights)
    assert result.exit_code == 2 and "Invalid value for '-e' / '--effort'" in result.stderr


def test_a_target_size_picks_the_quality_and_verbose_reports_it(tmp_path, weights, tiny_codec):
    source = write_png(tmp_path / "photo.png", 64, 96, 2)
    middle = len(tiny_codec.compress(Image.open(source), 50))
    result = run("compress", source, "-v", "--target-size", middle, *weights)
    assert_ok(result)
    assert abs((tmp_path / "photo.aec").stat().st_size - middle) <= 0.02 * middle
    assert "quality " in result.stderr


def test_a_target_out_of_reach_warns_and_codes_the_nearest(tmp_path, weights):
    result = run("compress", write_png(tmp_path / "photo.png", 16, 16), "--target-bpp", 500, *weights)
    assert_ok(result)
    assert "out of reach" in result.stderr and (tmp_path / "photo.aec").is_file()


@pytest.mark.parametrize("extra", [["-q", "2", "--target-bpp", "0.5"], ["--target-bpp", "0.5", "--target-psnr", "30"]])
def test_a_quality_and_a_target_or_two_targets_are_a_usage_error(tmp_path, weights, extra):
    result = run("compress", write_png(tmp_path / "photo.png", 8, 8), *extra, *weights)
    assert result.exit_code == 2 and "give one of" in result.stderr


# ----------------------------------------------------------------------------------------------------------
# The README's quick start


def _readme_commands() -> list[str]:
    """The shell commands of the README's 'Install and run' section, in order, comments and pip installs left out."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Install and run", 1)[1].split("### From Python", 1)[0]
    commands = []
    for block in section.split("```sh\n")[1:]:
        for line in block.split("```", 1)[0].splitlines():
            line = line.split(" #", 1)[0].strip()
            commands += [part.strip() for part in line.split("&&") if part.strip()
                         and not part.strip().startswith("pip ")]
    return commands


def _run_shell_command(command: str) -> None:
    """Run one README command in the working folder: 'mkdir -p', 'cat FILE | aec ...', 'aec ... > FILE', globs."""
    import glob
    import shlex

    stdin = stdout = None
    if " | " in command:
        producer, command = command.split(" | ")
        assert producer.startswith("cat "), producer
        stdin = Path(producer[4:].strip()).read_bytes()
    if " > " in command:
        command, stdout = (part.strip() for part in command.split(" > "))
    words = shlex.split(command)
    if words[:2] == ["mkdir", "-p"]:
        for name in words[2:]:
            os.makedirs(name, exist_ok=True)
        return
    assert words[0] == "aec", command
    arguments = [match for word in words[1:] for match in (sorted(glob.glob(word)) if "*" in word else [word])]
    result = run(*arguments, input=stdin)
    assert_ok(result)
    if stdout is not None:
        Path(stdout).write_bytes(result.stdout_bytes)


def test_the_readme_quick_start_works_as_written_in_a_fresh_folder(tmp_path, monkeypatch, installed_tiny):
    write_png(tmp_path / "photo.png", 20, 30)
    monkeypatch.chdir(tmp_path)
    commands = _readme_commands()
    assert any("decompress" in command for command in commands) and len(commands) >= 6, commands
    for command in commands:
        _run_shell_command(command)
    assert Image.open("decoded.png").size == (30, 20)
    assert Image.open("small.png").size == (30, 20)
    assert Path("archive/photo.aec").read_bytes().startswith(MAGIC)
    assert Path("photo.aec").read_bytes().startswith(MAGIC)


# ----------------------------------------------------------------------------------------------------------
# Messages


def test_help_lists_every_command_with_its_whole_description():
    text = run("--help").stdout
    for name, command in main.commands.items():
        assert command.short_help and f"{name.ljust(10)}  {command.short_help}\n" in text, name
        assert not command.short_help.endswith("..."), name


def test_help_reads_like_cwebps_and_zstds_a_usage_per_command_common_options_and_examples():
    text = run("--help").stdout
    for synopsis in ("aec compress [-q 0-100] [-o OUT] [-f] IN...", "aec decompress [-o OUT] [-f] IN...",
                     "aec info FILE...", "aec models"):
        assert synopsis in text, synopsis
    common = text.split("Common options", 1)[1].split("Examples:", 1)[0]
    for option in ("-o OUT", "-f ", "-r ", "-j N", "--threads T", "--quiet"):
        assert option in common, option
    assert "-q Q" not in common and "quality" not in common  # decompress takes no quality
    compress = text.split("Compress options:", 1)[1].split("Common options", 1)[0]
    assert "-q Q" in compress and "quality 0-100" in compress and "default 75" in compress and "-e E" in compress
    assert "without -o" in common and "next to its input" in common
    examples = text.split("Examples:", 1)[1].split("Run 'aec COMMAND --help'", 1)[0]
    assert sum(line.strip().startswith(("aec ", "cat ")) for line in examples.splitlines()) >= 6


@pytest.mark.parametrize("command", ["compress", "decompress", "info", "models"])
def test_every_option_is_described_with_its_type_and_range(command):
    text = " ".join(run(command, "--help").stdout.split())  # click wraps long lines
    for param in main.commands[command].params:
        if isinstance(param, click.Option) and param.name != "help":
            assert param.help and param.help.rstrip()[-1] in ".)]", param.name  # a whole sentence
            assert " ".join(param.help.split())[:40] in text, param.name
    if command == "compress":
        for fragment in ("Quality 0-100", "[default: 75]", "Encoder effort 0-5", "megapixels", "Examples:"):
            assert fragment in text, fragment


def test_info_help_gives_only_the_exit_reasons_of_info():
    text = run("info", "--help").stdout
    codes = text.split("Exit codes:", 1)[1]
    for foreign in ("output exists", "quality", "--model", "--weights", "partial output"):
        assert foreign not in codes, foreign
    assert "not a valid .aec file" in codes and "130" in codes


@pytest.mark.parametrize("option, value, fragment", [
    ("-q", "abc", "'abc' is not a number; give a quality from 0 to 100"),
    ("--model-quality", "abc", "'abc' is not a number; give a number in the model's range"),
    ("--target-size", "inf", "'inf' is not a whole number; give a whole number of bytes"),
    ("--target-bpp", "inf", "inf is not a finite number; give a number of bits per pixel"),
    ("--target-psnr", "nan", "nan is not a finite number; give a PSNR in dB"),
    ("-e", "9", "9 is out of range; give a whole number from 0 to 5"),
    ("--max-pixels", "0", "0 is out of range; give a whole number of pixels, 1 or more"),
])
def test_a_bad_number_says_what_to_give_in_words_not_python_types(tmp_path, option, value, fragment):
    source = write_png(tmp_path / "photo.png", 4, 4)
    result = run("compress", source, option, value)
    assert_usage_error(result, fragment)
    assert "valid float" not in result.stderr and "integer range" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_decompressing_an_image_names_its_format_in_hex_not_a_bytes_literal(tmp_path):
    source = write_png(tmp_path / "photo.png", 4, 4)
    line = assert_one_line_error(run("decompress", source, "-o", tmp_path / "out.png"),
                                 "not an .aec file: it starts with 89 50 4E 47 (a PNG image)")
    assert "b'" not in line and "\\x" not in line


# ----------------------------------------------------------------------------------------------------------
# Worker processes (-j)


def test_jobs_code_in_worker_processes_to_the_same_bytes_warnings_errors_and_summary(tmp_path, weights):
    sources = [write_png(tmp_path / f"{i}.png", 8 + 4 * i, 12, seed=i) for i in range(3)]
    wide = (np.arange(16 * 16, dtype=np.uint16).reshape(16, 16) * 200).astype(np.uint16)
    Image.fromarray(wide).save(tmp_path / "w.png")
    (tmp_path / "bad.png").write_text("not an image")
    inputs = [*sources, tmp_path / "bad.png", tmp_path / "w.png"]
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    serial.mkdir()
    parallel.mkdir()
    one = run("compress", *inputs, "-o", serial, "-q", 2, *weights)
    two = run("compress", *inputs, "-o", parallel, "-q", 2, "-j", 2, *weights)
    assert one.exit_code == two.exit_code == 1
    assert one.stderr == two.stderr  # the same lines in the same order: the error, the warning, the summary
    assert "aec: warning: 16-bit image reduced" in two.stderr and "bad.png" in two.stderr
    names = sorted(p.name for p in serial.iterdir())
    assert names == sorted(p.name for p in parallel.iterdir()) == ["0.aec", "1.aec", "2.aec", "w.aec"]
    assert all((serial / name).read_bytes() == (parallel / name).read_bytes() for name in names)
    decoded = tmp_path / "decoded"
    decoded.mkdir()
    assert_ok(run("decompress", *sorted(parallel.iterdir()), "-o", decoded, "-j", 0, *weights))
    assert np.array_equal(np.asarray(Image.open(decoded / "2.png")),
                          np.asarray(Image.open(io.BytesIO(run("decompress", serial / "2.aec", "-o", "-",
                                                                *weights).stdout_bytes))))


def test_threads_reach_the_codec_and_the_worker_processes(tmp_path, weights, monkeypatch):
    from aec import api

    made = []
    original = api.Codec.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self.threads)

    monkeypatch.setattr(api.Codec, "__init__", init)
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # restored after the test
        monkeypatch.setenv(variable, "7")
    sources = [write_png(tmp_path / f"{i}.png", 8, 12, seed=i) for i in range(2)]
    assert_ok(run("compress", sources[0], "-o", tmp_path / "a.aec", "--threads", 1, *weights))
    assert_ok(run("decompress", tmp_path / "a.aec", "-o", tmp_path / "a.png", "--threads", 2, *weights))
    assert_ok(run("decompress", tmp_path / "a.aec", "-o", tmp_path / "b.png", *weights))
    assert made == [1, 2, None] and os.environ["OMP_NUM_THREADS"] == "7"
    (tmp_path / "out").mkdir()
    assert_ok(run("compress", *sources, "-o", tmp_path / "out", "-j", 2, *weights))
    assert made[-1] == 1 and os.environ["OMP_NUM_THREADS"] == "1"  # -j workers: one thread each by default
    assert_ok(run("compress", *sources, "-o", tmp_path / "out", "-f", "-j", 2, "--threads", 3, *weights))
    assert made[-1] == 3 and os.environ["OMP_NUM_THREADS"] == "3"
    assert_usage_error(run("compress", sources[0], "--threads", 0), "0 is out of range; give a whole number of "
                       "threads, 1 or more")


def test_jobs_must_be_a_whole_number_and_never_exceed_the_inputs(tmp_path):
    source = write_png(tmp_path / "a.png", 4, 4)
    assert_usage_error(run("compress", source, "-j", "x"), "'x' is not a whole number")
    assert_usage_error(run("compress", source, "-j", "-1"), "-1 is out of range")
    assert batch.jobs_for(8, ["a"] * 3) == 3 and batch.jobs_for(1, ["a"] * 5) == 1
    assert batch.jobs_for(0, ["a"] * 10 ** 3) == batch.usable_cores()


def test_jobs_by_default_start_workers_only_for_enough_work(tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "usable_cores", lambda: 4)
    small = [str(write_png(tmp_path / f"s{i}.png", 64, 64, seed=i)) for i in range(3)]
    assert batch.jobs_for(None, small[:1]) == 1  # one input: never a worker
    assert batch.jobs_for(None, small) == 1  # 12,288 pixels: not worth a worker's start
    Image.new("RGB", (1300, 1200)).save(tmp_path / "big.png")  # 1.56 megapixels, read from its header only
    assert batch.jobs_for(None, [*small, str(tmp_path / "big.png")]) == 4
    assert batch.jobs_for(None, ["missing.png"] * (cli.AUTO_JOBS_FILES - 1)) == 1  # unreadable: no pixels counted
    assert batch.jobs_for(None, ["missing.png"] * cli.AUTO_JOBS_FILES) == 4  # many files: enough work
    assert batch.jobs_for(None, ["-", "-"]) == 1  # stdin is read once, when it is coded
    monkeypatch.setattr(batch, "usable_cores", lambda: 1)
    assert batch.jobs_for(None, [*small, str(tmp_path / "big.png")]) == 1
    assert "-j" in run("compress", "--help").stdout and "megapixels" in run("compress", "--help").stdout


def test_workers_that_cannot_load_the_model_stop_the_command_in_one_line(tmp_path, installed_tiny):
    # The tiny model is installed in this process only: a spawned worker cannot load its id, and its pool breaks.
    sources = [write_png(tmp_path / f"{i}.png", 4, 4, seed=i) for i in range(2)]
    (tmp_path / "out").mkdir()
    result = run("compress", *sources, "-o", tmp_path / "out", "-j", 2)
    assert_one_line_error(result, "a -j worker process cannot load the model", "'test-tiny' is not installed")
    assert list((tmp_path / "out").iterdir()) == []


# ----------------------------------------------------------------------------------------------------------
# The process from outside: pipes, closed descriptors, signals (a real `aec` process each)

AEC = ["-c", "import sys; from aec.cli import main; main(prog_name='aec')"]


def _aec_process(*args, **options) -> subprocess.Popen:
    """`aec ARGS` as its own process, in a session of its own (so that it and its workers can be found and killed)."""
    path = os.pathsep.join(entry for entry in sys.path if entry)  # this aec, wherever it is imported from
    also = options.pop("preexec_fn", None)
    return subprocess.Popen([sys.executable, *AEC, *map(str, args)], env={**os.environ, "PYTHONPATH": path},
                            start_new_session=True, preexec_fn=lambda: _default_signals(also), **options)


def _default_signals(then=None) -> None:
    """In the child, before aec starts: SIGINT and SIGHUP as a terminal's aec gets them (a suite started in the
    background, `cmd &`, ignores SIGINT there, and one under nohup SIGHUP; the child inherits that, and aec rightly
    keeps an ignored signal ignored, as nohup asks); then THEN, a test's own preparation."""
    import signal

    for number in (signal.SIGINT, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    if then is not None:
        then()


def _session(leader: int) -> list[int]:
    """The processes of a session (its leader, the -j workers, multiprocessing's resource tracker)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError, ValueError):
            continue
        if entry.isdigit() and int(fields[3]) == leader and fields[0] != "Z":  # session id, not a zombie
            found.append(int(entry))
    return found


def _ended(process: subprocess.Popen, timeout: float = 60) -> None:
    """Wait for a process (bounded), then kill whatever is left of its session: a test leaves nothing behind."""
    try:
        process.wait(timeout)
    finally:
        import signal

        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def test_a_reader_that_leaves_mid_stream_is_an_error_not_a_silent_short_write(tmp_path, tiny_codec, tiny_weights):
    (tmp_path / "x.aec").write_bytes(tiny_codec.compress(smooth_image(200, 300), 50))  # 180 kB as BMP: over a pipe
    process = _aec_process("decompress", tmp_path / "x.aec", "--format", "bmp", "-o", "-", "--weights", tiny_weights,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout.read(10) == b"BM" + struct.pack("<I", 54 + 300 * 200 * 3)[:4] + bytes(4)
        process.stdout.close()  # as `| head -c 10` does
        stderr = process.communicate(timeout=60)[1].decode()
    finally:
        _ended(process)
    assert process.returncode == 1
    assert stderr.splitlines() == ["aec: error: cannot write to stdout: Broken pipe"]


@pytest.mark.parametrize("closed, args, message", [
    ("stdout", ["decompress", "IN", "-o", "-"], "cannot write to stdout: Bad file descriptor (it is closed)"),
    ("stdin", ["compress", "-", "-o", "OUT"], "cannot read stdin: Bad file descriptor (it is closed)"),
])
def test_a_closed_stdin_or_stdout_is_a_clear_error(tmp_path, tiny_codec, tiny_weights, closed, args, message):
    (tmp_path / "x.aec").write_bytes(tiny_codec.compress(smooth_image(8, 8), 50))
    args = [{"IN": tmp_path / "x.aec", "OUT": tmp_path / "y.aec"}.get(arg, arg) for arg in args]
    descriptor = 1 if closed == "stdout" else 0
    process = _aec_process(*args, "--weights", tiny_weights, stderr=subprocess.PIPE,
                           preexec_fn=lambda: os.close(descriptor))  # `>&-` or `<&-`
    try:
        stderr = process.communicate(timeout=60)[1].decode()
    finally:
        _ended(process)
    assert process.returncode == 1
    assert stderr.splitlines() == [f"aec: error: {message}"]
    assert not (tmp_path / "y.aec").exists()


@pytest.mark.parametrize("name, code", [("SIGTERM", 143), ("SIGHUP", 129), ("SIGINT", 130)])
def test_a_termination_signal_to_a_batch_ends_its_workers_and_leaves_no_partial_output(tmp_path, tiny_weights,
                                                                                        name, code):
    import signal
    import time

    source = write_png(tmp_path / "0.png", 1024, 1024)
    for i in range(1, 40):  # enough work that the batch is still running when the signal comes
        (tmp_path / f"{i}.png").write_bytes(source.read_bytes())
    (tmp_path / "out").mkdir()
    process = _aec_process("compress", *sorted(tmp_path.glob("*.png")), "-o", tmp_path / "out", "-j", 2,
                           "--weights", tiny_weights, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(_session(process.pid)) < 3 and time.monotonic() < deadline:  # aec and its two workers at least
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.5)  # the workers coding
        process.send_signal(getattr(signal, name))  # to aec alone, as `kill` or `timeout` sends it
        stderr = process.communicate(timeout=60)[1].decode()
        deadline = time.monotonic() + 10
        while _session(process.pid) and time.monotonic() < deadline:  # the resource tracker follows its pipe's end
            time.sleep(0.05)
        left = _session(process.pid)
    finally:
        _ended(process)
    assert process.returncode == code, stderr
    assert left == []
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1].startswith(
        "aec: interrupted" if name == "SIGINT" else f"aec: terminated by {name}")
    assert leftovers(tmp_path / "out") == []
    for written in (tmp_path / "out").iterdir():  # whatever was finished is whole
        parse(written.read_bytes())


def test_a_control_character_in_a_file_name_cannot_split_the_one_line_error(tmp_path):
    source = tmp_path / "bad\nname\x1b[31m.png"
    source.write_bytes(b"not an image")
    line = assert_one_line_error(run("compress", source, "-o", tmp_path / "x.aec"))
    assert "bad\\nname\\x1b[31m.png" in line and "\x1b" not in line


@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_a_hostile_model_file_is_one_usage_error_for_the_whole_batch(tmp_path, tiny_weights, tiny_codec, command):
    from tests.codec.test_api import hostile_weights

    if command == "compress":
        sources = [write_png(tmp_path / f"{i}.png", 8, 8, seed=i) for i in range(3)]
    else:
        sources = [tmp_path / f"{i}.aec" for i in range(3)]
        for i, source in enumerate(sources):
            source.write_bytes(tiny_codec.compress(smooth_image(8, 8, i), 50))
    (tmp_path / "out").mkdir()
    for hostility in ({"config": {"slices": 0}}, {"model_id": "../../etc/passwd"}, {"nan_in": "g_s.0.weight"}):
        weights = hostile_weights(tiny_weights, tmp_path, **hostility)
        result = run(command, *sources, "-o", tmp_path / "out", "--weights", weights)
        assert_usage_error(result, "Invalid value for '--weights': cannot load the model: hostile.safetensors")
        assert "internal error" not in result.stderr
        assert list((tmp_path / "out").iterdir()) == []


def test_a_device_given_as_weights_is_named_for_what_it_is(tmp_path):
    assert_usage_error(run("compress", write_png(tmp_path / "x.png", 4, 4), "--weights", "/dev/zero"),
                       "/dev/zero is not a regular file (a character device), so not a model file")
