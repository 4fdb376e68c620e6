"""``aec-conditional-v1`` (``aec.conditional``): the channel-slice architecture with a per-quality modulation after
every (inverse) GDN of g_a and g_s, starting as the identity so that a trained model carries over exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import aec
from aec.conditional import CONDITIONAL, modulated_widths
from aec.channel_slice import CHANNEL_SLICE, analysis
from aec.config import TINY
from aec.model_files import file_metadata, load_model
from aec.registry import architecture
from aec.train import main
from tests.conftest import smooth_image


def _perturb(model: torch.nn.Module, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for modulation in [*model.g_a_modulation, *model.g_s_modulation]:
            modulation.log_scale.copy_(0.3 * torch.randn(modulation.log_scale.shape, generator=generator))
            modulation.offset.copy_(0.2 * torch.randn(modulation.offset.shape, generator=generator))


def test_it_is_registered_and_modulates_every_gdn_output():
    assert architecture("aec-conditional-v1") is CONDITIONAL
    model = CONDITIONAL.training_module(TINY)
    assert modulated_widths(analysis(TINY)) == (TINY.N,) * 3
    assert [tuple(m.log_scale.shape) for m in model.g_a_modulation] == [(len(TINY.lambdas), TINY.N)] * 3
    assert len(model.g_s_modulation) == 3
    names = set(model.file_state_dict())
    assert {"g_a_modulation.0.offset", "g_s_modulation.2.log_scale"} <= names
    assert CONDITIONAL.is_decoder_tensor("g_s_modulation.0.offset")
    assert not CONDITIONAL.is_decoder_tensor("g_a_modulation.0.offset")


def test_it_starts_as_the_identity_and_its_modulations_change_the_output():
    torch.manual_seed(0)
    parent = CHANNEL_SLICE.training_module(TINY).eval()
    model = CONDITIONAL.training_module(TINY).eval()
    state = model.state_dict()
    state.update(parent.state_dict())
    model.load_state_dict(state)
    x, quality = torch.rand(2, 3, 64, 64), torch.tensor([1.0, 2.5])
    with torch.no_grad():
        theirs, mine = parent(x, quality), model(x, quality)
        assert all(torch.equal(theirs[key], mine[key]) for key in theirs)
        _perturb(model)
        assert (model(x, quality)["x_hat"] - theirs["x_hat"]).abs().max() > 1e-2


def test_a_quality_between_two_trained_ones_interpolates_the_modulation():
    model = CONDITIONAL.training_module(TINY).eval()
    _perturb(model)
    modulation = model.g_s_modulation[0]
    x = torch.ones(3, TINY.N, 1, 1)
    with torch.no_grad():
        out = modulation(x, model.interpolation(torch.tensor([1.0, 1.5, 2.0])))[:, :, 0, 0]
        low, high = modulation.log_scale[0], modulation.log_scale[1]
        expected = torch.exp((low + high) / 2) + (modulation.offset[0] + modulation.offset[1]) / 2
        assert torch.allclose(out[0], torch.exp(low) + modulation.offset[0])
        assert torch.allclose(out[1], expected) and torch.allclose(out[2], torch.exp(high) + modulation.offset[1])


@pytest.mark.parametrize("quality", [1.0, 2.3, 3.0])
def test_the_numpy_coders_match_the_torch_module(quality):
    torch.manual_seed(1)
    model = CONDITIONAL.training_module(TINY).eval()
    _perturb(model, seed=2)
    model.freeze()
    image = smooth_image(64, 128, seed=4)
    coded = model.encoder().compress(image, quality)
    expected = model.compress(torch.from_numpy(image).permute(2, 0, 1)[None].contiguous(), quality)
    assert coded.y_payload == expected.y_payload and coded.checksum == expected.checksum
    decoded = model.decoder().decode(coded.z_payload, coded.y_payload, quality, 64, 128, coded.checksum)
    reference = model.decompress(coded.z_payload, coded.y_payload, quality, 64, 128, coded.checksum)[0].numpy()
    assert np.abs(decoded - reference).max() < 1e-4
    elsewhere = quality + 0.5 if quality < len(TINY.lambdas) else quality - 0.5
    other = model.decoder().decode(coded.z_payload, coded.y_payload, elsewhere, 64, 128, coded.checksum)
    assert np.abs(other - decoded).max() > 1e-3  # the synthesis depends on the quality


def test_a_trained_channel_slice_model_becomes_a_conditional_one_that_trains_and_codes(tmp_path):
    (tmp_path / "images").mkdir()
    for i in range(2):
        Image.fromarray(smooth_image(70 + i, 90, seed=i)).save(tmp_path / "images" / f"{i}.png")
    common = ["--data", str(tmp_path / "images"), "--kodak", str(tmp_path / "images"), "--batch", "2", "--crop",
              "64", "--log-every", "1", "--val-every", "100", "--warmup", "1", "--device", "cpu", "--no-bf16"]
    torch.manual_seed(0)
    main(["--run-dir", str(tmp_path / "parent"), "--config", TINY.to_json(), "--steps", "2", *common])
    main(["--run-dir", str(tmp_path / "parent"), "--export", "test-parent", "--weights-dir", str(tmp_path)])
    main(["--run-dir", str(tmp_path / "child"), "--init", str(tmp_path / "test-parent.safetensors"),
          "--architecture", "aec-conditional-v1", "--steps", "3", "--lr", "1e-2", *common])
    main(["--run-dir", str(tmp_path / "child"), "--export", "test-child", "--weights-dir", str(tmp_path)])
    assert file_metadata(tmp_path / "test-child.safetensors")["architecture"] == "aec-conditional-v1"
    child = load_model("test-child", tmp_path)[0]
    assert any(m.log_scale.abs().max() > 0 for m in child.g_s_modulation)  # it trained them
    image = smooth_image(40, 70, seed=3)
    codec = aec.Codec(weights=tmp_path / "test-child.safetensors")
    data = codec.compress(image, 50)
    assert aec.read_header(data).model_id == "test-child"
    assert codec.decompress_array(data).shape == image.shape


def test_the_modulations_may_learn_faster_and_a_resumed_run_may_change_how_much(tmp_path):
    from aec.train.checkpoint import parameter_groups

    with pytest.raises(SystemExit, match="has no trained modulations"):
        parameter_groups(CHANNEL_SLICE.training_module(TINY), 10.0)
    model = CONDITIONAL.training_module(TINY)
    single, = parameter_groups(model, 1.0)
    rest, scaled = parameter_groups(model, 10.0)
    assert scaled["lr_scale"] == 10.0 and len(scaled["params"]) == 12  # log scale and offset of 6 modulations
    assert rest["params"] + scaled["params"] == single["params"]
    (tmp_path / "images").mkdir()
    for i in range(2):
        Image.fromarray(smooth_image(70 + i, 90, seed=i)).save(tmp_path / "images" / f"{i}.png")
    common = ["--data", str(tmp_path / "images"), "--kodak", str(tmp_path / "images"), "--batch", "2", "--crop",
              "64", "--log-every", "1", "--val-every", "100", "--warmup", "1", "--device", "cpu", "--no-bf16",
              "--architecture", "aec-conditional-v1", "--config", TINY.to_json(), "--run-dir", str(tmp_path / "run")]
    main([*common, "--steps", "2", "--lr", "1e-3", "--modulation-lr-scale", "10"])
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["optimizer"]["param_groups"]
    assert [group["lr"] for group in saved] == pytest.approx([1e-3, 1e-2])
    for scale, groups in (("1", 1), ("5", 2)):  # regrouped both ways, Adam's moments kept
        main([*common, "--resume", "--steps", str(3 + groups), "--lr", "1e-3", "--modulation-lr-scale", scale])
        state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["optimizer"]
        assert len(state["param_groups"]) == groups
        assert [group["lr"] for group in state["param_groups"]] == pytest.approx([1e-3, 5e-3][:groups])
        assert all(entry["step"] >= 3 for entry in state["state"].values())
