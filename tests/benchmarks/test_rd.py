import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

for module in ("bjontegaard", "matplotlib", "scipy"):
    pytest.importorskip(module, reason="the bench extra is not installed: pip install -e '.[bench]'")

from benchmarks import adapters, memory, rd, report  # noqa: E402
from benchmarks.adapters import Adapter

REPO_ROOT = Path(__file__).resolve().parents[2]


def write_images(folder: Path) -> None:
    """Two tiny generated images: smooth colour ramps with stripes and noise, one with odd sides."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    for index, (height, width) in enumerate([(168, 176), (161, 200)]):
        y, x = np.mgrid[0:height, 0:width]
        pixels = np.stack([x * 255 / width, y * 255 / height, ((x + y) % 48) * 5], axis=-1)
        pixels = np.clip(pixels + rng.normal(0, 6, pixels.shape), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"tiny{index}.png")


def fake_adapter(name="fake", fail_at=None, lossless=False) -> Adapter:
    """A codec whose file is `quality` bytes long and whose decoded image is the original plus a small error."""

    def encode(pixels, quality):
        if quality == fail_at:
            raise RuntimeError("encoder refused")
        return bytes(int(quality)) + pixels.shape[0].to_bytes(2, "little") + pixels.shape[1].to_bytes(2, "little")

    def decode(data):
        height, width = int.from_bytes(data[-4:-2], "little"), int.from_bytes(data[-2:], "little")
        return np.full((height, width, 3), 128 if lossless else 128 + min(len(data) // 8, 100), dtype=np.uint8)

    return Adapter(name, name.title(), (10.0, 20.0, 40.0), encode, decode, "bytes", (1, 400), lossless=lossless)


def flat_image(name="flat", height=20, width=10):
    return rd.TestImage(name, np.full((height, width, 3), 128, dtype=np.uint8), "0" * 64)


def test_quick_run_writes_every_output(tmp_path):
    write_images(tmp_path / "images")
    out = tmp_path / "out"
    codecs = [n for n in adapters.CODEC_NAMES if n != "aec"]
    command = [
        sys.executable,
        "benchmarks/rd.py",
        "--images", str(tmp_path / "images"),
        "--quick",
        "--out", str(out),
        "--codecs", ",".join(codecs),
        "--bd-test", "jpeg444",
        "-q",
    ]  # fmt: skip
    finished = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr

    summary = json.loads((out / "summary.json").read_text())
    measured = list(summary["codecs"])
    assert set(measured) | set(summary["skipped"]) == set(codecs)
    assert "jpeg444" in measured and summary["errors"] == []
    assert summary["command"].startswith("python benchmarks/rd.py --images")
    for codec in summary["codecs"].values():
        assert codec["versions"]
        assert len(codec["qualities"]) == (1 if codec["lossless"] else 3)

    with (out / "per_image.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * sum(len(c["qualities"]) for c in summary["codecs"].values())
    assert all(int(row["bytes"]) > 0 for row in rows)
    with (out / "curves.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == len(rows) // 2

    with (out / "bd_rate.csv").open() as handle:
        bd_rows = list(csv.DictReader(handle))
    lossy_others = [n for n, c in summary["codecs"].items() if not c["lossless"] and n != "jpeg444"]
    assert [row["anchor"] for row in bd_rows] == lossy_others
    with (out / "speed.csv").open() as handle:
        speed = list(csv.DictReader(handle))
    assert [row["codec"] for row in speed] == measured
    assert all(float(row["encode_ms"]) > 0 for row in speed)
    for figure in ("rd_psnr.png", "rd_msssim.png", "crops.png"):
        assert (out / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert summary["command"] in (out / "report.md").read_text()

    from benchmarks.manifest_results import manifest_results

    results = manifest_results(summary)  # the manifest block of the codec under test
    assert [p["quality"] for p in results["per_quality"]] == summary["codecs"]["jpeg444"]["qualities"]
    assert sorted(results["bd_vs_measured"]) == sorted(row["anchor"] for row in bd_rows if row["bd_rate_psnr"])
    assert results["dataset"] == "images (2 images)" and results["median_encode_ms"] >= 0
    scale = results["quality_scale"]  # the codec under test's 0-100 scale, calibrated against jpeg420 of this run
    lowest, highest = min(results_q := [p["quality"] for p in results["per_quality"]]), max(results_q)
    assert scale["reference"] == "jpeg420" and (scale["anchors"]["0"], scale["anchors"]["100"]) == (lowest, highest)


def test_missing_aec_is_a_message_not_a_crash(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "aec", None)
    write_images(tmp_path / "images")
    code = rd.main(["--images", str(tmp_path / "images"), "--out", str(tmp_path / "out"), "--quick", "-q",
                    "--codecs", "aec,jpeg420,png"])  # fmt: skip
    assert code == 0
    error = capsys.readouterr().err
    assert "skipping aec: cannot import" in error
    assert "no BD table" in error


def test_failed_point_is_reported_and_left_out_of_the_curve():
    images = [flat_image("a"), flat_image("b")]
    adapter = fake_adapter(fail_at=20.0)
    rows, errors = rd.run([adapter], images, {"fake": [10.0, 20.0]}, progress=False)
    assert len(rows) == 2 and len(errors) == 2 and "encoder refused" in errors[0]
    points, dropped = report.summarize_curves(rows, expected_images=2)
    assert [p.quality for p in points] == [10.0] and dropped == []
    points, dropped = report.summarize_curves(rows[:1], expected_images=2)  # one image short
    assert points == [] and "1 of 2 images" in dropped[0]


def test_measure_counts_every_byte_and_averages_like_the_literature():
    image = flat_image(height=20, width=10)
    row = rd.measure(fake_adapter(), 40.0, image)
    assert row.bytes == 44 and row.bpp == pytest.approx(44 * 8 / 200)
    assert row.psnr == pytest.approx(10 * math.log10(255**2 / 25))  # decoded is 128 + 44 // 8 = 133
    assert math.isnan(row.ms_ssim)  # too small for five scales
    lossless = rd.measure(fake_adapter(lossless=True), 10.0, image)
    assert lossless.psnr == math.inf


def test_equal_rate_search_takes_the_best_quality_at_or_below_the_target():
    image = flat_image(height=10, width=10)  # 100 pixels: bpp = 8 * (quality + 4) / 100
    quality, data = rd.at_rate(fake_adapter(), image, target_bpp=2.0)
    assert quality == 21.0 and len(data) == 25
    assert rd.at_rate(fake_adapter(), image, target_bpp=0.01)[0] == 1.0  # nothing fits: the lowest setting


def test_parse_qualities_for_all_or_one_codec():
    names = ["jpeg420", "avif"]
    assert rd.parse_qualities(["10,20"], names) == {"jpeg420": [10.0, 20.0], "avif": [10.0, 20.0]}
    assert rd.parse_qualities(["10", "avif=30,50"], names) == {"jpeg420": [10.0], "avif": [30.0, 50.0]}
    with pytest.raises(SystemExit, match="not one of the codecs"):
        rd.parse_qualities(["webp=10"], names)
    with pytest.raises(SystemExit, match="numbers"):
        rd.parse_qualities(["jpeg420=high"], names)


def test_quick_spread_keeps_both_ends():
    assert rd.spread([1, 2, 3, 4, 5, 6, 7], 3) == [1, 4, 7]
    assert rd.spread([1, 2], 3) == [1, 2]


def test_timed_returns_the_first_result_and_the_median_time():
    calls = []
    result, milliseconds = rd.timed(lambda: calls.append(1) or len(calls), repeat=3)
    assert result == 1 and len(calls) == 3 and milliseconds >= 0


def test_peak_memory_sees_a_fresh_allocation():
    _, peak = memory.peak_growth_mib(lambda: np.ones(64 * 2**20 // 8).sum())
    if peak is None:
        pytest.skip("no /proc/self/clear_refs here")
    assert 48 < peak < 200


def test_peak_memory_of_a_codec_comes_from_a_fresh_process(tmp_path):
    write_images(tmp_path / "images")
    encode_peak, decode_peak, problem = memory.measure_in_child("png", 9, tmp_path / "images" / "tiny0.png")
    assert problem == ""
    assert encode_peak is None or encode_peak >= 0
    _, _, problem = memory.measure_in_child("png", 50, tmp_path / "images" / "tiny0.png")
    assert "Error" in problem  # zlib has no level 50: reported, not raised


class JpegBackedCodec:
    """A stand-in for aec's Codec with the public API, coding through JPEG (model quality q -> JPEG quality 15 q)."""

    model_qualities = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
    model_id = "jpeg-backed-test-model"

    def __init__(self, weights=None):
        self.weights = weights

    def compress(self, image, quality=None, *, model_quality=None, effort=0):
        import io

        assert quality is None  # the benchmark codes at the model's own qualities
        buffer = io.BytesIO()
        Image.fromarray(np.asarray(image)).save(buffer, "JPEG", quality=int(15 * model_quality), subsampling=0)
        return buffer.getvalue()

    def decompress_array(self, data):
        import io

        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_aec_gets_the_bd_table_and_the_crop(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    module = type(sys)("aec")
    module.Codec, module.__version__ = JpegBackedCodec, "0.0.test"
    monkeypatch.setitem(sys.modules, "aec", module)
    monkeypatch.setattr(memory, "measure_in_child", lambda *args, **kwargs: (None, None, "not in this test"))
    write_images(tmp_path / "images")
    out = tmp_path / "out"
    assert 0 == rd.main(["--images", str(tmp_path / "images"), "--out", str(out), "--codecs", "aec,jpeg420,webp", "-q",
                    "--qualities", "aec=1,2,4,6", "--qualities", "jpeg420=10,30,60,90", "--qualities", "webp=5,30,60,90",
                    "--crop-bpp", "1.0"])  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert summary["codecs"]["aec"]["versions"]["model_id"] == "jpeg-backed-test-model"
    rows = {row["anchor"]: row for row in summary["bd"]["rows"]}
    assert set(rows) == {"jpeg420", "webp"}
    # JPEG 4:4:4 at 15q against JPEG 4:2:0: a real number either way, not n/a.
    assert rows["jpeg420"]["bd_rate_psnr"] is not None and rows["jpeg420"]["bd_psnr"] is not None
    crops = {crop["codec"]: crop for crop in summary["crops"]}
    assert set(crops) == {"aec", "jpeg420"}
    assert all(0.9 < crop["bpp"] <= 1.0 for crop in crops.values())  # the best setting at or below the target
    assert "aec against" in (out / "report.md").read_text()


def test_equal_rate_search_over_a_continuous_quality():
    adapter = fake_adapter()
    adapter = Adapter("cont", "Cont", (1.0,), adapter.encode, adapter.decode, "bytes", (1.0, 33.0), integer_quality=False)
    quality, data = rd.at_rate(adapter, flat_image(height=10, width=10), target_bpp=2.0)
    assert quality == 21.5 and len(data) == 25  # candidates 1, 1.5, ..., 33; the fake writes int(q) + 4 bytes


def test_the_plot_labels_where_the_highlighted_curve_begins_and_ends(tmp_path):
    from benchmarks import report

    curve = [report.CurvePoint("aec", q, bpp, psnr, 0.9, 10.0)
             for q, bpp, psnr in ((3, 1.2, 34.0), (1, 0.15, 26.0), (10, 2.6, 38.4))]
    labels = report.end_labels(curve, "psnr", "aec")
    assert [(point.quality, text) for point, text in labels] == [
        (1, "aec's lowest point: 0.15 bpp, 26.0 dB"), (10, "aec's highest point: 2.60 bpp, 38.4 dB")]
    path = tmp_path / "rd.png"
    report.plot_rd(path, "psnr", {"aec": curve}, {"aec": "aec"}, {}, "test", max_bpp=2.0)
    assert path.stat().st_size > 0
