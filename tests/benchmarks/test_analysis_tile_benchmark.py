"""benchmarks/analysis_tile.py times the codec with the old GDN and g_a tile and the new ones, taking turns."""

import json

import numpy as np
from PIL import Image

import aec.channel_slice
from aec import ops
from benchmarks import analysis_tile
from tests.conftest import smooth_image


def test_every_way_is_timed_and_the_codec_is_left_as_it_was(tmp_path, tiny_weights, capsys):
    (tmp_path / "images").mkdir()
    Image.fromarray(smooth_image(64, 96, 0)).save(tmp_path / "images" / "0.png")
    saved = ops.GDN.__call__, aec.channel_slice.ANALYSIS_TILE
    assert analysis_tile.main(["--weights", str(tiny_weights), "--images-dir", str(tmp_path / "images"),
                               "--rounds", "1", "--threads", "2", "--out", str(tmp_path / "ways.json")]) == 0
    assert (ops.GDN.__call__, aec.channel_slice.ANALYSIS_TILE) == saved
    results = json.loads((tmp_path / "ways.json").read_text())["results"]
    (model,) = results
    assert list(results[model]) == list(analysis_tile.WAYS)
    assert all(times["encode"] > 0 and times["g_a"] > 0 and times["decode"] > 0 for times in results[model].values())
    out = capsys.readouterr().out
    assert out.count("| test-tiny (tiny.safetensors) |") == len(analysis_tile.WAYS) and "encode / before" in out


def test_the_old_gdn_gives_the_new_ones_result_and_the_way_sets_the_tile():
    rng = np.random.default_rng(0)
    gamma, beta = rng.random((6, 6), np.float32) * 0.1, rng.random(6, dtype=np.float32) + 0.5
    x = rng.standard_normal((6, 5, 7)).astype(np.float32)
    for inverse in (False, True):
        layer = ops.GDN(gamma, beta, inverse)
        new = layer(x)
        with analysis_tile.way(True, 7):
            assert aec.channel_slice.ANALYSIS_TILE == 7 and ops.GDN.__call__ is analysis_tile.six_pass_gdn
            old = layer(x)
        assert np.allclose(old, new, rtol=1e-6) and not np.shares_memory(old, new)
        assert ops.GDN.__call__ is not analysis_tile.six_pass_gdn
