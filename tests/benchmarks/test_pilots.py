import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("bjontegaard", reason="the bench extra is not installed: pip install -e '.[bench]'")

from benchmarks import pilots  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = {"N": 16, "M": 16, "Z": 8, "slices": 2, "hyper_width": 16, "context_width": 16,
        "lambdas": [0.004, 0.016, 0.064], "z_support": 16}


def write_images(folder: Path, count: int, size: tuple[int, int]) -> None:
    rng = np.random.default_rng(count)
    folder.mkdir(parents=True)
    for index in range(count):
        y, x = np.mgrid[0:size[0], 0:size[1]]
        pixels = np.stack([x * 3, y * 2, (x + y) % 64 * 4], axis=-1) + rng.normal(0, 5, (*size, 3))
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(folder / f"img{index}.png")


def test_pilots_train_each_variant_measure_it_and_resume(tmp_path):
    write_images(tmp_path / "train", 3, (80, 96))
    write_images(tmp_path / "kodak", 2, (64, 64))
    (tmp_path / "pilots.json").write_text(json.dumps([
        {"name": "two", "config": TINY, "args": []},
        {"name": "four", "config": dict(TINY, slices=4), "args": ["--batch", "3"]},
    ]))
    command = [sys.executable, "benchmarks/pilots.py", "--out", str(tmp_path / "out"),
               "--data", str(tmp_path / "train"), "--kodak", str(tmp_path / "kodak"), "--steps", "2",
               "--pilots", str(tmp_path / "pilots.json"), "--val-images", "1", "--", "--crop", "64", "--warmup", "1"]
    subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True, text=True)
    results = json.loads((tmp_path / "out" / "pilots.json").read_text())
    assert list(results) == ["two", "four"]
    assert results["four"]["pilot"]["config"]["slices"] == 4
    assert results["four"]["parameters"] != results["two"]["parameters"]
    for result in results.values():
        assert result["steps"] == 2 and len(result["points"]) == 3
        assert all(p["bpp"] > 0 and np.isfinite(p["psnr"]) for p in result["points"])
    table = (tmp_path / "out" / "pilots.md").read_text().splitlines()
    assert [row.split("|")[1].strip() for row in table[2:]] == ["two", "four"]
    state = json.loads((tmp_path / "out" / "four" / "done.json").read_text())
    assert state["val_images"] == ["img0.png"]
    # A second call reuses finished pilots instead of training them again.
    log = tmp_path / "out" / "two" / "train.out"
    log.write_text("kept")
    subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True)
    assert log.read_text() == "kept"


def test_unknown_pilot_name_is_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, "benchmarks/pilots.py", "--out", str(tmp_path), "--only", "nope"],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode != 0
    assert result.stderr.strip() == "unknown pilot(s): nope"


def curve(shift_db: float) -> dict:
    rates = [0.2, 0.4, 0.8]
    return {"parameters": 1e6, "steps": 10, "steps_per_second": 1.0,
            "points": [{"quality": q, "bpp": r, "psnr": 25 + 4 * np.log2(r / 0.2) + shift_db}
                       for q, r in zip((1.0, 2.0, 3.0), rates)]}


def test_report_compares_every_pilot_with_the_first():
    table = pilots.report({"base": curve(0.0), "better": curve(1.0), "worse": curve(-1.0)}).splitlines()
    cells = {row.split("|")[1].strip(): [c.strip() for c in row.split("|")[2:-1]] for row in table[2:]}
    assert cells["base"][3] == "+0.0 %" and cells["base"][4] == "+0.00 dB"
    assert cells["better"][3].startswith("-") and cells["better"][4] == "+1.00 dB"
    assert cells["worse"][3].startswith("+") and cells["worse"][4] == "-1.00 dB"
