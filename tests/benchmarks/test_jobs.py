"""benchmarks/jobs.py: a -j worker's start against the coding it takes over, on the tiny model."""

from PIL import Image

from benchmarks import jobs
from tests.conftest import smooth_image


def test_jobs_times_a_worker_start_and_the_encode_rate(tmp_path, tiny_weights, capsys):
    Image.fromarray(smooth_image(64, 96)).save(tmp_path / "a.png")
    jobs.main(["--image", str(tmp_path / "a.png"), "--weights", str(tiny_weights), "--runs", "1"])
    line = capsys.readouterr().out
    assert line.startswith("model test-tiny: a -j worker starts in ") and "megapixels" in line
    result = jobs.measure(str(tiny_weights), smooth_image(64, 96), 1)
    assert result["worker_start_s"] > 0 and result["encode_s_per_megapixel"] > 0
    assert result["break_even_megapixels"] == 2 * result["worker_start_s"] / result["encode_s_per_megapixel"]
