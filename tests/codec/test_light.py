"""``aec-light-v1`` (``aec.light``): the channel-slice architecture with a light g_s, whose first model learns from a
trained model's own latents (``--init PARENT --architecture aec-light-v1 --train-only synthesis``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import aec
from aec import channel_slice
from aec.bitstream.container import parse
from aec.config import TINY, ModelConfig
from aec.light import LIGHT, LightConfig, synthesis, synthesis_macs
from aec.model_files import file_metadata, load_model
from aec.registry import architecture, default_architecture
from aec.train import main
from tests.conftest import smooth_image

TINY_WIDTHS = [8, 8, 4]


def test_the_light_architecture_is_registered_beside_the_default_one():
    assert architecture("aec-light-v1") is LIGHT and default_architecture().name == "aec-channel-slice-v1"
    assert LIGHT.stride == channel_slice.STRIDE


def test_its_config_reads_widths_from_json_and_refuses_what_no_model_can_have():
    config = LIGHT.read_config(json.loads(LightConfig(synthesis_widths=(96, 48, 32)).to_json()))
    assert config.synthesis_widths == (96, 48, 32) and config.M == ModelConfig().M
    for widths in ([8, 8], [8, 8, 0], [8, 8.5, 4], [True, 8, 4], "abc"):
        with pytest.raises(ValueError, match="synthesis_widths"):
            LightConfig(synthesis_widths=widths)
    for width in (-1, 1.5, True, "64"):
        with pytest.raises(ValueError, match="hyper_synthesis_width"):
            LightConfig(hyper_synthesis_width=width)


def test_h_s_is_the_channel_slice_one_unless_its_width_is_given():
    assert LIGHT.hyper_synthesis_layers(LightConfig()) == channel_slice.hyper_synthesis(ModelConfig())
    layers = LIGHT.hyper_synthesis_layers(LightConfig(hyper_synthesis_width=64, hyper_width=96))
    assert [(layer.inputs, layer.outputs) for layer in layers] == [(128, 64), (64, 64), (64, 96)]


def test_the_default_light_synthesis_is_a_quarter_of_the_channel_slice_one_in_multiply_adds():
    light, full = synthesis_macs(synthesis(LightConfig())), synthesis_macs(channel_slice.synthesis(ModelConfig()))
    assert 9_000 < light <= 10_500 and 40_000 < full < 44_000
    # counted, not assumed: one layer of 192 -> 128 from 1/256 of the pixels, 5x5, and its inverse GDN at 1/64
    assert synthesis_macs(synthesis(LightConfig())[:1]) == 25 * 192 * 128 / 256 + 128 * 128 / 64


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    """A tiny channel-slice parent (2 steps), a light child that trained g_s alone on the parent's latents, and one
    that trained the whole decoder side with narrower slice networks: (folder, parent, light, decoder-side)."""
    folder = tmp_path_factory.mktemp("light")
    (folder / "images").mkdir()
    for i in range(2):
        Image.fromarray(smooth_image(70 + i, 90, seed=i)).save(folder / "images" / f"{i}.png")
    common = ["--data", str(folder / "images"), "--kodak", str(folder / "images"), "--batch", "2", "--crop", "64",
              "--log-every", "1", "--val-every", "100", "--warmup", "1", "--device", "cpu", "--no-bf16"]
    torch.manual_seed(0)
    main(["--run-dir", str(folder / "parent"), "--config", TINY.to_json(), "--steps", "2", *common])
    main(["--run-dir", str(folder / "parent"), "--export", "test-parent", "--weights-dir", str(folder)])
    parent = str(folder / "test-parent.safetensors")
    for name, extra in (("light", ["--train-only", "synthesis", "--config", json.dumps({"synthesis_widths": TINY_WIDTHS})]),
                        ("decoder", ["--train-only", "decoder",
                                     "--config", json.dumps({"synthesis_widths": TINY_WIDTHS, "context_width": 8})])):
        main(["--run-dir", str(folder / name), "--init", parent, "--architecture", "aec-light-v1", "--steps", "4",
              "--rounding", "hard", "--lr", "1e-2", *extra, *common])
        main(["--run-dir", str(folder / name), "--export", f"test-{name}", "--weights-dir", str(folder)])
    return folder, *(load_model(f"test-{name}", folder)[0] for name in ("parent", "light", "decoder"))


def test_a_light_synthesis_learns_under_the_parents_frozen_encoder_and_probability_path(family):
    folder, parent, light, _ = family
    assert file_metadata(folder / "test-light.safetensors")["architecture"] == "aec-light-v1"
    assert light.config.synthesis_widths == tuple(TINY_WIDTHS) and light.architecture == "aec-light-v1"
    assert [tuple(m.weight.shape) for m in light.g_s if hasattr(m, "weight")] == [
        (16, 8, 5, 5), (8, 8, 5, 5), (8, 4, 5, 5), (4, 3, 5, 5)]
    theirs, mine = parent.state_dict(), light.state_dict()
    moved = {key for key in mine if key.startswith("g_s.") or key == "log_inverse_gains"}
    assert all(torch.equal(theirs[key], mine[key]) for key in mine if key not in moved)
    assert not torch.equal(theirs["log_inverse_gains"], mine["log_inverse_gains"])  # it trained


def test_its_files_have_the_parents_bytes(family):
    folder, *_ = family
    image = smooth_image(40, 70, seed=3)
    parent, light = aec.Codec(weights=folder / "test-parent.safetensors"), aec.Codec(weights=folder / "test-light.safetensors")
    for quality in (1.0, 2.5):
        mine, theirs = light.compress(image, model_quality=quality), parent.compress(image, model_quality=quality)
        assert aec.read_header(mine).model_id == "test-light"
        assert aec.read_header(mine).symbol_checksum == aec.read_header(theirs).symbol_checksum
        assert parse(mine)[1] == parse(theirs)[1]  # the same sections: ZHYP and YLAT, byte for byte
        assert light.decompress_array(mine).shape == image.shape


def test_the_numpy_decoder_matches_the_light_torch_module(family):
    folder, _, light, _ = family
    image = smooth_image(64, 128, seed=5)
    data = aec.Codec(weights=folder / "test-light.safetensors").compress(image, model_quality=2)
    decoded = aec.Codec(weights=folder / "test-light.safetensors").decompress_array(data)
    x = torch.from_numpy(image).permute(2, 0, 1)[None].contiguous()
    coded = light.compress(x, 2.0)
    expected = light.decompress(coded.z_payload, coded.y_payload, 2.0, 64, 128, coded.checksum)
    expected = torch.round(expected[0] * 255).to(torch.uint8).permute(1, 2, 0).numpy()
    assert np.abs(decoded.astype(int) - expected).max() <= 1


def test_training_the_decoder_side_keeps_the_encoder_and_starts_narrower_slice_networks_afresh(family):
    folder, parent, _, decoder = family
    assert decoder.config.context_width == 8
    theirs, mine = parent.state_dict(), decoder.state_dict()
    encoder = {name for name, p in decoder.named_parameters() if any(p is q for q in decoder.encoder_parameters())}
    assert encoder and all(torch.equal(theirs[key], mine[key]) for key in encoder)
    assert any(not torch.equal(theirs[key], mine[key]) for key in mine if key.startswith("latent_codec.h_s."))
    assert mine["latent_codec.context.params.0.0.weight"].shape[0] == 8
    image = smooth_image(40, 70, seed=6)
    codec = aec.Codec(weights=folder / "test-decoder.safetensors")
    assert codec.decompress_array(codec.compress(image, 50)).shape == image.shape


def test_a_transplant_to_a_config_no_model_can_have_is_one_clear_error(family, tmp_path):
    folder, *_ = family
    with pytest.raises(SystemExit, match="synthesis_widths"):
        main(["--run-dir", str(tmp_path / "bad"), "--init", str(folder / "test-parent.safetensors"),
              "--architecture", "aec-light-v1", "--config", '{"synthesis_widths": [8]}', "--data",
              str(folder / "images"), "--steps", "1", "--device", "cpu", "--no-bf16"])
    with pytest.raises(SystemExit, match="unknown architecture 'aec-none-v0'"):
        main(["--run-dir", str(tmp_path / "bad"), "--init", str(folder / "test-parent.safetensors"),
              "--architecture", "aec-none-v0", "--data", str(folder / "images"), "--steps", "1", "--device", "cpu"])


def test_a_narrower_analysis_starts_from_the_parents_first_channels_and_trains_under_its_frozen_decoder(family,
                                                                                                    tmp_path):
    from aec.light import LIGHT, LightConfig

    folder, _, light, _ = family
    assert "analysis_widths" not in LightConfig().to_dict()  # the first light models' files keep their config
    with pytest.raises(ValueError, match="analysis_widths"):
        LightConfig(analysis_widths=(8, 8))
    layers = LIGHT.analysis_layers(LightConfig(N=16, M=16, analysis_widths=(4, 8, 16)))
    assert [(layer.inputs, layer.outputs) for layer in layers] == [(3, 4), (4, 8), (8, 16), (16, 16)]
    images = folder / "images"
    main(["--run-dir", str(tmp_path / "narrow"), "--init", str(folder / "test-light.safetensors"),
          "--architecture", "aec-light-v1", "--config", json.dumps({"analysis_widths": [4, 8, 16]}),
          "--train-only", "encoder", "--steps", "2", "--lr", "1e-2", "--data", str(images), "--kodak", str(images),
          "--batch", "2", "--crop", "64", "--log-every", "1", "--val-every", "100", "--warmup", "1", "--device", "cpu",
          "--no-bf16"])
    main(["--run-dir", str(tmp_path / "narrow"), "--export", "test-narrow", "--weights-dir", str(tmp_path)])
    narrow = load_model("test-narrow", tmp_path)[0]
    assert narrow.config.analysis_widths == (4, 8, 16)
    assert tuple(narrow.g_a[0].weight.shape) == (4, 3, 5, 5) and tuple(narrow.g_a[2].weight.shape) == (8, 4, 5, 5)
    theirs, mine = light.state_dict(), narrow.state_dict()
    decoder = [key for key in mine if not key.startswith(("g_a.", "latent_codec.h_a.")) and key != "log_gains"]
    assert decoder and all(torch.equal(theirs[key], mine[key]) for key in decoder)  # the decoder side is the parent's
    image = smooth_image(40, 70, seed=7)
    data = aec.Codec(weights=tmp_path / "test-narrow.safetensors").compress(image, model_quality=2)
    assert aec.Codec(weights=tmp_path / "test-narrow.safetensors").decompress_array(data).shape == image.shape


def test_a_narrower_float_layer_keeps_the_leading_block_of_the_trained_one():
    from aec.train.checkpoint import narrowed

    conv = torch.nn.Conv2d(4, 2, 3)
    theirs = torch.arange(8 * 4 * 9, dtype=torch.float32).view(8, 4, 3, 3)
    assert torch.equal(narrowed("g_a.2.weight", theirs, conv.weight.detach(), conv), theirs[:2])
    assert narrowed("latent_codec.h_a.0.weight", theirs, conv.weight.detach(), conv) is None  # g_a and g_s only
    assert narrowed("g_a.2.weight", theirs[:1], conv.weight.detach(), conv) is None  # grown, not narrowed


def test_an_analysis_of_smaller_kernels_starts_from_the_centre_taps_and_codes_with_the_parents_decoder(family,
                                                                                                     tmp_path):
    from aec.light import LIGHT, LightConfig
    from aec.train.checkpoint import narrowed

    folder, _, light, _ = family
    assert "analysis_kernels" not in LightConfig().to_dict()
    for bad in ((5, 3, 3), (5, 4, 3, 5), (5, 3, 3, True)):
        with pytest.raises(ValueError, match="analysis_kernels"):
            LightConfig(analysis_kernels=bad)
    layers = LIGHT.analysis_layers(LightConfig(N=16, M=16, analysis_kernels=[5, 3, 3, 5]))
    assert [layer.kernel for layer in layers] == [5, 3, 3, 5] and all(layer.stride == 2 for layer in layers)
    conv = torch.nn.Conv2d(4, 2, 3)
    theirs = torch.arange(8 * 4 * 25, dtype=torch.float32).view(8, 4, 5, 5)
    assert torch.equal(narrowed("g_a.2.weight", theirs, conv.weight.detach(), conv), theirs[:2, :, 1:4, 1:4])
    images = folder / "images"
    main(["--run-dir", str(tmp_path / "small"), "--init", str(folder / "test-light.safetensors"),
          "--architecture", "aec-light-v1", "--config", json.dumps({"analysis_kernels": [5, 3, 3, 5]}),
          "--train-only", "encoder", "--steps", "2", "--lr", "1e-2", "--data", str(images), "--kodak", str(images),
          "--batch", "2", "--crop", "64", "--log-every", "1", "--val-every", "100", "--warmup", "1", "--device", "cpu",
          "--no-bf16"])
    main(["--run-dir", str(tmp_path / "small"), "--export", "test-small", "--weights-dir", str(tmp_path)])
    small = load_model("test-small", tmp_path)[0]
    assert small.config.analysis_kernels == (5, 3, 3, 5)
    assert [tuple(small.g_a[i].weight.shape[2:]) for i in (0, 2, 4, 6)] == [(5, 5), (3, 3), (3, 3), (5, 5)]
    theirs, mine = light.state_dict(), small.state_dict()
    decoder = [key for key in mine if not key.startswith(("g_a.", "latent_codec.h_a.")) and key != "log_gains"]
    assert decoder and all(torch.equal(theirs[key], mine[key]) for key in decoder)  # the decoder side is the parent's
    image = smooth_image(40, 70, seed=7)
    codec = aec.Codec(weights=tmp_path / "test-small.safetensors")
    torch_x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    data = codec.compress(image, model_quality=2)
    assert codec.decompress_array(data).shape == image.shape
    with torch.no_grad():  # the numpy encoder's g_a is torch's
        expected = small.g_a(torch.nn.functional.pad(torch_x, (0, 58, 0, 24), mode="replicate"))[0].numpy()
    numpy_g_a = codec._encoders["test-small"][0].analysis.at(2.0)
    padded = np.pad(image, ((0, 24), (0, 58), (0, 0)), mode="edge").transpose(2, 0, 1).astype(np.float32) / 255
    assert np.allclose(numpy_g_a(padded), expected, atol=1e-4)


def test_a_narrower_analysis_can_first_learn_its_parents_latents(family, tmp_path):
    """--distill: the encoder's loss is the squared error between its latents (times the gains) and the parent's on
    the same crops; it falls as the narrow g_a learns them, and the decoder stays the parent's."""
    import csv

    folder, _, light, _ = family
    images = folder / "images"
    common = ["--run-dir", str(tmp_path / "distilled"), "--train-only", "encoder", "--lr", "1e-2", "--data",
              str(images), "--kodak", str(images), "--batch", "2", "--crop", "64", "--log-every", "1",
              "--val-every", "100", "--warmup", "1", "--device", "cpu", "--no-bf16", "--ema-decay", "0"]
    parent = str(folder / "test-light.safetensors")
    main([*common, "--init", parent, "--architecture", "aec-light-v1", "--config",
          json.dumps({"analysis_widths": [4, 8, 16]}), "--distill", parent, "--steps", "30"])
    rows = list(csv.DictReader((tmp_path / "distilled" / "log.csv").open()))
    losses = [float(row["loss"]) for row in rows]
    assert int(rows[-1]["step"]) == 30 and len(losses) >= 20 and all(float(row["bpp"]) == 0 for row in rows)
    assert min(losses[-5:]) < 0.7 * losses[0]
    main([*common, "--resume", "--steps", "32"])  # then the rate-distortion loss, resumed without --distill
    last = list(csv.DictReader((tmp_path / "distilled" / "log.csv").open()))[-1]
    assert int(last["step"]) == 32 and float(last["bpp"]) > 0
    with pytest.raises(SystemExit):
        main([*common[:3], "--distill", parent, "--data", str(images), "--steps", "1"])  # not --train-only encoder


def test_without_latent_residual_prediction_the_model_trains_codes_and_matches_its_torch_module(family, tmp_path):
    folder, parent, *_ = family
    assert "latent_residual" not in LightConfig().to_dict()  # the first light models' files keep their config
    with pytest.raises(ValueError, match="latent_residual"):
        LightConfig(latent_residual=0)
    common = ["--data", str(folder / "images"), "--kodak", str(folder / "images"), "--batch", "2", "--crop", "64",
              "--log-every", "1", "--val-every", "100", "--warmup", "1", "--device", "cpu", "--no-bf16"]
    config = json.dumps({"synthesis_widths": TINY_WIDTHS, "latent_residual": False})
    main(["--run-dir", str(tmp_path / "run"), "--init", str(folder / "test-parent.safetensors"), "--architecture",
          "aec-light-v1", "--config", config, "--steps", "2", "--lr", "1e-3", *common])
    main(["--run-dir", str(tmp_path / "run"), "--export", "test-no-lrp", "--weights-dir", str(tmp_path)])
    model = load_model("test-no-lrp", tmp_path)[0]
    assert model.config.latent_residual is False and len(model.latent_codec.context.residuals) == 0
    assert not any("residuals" in key for key in model.state_dict())
    kept = {key: value for key, value in parent.state_dict().items() if key.startswith("latent_codec.context.params.")}
    assert kept and all(key in model.state_dict() for key in kept)  # the parent's slice networks carried over
    codec = aec.Codec(weights=tmp_path / "test-no-lrp.safetensors")
    image = smooth_image(64, 128, seed=7)
    data = codec.compress(image, model_quality=2)
    decoded = codec.decompress_array(data)
    x = torch.from_numpy(image).permute(2, 0, 1)[None].contiguous()
    coded = model.compress(x, 2.0)
    assert aec.read_header(data).symbol_checksum == coded.checksum  # the numpy and torch encoders agree
    expected = model.decompress(coded.z_payload, coded.y_payload, 2.0, 64, 128, coded.checksum)
    expected = torch.round(expected[0] * 255).to(torch.uint8).permute(1, 2, 0).numpy()
    assert np.abs(decoded.astype(int) - expected).max() <= 1
