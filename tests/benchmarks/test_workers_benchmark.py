"""benchmarks/workers.py times the codec with the layer workers and without, and the g_s tile, taking turns."""

import json

import aec.api
import aec.channel_slice
from PIL import Image

from benchmarks import workers
from tests.conftest import smooth_image


def test_every_way_is_timed_and_the_codec_is_left_as_it_was(tmp_path, tiny_weights, capsys):
    (tmp_path / "images").mkdir()
    Image.fromarray(smooth_image(64, 96, 0)).save(tmp_path / "images" / "0.png")
    saved = aec.api.workers, aec.channel_slice.SYNTHESIS_TILE
    assert workers.main(["--weights", str(tiny_weights), "--images-dir", str(tmp_path / "images"), "--rounds", "1",
                         "--threads", "2", "--out", str(tmp_path / "workers.json")]) == 0
    assert (aec.api.workers, aec.channel_slice.SYNTHESIS_TILE) == saved
    results = json.loads((tmp_path / "workers.json").read_text())["results"]
    (model,) = results
    assert list(results[model]) == list(workers.WAYS)
    assert all(times["encode"] > 0 and times["decode"] > 0 and times["g_s"] > 0 for times in results[model].values())
    out = capsys.readouterr().out
    assert out.count("| test-tiny (tiny.safetensors) |") == len(workers.WAYS) and "decode / before" in out


def test_the_old_way_turns_the_workers_off_and_sets_the_tile():
    with workers.way(False, 7):
        assert aec.channel_slice.SYNTHESIS_TILE == 7
        with aec.api.workers(4):
            from aec import ops
            assert ops._JOBS.get() == 1
    with workers.way(True, 48):
        with aec.api.workers(3):
            from aec import ops
            assert ops._JOBS.get() == 3
