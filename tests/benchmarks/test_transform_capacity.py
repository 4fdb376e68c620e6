"""benchmarks/transform_capacity.py: g_a and g_s trained on their unquantized reconstruction alone, measured."""

import json

import pytest
from PIL import Image

from tests.conftest import smooth_image

pytest.importorskip("torch")

from benchmarks import transform_capacity  # noqa: E402


def test_a_grown_models_transforms_train_on_their_reconstruction_alone(tmp_path, tiny_weights, capsys):
    for folder in ("train", "kodak"):
        (tmp_path / folder).mkdir()
        for seed in range(2):
            Image.fromarray(smooth_image(260, 270, seed)).save(tmp_path / folder / f"{seed}.png")
    assert transform_capacity.main([str(tiny_weights), "--out", str(tmp_path / "out"), "--minutes", "0.05",
                                    "--every", "0.01", "--data", str(tmp_path / "train"), "--kodak",
                                    str(tmp_path / "kodak"), "--images", "1", "--config",
                                    '{"M": 24, "slices": 3}']) == 0
    result = json.loads((tmp_path / "out" / "capacity.json").read_text())
    series = result["series"]
    assert result["M"] == 24 and series[0]["steps"] == 0 and series[-1]["steps"] > 0
    assert series[-1]["unquantized"] != series[0]["unquantized"]  # the transforms trained
    assert "6 grown" in capsys.readouterr().out  # g_a's last layer (weight, bias), g_s's and h_a's first, 2 gains
