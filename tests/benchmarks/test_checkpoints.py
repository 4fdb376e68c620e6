"""benchmarks/checkpoints.py ranks checkpoints and model files on the same images by estimated rate."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("bjontegaard", reason="the bench extra is not installed: pip install -e '.[bench]'")

from aec.config import TINY  # noqa: E402
from aec.model import AECModel  # noqa: E402
from aec.model_files import save_model  # noqa: E402
from benchmarks import checkpoints  # noqa: E402
from tests.conftest import smooth_image  # noqa: E402


def test_a_checkpoint_its_raw_weights_and_a_model_file_are_measured_alike(tmp_path, capsys):
    (tmp_path / "kodak").mkdir()
    for seed in range(2):
        Image.fromarray(smooth_image(64, 80, seed)).save(tmp_path / "kodak" / f"k{seed}.png")
    torch.manual_seed(0)
    raw, average = AECModel(TINY), AECModel(TINY)
    torch.save({"model": raw.state_dict(), "ema": average.state_dict(), "step": 10, "hours": 0.5,
                "config": TINY.to_dict(), "args": {}}, tmp_path / "run.pt")
    save_model(average.eval(), tmp_path / "average.safetensors", "test-average")
    assert checkpoints.main([str(tmp_path / "run.pt"), f"{tmp_path / 'run.pt'}:raw",
                             str(tmp_path / "average.safetensors"), "--kodak", str(tmp_path / "kodak"),
                             "--json", str(tmp_path / "points.json")]) == 0
    results = json.loads((tmp_path / "points.json").read_text())
    ema, raw_points, from_file = (results[k]["points"] for k in results)
    assert len(ema) == len(TINY.lambdas) and results[str(tmp_path / "run.pt")]["steps"] == 10
    # the checkpoint is read through its EMA, which the model file holds too (frozen to the integer grid)
    assert np.allclose([p["psnr"] for p in ema], [p["psnr"] for p in from_file], atol=0.05)
    assert [p["bpp"] for p in ema] != [p["bpp"] for p in raw_points]
    assert "BD-rate" in capsys.readouterr().out
