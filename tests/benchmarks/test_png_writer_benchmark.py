"""benchmarks/png_writer.py times aec.png beside Pillow's PNG writer on the same images."""

from PIL import Image

from benchmarks import png_writer
from tests.conftest import smooth_image


def test_every_writer_is_timed_and_sized(tmp_path, capsys):
    for i in range(2):
        Image.fromarray(smooth_image(40, 60, i)).save(tmp_path / f"{i}.png")
    assert png_writer.main(["--images-dir", str(tmp_path), "--rounds", "1", "--threads", "1,3"]) == 0
    out = capsys.readouterr().out
    assert "| Pillow, level 1 |" in out and "| aec.png, 1 thread(s) |" in out and "| aec.png, 3 thread(s) |" in out
    results = png_writer.measure([Image.fromarray(smooth_image(40, 60, 0))], 1, [2])
    assert all(row["ms"] > 0 and row["bytes"] > 0 for row in results.values())
