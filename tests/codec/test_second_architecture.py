"""A second architecture is one module: ``factorized_architecture`` (registered by importing it, not shipped) trains,
exports, and codes through the API, the command line and the Pillow plugin, beside a tiny model of the shipped
architecture, with no edit anywhere else."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import aec
from aec.cli import main as aec_main
from aec.decoder import coders_from_file, decoder_from_file, decoder_side_bytes
from aec.model_files import file_metadata, load_model_file
from aec.train import main as train
from tests.codec.factorized_architecture import FACTORIZED, TINY_FACTORIZED
from tests.conftest import smooth_image

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def second_weights(tmp_path_factory) -> Path:
    """A test-factorized-v0 model trained three steps by ``python -m aec.train`` and exported."""
    folder = tmp_path_factory.mktemp("second")
    (folder / "images").mkdir()
    for i in range(2):
        Image.fromarray(smooth_image(70 + i, 90, seed=i)).save(folder / "images" / f"{i}.png")
    torch.manual_seed(0)
    train(["--run-dir", str(folder / "run"), "--data", str(folder / "images"), "--kodak", str(folder / "images"),
           "--architecture", FACTORIZED.name, "--config", TINY_FACTORIZED.to_json(), "--steps", "3",
           "--batch", "2", "--crop", "64", "--log-every", "1", "--val-every", "100", "--warmup", "2",
           "--device", "cpu", "--no-bf16"])
    train(["--run-dir", str(folder / "run"), "--export", "test-second", "--weights-dir", str(folder)])
    return folder / "test-second.safetensors"


@pytest.fixture
def installed(second_weights, tiny_weights, monkeypatch) -> None:
    """The installed models are the second architecture's (the default) and the tiny shipped-architecture one."""
    from aec import api

    files = {"test-second": second_weights, "test-tiny": tiny_weights, None: second_weights}
    monkeypatch.setattr(api, "load_coders", lambda model_id=None: coders_from_file(files[model_id]))
    monkeypatch.setattr(api, "load_decoder", lambda model_id=None: decoder_from_file(files[model_id]))
    monkeypatch.setattr(api, "read_manifest", lambda: {"default": "test-second"})
    monkeypatch.setattr(api, "_default", None)


def test_training_exports_a_model_file_of_the_second_architecture_that_loads_as_its_torch_module(second_weights):
    assert file_metadata(second_weights)["architecture"] == "test-factorized-v0"
    model, model_id, _ = load_model_file(second_weights)
    assert model_id == "test-second" and model.architecture == "test-factorized-v0"
    assert torch.load(second_weights.parent / "run" / "checkpoint.pt",
                      weights_only=True)["architecture"] == "test-factorized-v0"
    # the decoder side is what the architecture says it is: g_s, the tables and the gains
    assert 0 < decoder_side_bytes(second_weights) < second_weights.stat().st_size


@pytest.mark.parametrize("quality", [1, 3])
def test_the_api_codes_with_its_numpy_coders_as_its_torch_module_reconstructs(second_weights, quality):
    image = smooth_image(21, 30, seed=3)  # padded to the architecture's stride, 4: 24 x 32
    codec = aec.Codec(weights=second_weights)
    data = codec.compress(image, model_quality=quality)
    header = aec.read_header(data)
    assert (header.model_id, header.width, header.height) == ("test-second", 30, 21)
    decoded = codec.decompress_array(data)
    model, _, _ = load_model_file(second_weights)
    padded = np.pad(image, ((0, 3), (0, 2), (0, 0)), mode="edge")
    x = torch.from_numpy(padded).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        x_hat = model(x, torch.tensor([quality]))["x_hat"][0, :, :21, :30].clamp(0, 1)
    expected = torch.round(x_hat * 255).to(torch.uint8).permute(1, 2, 0).numpy()
    assert np.abs(decoded.astype(int) - expected).max() <= 1


def test_the_api_codes_both_architectures_side_by_side(second_weights, tiny_weights):
    image = smooth_image(40, 70, seed=5)
    for weights, stride in ((second_weights, 4), (tiny_weights, 64)):
        codec = aec.Codec(weights=weights)
        data = codec.compress(image, 50)
        assert codec.decompress_array(data).shape == image.shape
        assert codec._encoders[codec.model_id][0].stride == stride


def test_the_command_line_codes_with_the_second_architecture(second_weights, tmp_path):
    Image.fromarray(smooth_image(25, 33, seed=2)).save(tmp_path / "in.png")
    runner = CliRunner()
    coded = runner.invoke(aec_main, ["compress", "--weights", str(second_weights), str(tmp_path / "in.png"),
                                     "-o", str(tmp_path / "in.aec")])
    assert coded.exit_code == 0, coded.output
    decoded = runner.invoke(aec_main, ["decompress", "--weights", str(second_weights), str(tmp_path / "in.aec"),
                                       "-o", str(tmp_path / "out.png")])
    assert decoded.exit_code == 0, decoded.output
    data = (tmp_path / "in.aec").read_bytes()
    assert aec.read_header(data).model_id == "test-second"
    expected = aec.Codec(weights=second_weights).decompress_array(data)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), expected)


def test_the_pillow_plugin_saves_and_opens_both_architectures(installed):
    image = Image.fromarray(smooth_image(20, 28, seed=4))
    for model_id in ("test-second", "test-tiny"):
        buffer = io.BytesIO()
        image.save(buffer, "AEC", model=model_id, quality=60)
        data = buffer.getvalue()
        assert aec.read_header(data).model_id == model_id
        with Image.open(io.BytesIO(data)) as opened:
            assert opened.info["aec_model"] == model_id
            assert np.array_equal(np.asarray(opened), aec.decompress_array(data))
    buffer = io.BytesIO()
    image.save(buffer, "AEC")  # the default model: the second architecture's here
    assert aec.read_header(buffer.getvalue()).model_id == "test-second"


def test_coding_with_the_second_architecture_imports_no_torch(second_weights):
    script = ("import sys; import tests.codec.factorized_architecture; import aec, numpy as np; "
              "codec = aec.Codec(weights=sys.argv[1]); image = np.full((9, 13, 3), 99, np.uint8); "
              "assert codec.decompress_array(codec.compress(image, 50)).shape == (9, 13, 3); "
              "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", script, str(second_weights)], check=True, timeout=120, cwd=REPO)
