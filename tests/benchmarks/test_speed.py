"""benchmarks/speed.py times every stage of aec's coding, the peers and the whole process, on a tiny model."""

import json

import pytest
from PIL import Image

pytest.importorskip("bjontegaard", reason="the bench extra is not installed: pip install -e '.[bench]'")

from benchmarks import speed  # noqa: E402
from tests.conftest import smooth_image  # noqa: E402


def test_speed_reports_each_stage_the_peers_and_the_processes(tmp_path, tiny_weights):
    (tmp_path / "images").mkdir()
    for seed in range(2):
        Image.fromarray(smooth_image(64, 96, seed)).save(tmp_path / "images" / f"{seed}.png")
    assert speed.main(["--out", str(tmp_path / "out"), "--images-dir", str(tmp_path / "images"), "--threads", "1",
                       "--runs", "1", "--quality", "2", "--weights", str(tiny_weights)]) == 0
    results = json.loads((tmp_path / "out" / "speed.json").read_text())
    one = results["threads"]["1"]
    encode, decode = one["aec"]["encode"], one["aec"]["decode"]
    for name in ("read", "g_a", "h_a", "z coding", "h_s", "slice networks", "y coding"):
        assert encode[name] > 0, name
    for name in ("z coding", "h_s", "slice networks", "y coding", "g_s", "write"):
        assert decode[name] > 0, name
    assert sum(v for k, v in encode.items() if k != "total") <= encode["total"] * 1.01
    assert set(one["peers"]) == set(speed.PEERS)
    assert all(one["process"][k] > 0 for k in ("compress", "decompress", "batch_decompress_per_file"))
    assert "slice networks" in (tmp_path / "out" / "speed.md").read_text()
