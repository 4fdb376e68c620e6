"""``aec.train.probability``: a model's probability path trained alone on its cached latents, narrowed from the
parent's units (issue "A fast model")."""

from __future__ import annotations

import copy
import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

import aec
from aec.config import TINY
from aec.model_files import load_model, load_model_file
from aec.train import main as train_main
from aec.train.checkpoint import transplant
from aec.layers import IntConv2d
from aec.train.checkpoint import load_checkpoint
from aec.train.probability import (LatentSampler, _copy_narrowed, cached_images, cached_names, cache_latents, distortion_weights, load_latents, loss_of, main,
                                   narrow, probability_parameters)
from tests.conftest import smooth_image


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    """A tiny channel-slice model trained a few steps, its file, and a folder of training images."""
    folder = tmp_path_factory.mktemp("probability")
    (folder / "images").mkdir()
    for i in range(3):
        Image.fromarray(smooth_image(80 + 16 * i, 96, seed=i)).save(folder / "images" / f"{i}.png")
    torch.manual_seed(0)
    train_main(["--run-dir", str(folder / "parent"), "--config", TINY.to_json(), "--steps", "3", "--data",
                str(folder / "images"), "--kodak", str(folder / "images"), "--batch", "2", "--crop", "64",
                "--warmup", "1", "--lr", "1e-2", "--device", "cpu", "--no-bf16", "--val-every", "100"])
    train_main(["--run-dir", str(folder / "parent"), "--export", "test-parent", "--weights-dir", str(folder)])
    return folder, folder / "test-parent.safetensors"


def _images(count=3):
    return [smooth_image(64 + 16 * i, 80, seed=10 + i) for i in range(count)]


@pytest.fixture()
def cached(parent, tmp_path):
    """The parent model (eval mode) and a sampler of 4x4 crops of its cached latents."""
    model, _, _ = load_model_file(parent[1])
    model.eval()
    cache_latents(model, _images(), tmp_path / "latents.npz", log_every=0)
    return model, LatentSampler(load_latents(tmp_path / "latents.npz"), 4, seed=0)


def test_the_cache_holds_g_as_latent_of_each_image_and_its_mirror(parent, tmp_path):
    _, path = parent
    model, _, _ = load_model_file(path)
    images = _images()
    cache_latents(model.eval(), images, tmp_path / "latents.npz", log_every=0)
    latents = load_latents(tmp_path / "latents.npz")
    assert len(latents) == 2 * len(images)
    assert latents[0].dtype == np.float16 and latents[2].shape == (TINY.M, (64 + 16) // 16, 80 // 16)
    x = torch.from_numpy(images[1][:80, :80]).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        expected = model.g_a(x)[0].numpy()
    assert np.allclose(latents[2], expected, atol=2e-3 * max(1.0, np.abs(expected).max()))
    with torch.no_grad():
        mirrored = model.g_a(x.flip(3))[0].numpy()
    assert np.allclose(latents[3], mirrored, atol=2e-3 * max(1.0, np.abs(mirrored).max()))
    assert not np.allclose(latents[2], latents[3])


def test_narrowing_to_the_parents_own_widths_is_the_parent_itself(cached):
    model, sampler = cached
    child = copy.deepcopy(model)
    for p in probability_parameters(child):
        p.data.zero_()
    narrow(model, child, sampler, batches=2)
    assert all(torch.equal(a, b) for a, b in zip(probability_parameters(model), probability_parameters(child)))


def test_a_narrowed_path_keeps_rows_of_the_parents_units_and_still_codes(cached):
    model, sampler = cached
    child = transplant(model, "aec-light-v1", {"hyper_width": 12, "context_width": 10, "hyper_synthesis_width": 6,
                                               "synthesis_widths": [16, 16, 16]}, False).eval()
    report = narrow(model, child, sampler, batches=2)
    assert report[0] == "h_s: hidden units kept 6/16, 6/16; 12 of 16 hyper features" and "10/16" in report[1]
    assert [layer.weight.shape[:2] for layer in child.latent_codec.h_s] == [(8, 6), (6, 6), (12, 6)]
    p_first, c_first = model.latent_codec.context.params[1][0], child.latent_codec.context.params[1][0]
    assert c_first.weight.shape == (10, 12 + 8, 3, 3)
    # every kept unit is one of the parent's, in order: its weights on slice 0 (the last 8 inputs) are the parent's
    parent_rows = p_first.weight.detach()[:, 16:]
    rows = [next(r for r in range(16) if torch.equal(row, parent_rows[r])) for row in c_first.weight.detach()[:, 12:]]
    assert rows == sorted(set(rows))
    # the narrowed model codes and decodes
    child.freeze()
    y = sampler.batch(1) * model.gains(torch.tensor([2]))[0][:, :, None, None]
    coded = child.latent_codec.compress(y[:, :, :4, :4])
    assert child.latent_codec.decompress(coded.z_payload, coded.y_payload, 4, 4, coded.checksum).shape == (1, 16, 4, 4)


def test_a_dropped_input_at_its_mean_value_changes_no_output_of_a_narrowed_layer():
    torch.manual_seed(0)
    source, target = IntConv2d(6, 5, 3), IntConv2d(4, 3, 3)
    with torch.no_grad():
        source.bias.normal_()
    outputs, inputs, dropped = torch.tensor([0, 2, 4]), torch.tensor([0, 1, 3, 5]), torch.tensor([2, 4])
    mean = torch.tensor([0.7, -1.3])
    _copy_narrowed(source, target, outputs, inputs, mean, dropped)
    x = torch.randn(1, 6, 8, 8)
    x[:, dropped] = mean[None, :, None, None]
    full = torch.nn.functional.conv2d(x, source.weight, source.bias, padding=1)[:, outputs]
    narrowed = torch.nn.functional.conv2d(x[:, inputs], target.weight, target.bias, padding=1)
    assert torch.allclose(full[..., 1:-1, 1:-1], narrowed[..., 1:-1, 1:-1], atol=1e-5)  # inside the zero padding
    assert not torch.allclose(target.bias, source.bias[outputs])


def test_distortion_weights_are_g_ss_squared_jacobian_columns(cached):
    model, sampler = cached
    torch.manual_seed(0)
    weights = distortion_weights(model, sampler, probes=32)
    assert weights.shape == (TINY.M,) and (weights > 0).all()
    # against a finite difference: noise of variance s in channel c adds about w_c * s to the pixel MSE
    y = sampler.batch(2)
    gain, inverse = model.gains(torch.tensor([3, 3]))
    with torch.no_grad():
        u = model.latent_codec(y * gain[:, :, None, None]).y_hat * inverse[:, :, None, None]
        base = model.g_s(u)
        channel = int(weights.argmax())
        noise = torch.zeros_like(u)
        noise[:, channel] = 1e-2 * torch.randn_like(u[:, channel])
        measured = ((model.g_s(u + noise) - base) ** 2).mean() / (noise[:, channel] ** 2).mean()
    assert 0.5 < float(measured / weights[channel]) < 2.0


def test_training_lowers_the_loss_and_the_exported_model_codes_with_the_parents_encoder(parent, tmp_path):
    folder, path = parent
    run = tmp_path / "run"
    common = ["--run-dir", str(run), "--data", str(folder / "images"), "--crop", "4", "--batch", "4",
              "--log-every", "5", "--warmup", "1", "--lr", "3e-3", "--ema-decay", "0"]
    torch.manual_seed(0)
    narrower = {"context_width": 8, "hyper_width": 12, "hyper_synthesis_width": 10, "synthesis_widths": [16, 16, 16]}
    main([*common, "--init", str(path), "--architecture", "aec-light-v1", "--config", json.dumps(narrower),
          "--steps", "60"])
    rows = list(csv.DictReader((run / "log.csv").open()))  # aec.train's log: a row every --log-every steps
    assert len(rows) == 12 and float(rows[-1]["loss"]) < float(rows[0]["loss"])  # the loss fell
    main([*common, "--resume", "--steps", "70"])  # resumes where it stopped
    rows = list(csv.DictReader((run / "log.csv").open()))
    assert [int(row["step"]) for row in rows[-3:]] == [60, 65, 70]
    train_main(["--run-dir", str(run), "--export", "test-narrow", "--weights-dir", str(tmp_path), "--export-raw"])
    child, parent_model = load_model("test-narrow", tmp_path)[0], load_model_file(path)[0]
    assert child.architecture == "aec-light-v1"
    assert (child.config.context_width, child.config.hyper_width, child.config.hyper_synthesis_width) == (8, 12, 10)
    encoder = [n for n, p in child.named_parameters() if any(p is q for q in child.encoder_parameters())]
    theirs = parent_model.state_dict()
    assert all(torch.equal(child.state_dict()[n], theirs[n]) for n in encoder + ["g_s.0.weight"])
    image = smooth_image(48, 80, seed=7)
    codec = aec.Codec(weights=tmp_path / "test-narrow.safetensors")
    decoded = codec.decompress_array(codec.compress(image, 60))
    assert decoded.shape == image.shape


def test_without_a_parent_it_says_so(tmp_path):
    with pytest.raises(SystemExit):
        main(["--run-dir", str(tmp_path / "run")])


def test_with_pixels_each_latent_crop_comes_with_the_pixels_it_codes(parent, tmp_path):
    folder, path = parent
    model, _, _ = load_model_file(path)
    names = sorted(p.name for p in (folder / "images").iterdir())
    images = [np.array(Image.open(folder / "images" / name).convert("RGB")) for name in names]
    cache_latents(model.eval(), images, tmp_path / "latents.npz", names, log_every=0)
    assert cached_names(tmp_path / "latents.npz") == names
    pixels = cached_images(tmp_path / "latents.npz", folder / "images")
    sampler = LatentSampler(load_latents(tmp_path / "latents.npz"), 2, seed=0, images=pixels)
    y, x = sampler.batch_with_pixels(6)
    assert y.shape == (6, TINY.M, 2, 2) and x.shape == (6, 3, 32, 32) and 0 <= x.min() and x.max() <= 1
    latents = load_latents(tmp_path / "latents.npz")
    for b in range(6):  # each pixel crop lies at the 16-aligned place of the latent crop, in the same image
        crop = (x[b].permute(1, 2, 0) * 255).round().byte().numpy()
        found = [(n, top, left) for n, image in enumerate(pixels)
                 for top in range(0, image.shape[0] - 31, 16) for left in range(0, image.shape[1] - 31, 16)
                 if np.array_equal(image[top:top + 32, left:left + 32], crop)
                 and np.array_equal(latents[n][:, top // 16:top // 16 + 2, left // 16:left // 16 + 2],
                                    y[b].numpy().astype(np.float16))]
        assert found
    # a cache of other images is refused with one line
    with pytest.raises(SystemExit, match="do not match"):
        LatentSampler(load_latents(tmp_path / "latents.npz"), 2, seed=0, images=pixels[::-1])
    cache_latents(model, images, tmp_path / "old.npz", log_every=0)
    with pytest.raises(SystemExit, match="no image names"):
        cached_images(tmp_path / "old.npz", folder / "images")


def test_with_pixels_and_the_synthesis_the_whole_decoder_side_trains(parent, tmp_path):
    folder, path = parent
    run = tmp_path / "run"
    torch.manual_seed(0)
    main(["--run-dir", str(run), "--data", str(folder / "images"), "--crop", "4", "--batch", "2", "--log-every", "5",
          "--warmup", "1", "--lr", "3e-3", "--ema-decay", "0", "--init", str(path), "--pixels", "--train-synthesis",
          "--config", json.dumps({"context_width": 12}), "--steps", "30"])
    rows = list(csv.DictReader((run / "log.csv").open()))
    assert len(rows) == 6 and float(rows[-1]["loss"]) < float(rows[0]["loss"])
    child, _ = load_checkpoint(run / "checkpoint.pt")
    parent_model = load_model_file(path)[0]
    assert not torch.equal(child.g_s[0].weight, parent_model.g_s[0].weight)  # g_s trained
    assert torch.equal(child.g_a[0].weight, parent_model.g_a[0].weight)  # the encoder did not
    with pytest.raises(SystemExit):
        main(["--run-dir", str(tmp_path / "bad"), "--init", str(path), "--train-synthesis"])
