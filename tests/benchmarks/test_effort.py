"""benchmarks/effort.py: a curve per effort level, BD-rate against effort 0, on a tiny model."""

import json

import pytest
from PIL import Image

pytest.importorskip("bjontegaard", reason="the bench extra is not installed: pip install -e '.[bench]'")

from benchmarks import effort  # noqa: E402
from tests.conftest import smooth_image  # noqa: E402


def test_effort_measures_each_level_against_the_one_pass_encoder(tmp_path, tiny_weights):
    (tmp_path / "images").mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(smooth_image(80, 112, len(name) + ord(name[0]))).save(tmp_path / "images" / name)
    assert effort.main(["--out", str(tmp_path / "out"), "--images-dir", str(tmp_path / "images"), "--images",
                        "a.png,b.png", "--crop", "64x96", "--efforts", "0,1", "--qualities", "1,1.5,2,2.5,3",
                        "--threads", "1", "--weights", str(tiny_weights)]) == 0
    results = json.loads((tmp_path / "out" / "effort.json").read_text())["efforts"]
    # an untrained tiny model's PSNR need not rise with the rate, so its BD-rate may be undefined (None)
    assert results["0"]["bd_rate"] in (None, pytest.approx(0.0, abs=1e-6)) and results["1"]["iterations"] > 0
    assert [p["quality"] for p in results["1"]["points"]] == [1, 1.5, 2, 2.5, 3]
    assert results["1"]["seconds_per_image"] > results["0"]["seconds_per_image"]
    assert (tmp_path / "out" / "effort.png").stat().st_size > 0
    assert "| 1 |" in (tmp_path / "out" / "effort.md").read_text()


def test_a_study_of_other_refinement_lengths_measures_them_and_leaves_the_levels_as_released(tmp_path, tiny_weights):
    import aec
    from aec.config import EFFORT_ITERATIONS

    (tmp_path / "images").mkdir()
    Image.fromarray(smooth_image(64, 96, 3)).save(tmp_path / "images" / "a.png")
    assert effort.main(["--out", str(tmp_path / "out"), "--images-dir", str(tmp_path / "images"), "--images", "a.png",
                        "--crop", "0", "--iterations", "2,5", "--qualities", "1,2,3", "--threads", "1",
                        "--weights", str(tiny_weights)]) == 0
    results = json.loads((tmp_path / "out" / "effort.json").read_text())["efforts"]
    assert [entry["iterations"] for entry in results.values()] == [0, 2, 5]
    assert results["2"]["seconds_per_image"] > results["0"]["seconds_per_image"]
    assert aec.Codec(weights=tiny_weights).effort_iterations == EFFORT_ITERATIONS
