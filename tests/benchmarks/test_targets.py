"""benchmarks/targets.py reports where rate control landed for every image, on a tiny model."""

from PIL import Image

from benchmarks import targets
from tests.conftest import smooth_image


def test_targets_reports_each_image_and_the_count_within_tolerance(tmp_path, tiny_weights, capsys):
    (tmp_path / "images").mkdir()
    for seed in range(2):
        Image.fromarray(smooth_image(48, 64, seed)).save(tmp_path / "images" / f"{seed}.png")
    assert targets.main(["--bpp", "1.0", "--images-dir", str(tmp_path / "images"), "--weights", str(tiny_weights)]) == 0
    out = capsys.readouterr().out
    assert "| 0.png |" in out and "| 1.png |" in out and "of 2 within tolerance" in out
