"""benchmarks/ceiling.py: a model's reconstruction without quantization, beside the rounded one."""

import json

import pytest
from PIL import Image

from benchmarks import ceiling
from tests.conftest import smooth_image

torch = pytest.importorskip("torch")


def test_the_unquantized_reconstruction_is_measured_beside_the_rounded_one(tmp_path, tiny_weights, capsys):
    (tmp_path / "images").mkdir()
    for seed in range(2):
        Image.fromarray(smooth_image(64, 64, seed)).save(tmp_path / "images" / f"{seed}.png")
    assert ceiling.main([str(tiny_weights), "--images-dir", str(tmp_path / "images"), "--qualities", "1,top",
                         "--json", str(tmp_path / "c.json")]) == 0
    result = json.loads((tmp_path / "c.json").read_text())[str(tiny_weights)]
    assert result["model_id"] == "test-tiny" and result["images"] == 2 and set(result["qualities"]) == {"1", "3"}
    low = result["qualities"]["1"]
    assert low["unquantized"] != low["rounded"]  # rounding at the coarsest quality changes the reconstruction
    assert 0 <= low["active_channels"] <= result["qualities"]["3"]["active_channels"] <= 16  # TINY's M
    assert "q3:" in capsys.readouterr().out


def test_rounded_and_unquantized_agree_when_the_latents_are_integers_already(tiny_weights):
    model, _ = ceiling.load(str(tiny_weights))
    model.g_a.forward = lambda x: torch.zeros(1, model.config.M, x.shape[2] // 16, x.shape[3] // 16)
    image = smooth_image(32, 32, 0)
    sides = ceiling.ceiling(model, [image], [1.0])["1"]
    assert sides["unquantized"] == sides["rounded"] and sides["active_channels"] == 0
