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


def test_several_models_are_timed_side_by_side_taking_turns_under_their_ids(tmp_path, tiny_weights):
    import torch

    from aec.config import TINY
    from aec.light import LIGHT, LightConfig
    from aec.model_files import save_model

    torch.manual_seed(3)
    light = tmp_path / "light.safetensors"
    save_model(LIGHT.training_module(LightConfig(**{**TINY.to_dict(), "synthesis_widths": (4, 4, 4)})).eval(), light,
               "test-light")
    (tmp_path / "images").mkdir()
    Image.fromarray(smooth_image(64, 96, 0)).save(tmp_path / "images" / "0.png")
    assert speed.main(["--out", str(tmp_path / "out"), "--images-dir", str(tmp_path / "images"), "--threads", "1",
                       "--runs", "1", "--quality", "2", "--weights", str(tiny_weights), "--weights", str(light)]) == 0
    one = json.loads((tmp_path / "out" / "speed.json").read_text())["threads"]["1"]
    assert list(one["models"]) == ["test-tiny", "test-light"] and one["aec"] == one["models"]["test-tiny"]
    assert all(m["decode"]["g_s"] > 0 and m["encode"]["g_a"] > 0 for m in one["models"].values())
    table = (tmp_path / "out" / "speed.md").read_text()
    assert "| test-light |" in table and "| test-tiny | " in table and "decode / first" in table
    assert one["process"] == one["processes"]["test-tiny"]
    assert all(p["decompress"] > 0 for p in one["processes"].values())
    assert "| test-tiny seconds | test-light seconds |" in table


def test_one_model_id_twice_is_told_apart_by_file_name(tmp_path, tiny_weights):
    import shutil

    twin = tmp_path / "twin.safetensors"
    shutil.copy(tiny_weights, twin)
    (tmp_path / "images").mkdir()
    Image.fromarray(smooth_image(64, 96, 0)).save(tmp_path / "images" / "0.png")
    assert speed.main(["--out", str(tmp_path / "out"), "--images-dir", str(tmp_path / "images"), "--threads", "1",
                       "--runs", "1", "--quality", "2", "--weights", str(tiny_weights), "--weights", str(twin),
                       "--no-process"]) == 0
    one = json.loads((tmp_path / "out" / "speed.json").read_text())["threads"]["1"]
    assert list(one["models"]) == ["tiny", "twin"]


def test_model_takes_installed_ids_and_default_names_the_shipped_default(tiny_weights):
    from aec.manifest import read_manifest

    default, tiny = speed.open_models([("model", "default"), ("weights", str(tiny_weights))])
    assert default.model_id == read_manifest()["default"] and tiny.model_id == "test-tiny"
    assert speed.open_models([("model", default.model_id)])[0].model_id == default.model_id


def test_an_installed_model_runs_as_a_whole_process_too(tmp_path):
    from aec.manifest import read_manifest

    Image.fromarray(smooth_image(32, 48, 0)).save(tmp_path / "0.png")
    timed = speed.whole_process([tmp_path / "0.png"], 1, 1, 1.0, tmp_path, ("model", read_manifest()["default"]))
    assert all(timed[k] > 0 for k in ("compress", "decompress", "batch_decompress_per_file"))


def test_whole_processes_run_from_bytecode_even_where_writing_it_is_forbidden(tmp_path, tiny_weights, monkeypatch):
    # An installed aec has its bytecode; timing Python compiling aec's source on every run would not be aec's time.
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    Image.fromarray(smooth_image(32, 48, 0)).save(tmp_path / "0.png")
    speed.whole_process([tmp_path / "0.png"], 1, 1, 1.0, tmp_path, ("weights", str(tiny_weights)))
    compiled = {path.name.split(".")[0] for path in (tmp_path / "pycache").rglob("*.pyc")}
    assert {"cli", "api", "decoder", "exact", "png"} <= compiled
