"""The torch-free one-pass encoder (aec.channel_slice's, coding through aec.exact): torch's transforms to rounding
noise, the same files as the torch model's encoder, in tiles as whole."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aec import channel_slice
from aec.decoder import coders_from_file
from aec.errors import InputError, ModelMismatchError
from tests.conftest import frozen_tiny_model, smooth_image


@pytest.fixture(scope="module")
def model():
    return frozen_tiny_model(7)


def _image(height: int, width: int, seed: int) -> tuple[np.ndarray, torch.Tensor]:
    rgb = smooth_image(height, width, seed)
    return rgb, torch.from_numpy(rgb).permute(2, 0, 1)[None].contiguous()


def test_the_numpy_transforms_are_torchs_to_rounding_noise(model):
    rgb, x = _image(128, 192, 1)
    encoder = model.encoder()
    with torch.no_grad():
        y_torch = model.g_a(x.float() / 255)[0].numpy()
        z_torch = model.latent_codec.h_a(torch.from_numpy(y_torch)[None])[0].numpy()
    y = encoder.analysis(rgb.transpose(2, 0, 1).astype(np.float32) / np.float32(255))
    assert y.dtype == np.float32 and np.allclose(y, y_torch, rtol=0, atol=1e-5 * np.abs(y_torch).max())
    z = encoder.hyper_analysis(y_torch.copy())
    assert np.allclose(z, z_torch, rtol=0, atol=1e-5 * np.abs(z_torch).max())
    gain, _ = model.gains(torch.tensor([2.3]))
    assert np.allclose(model.config.interpolated(encoder.log_gains, 2.3), gain[0].detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("quality", [1.0, 2.5, 3.0])
def test_it_writes_the_torch_encoders_payloads(model, quality):
    """The same symbols, so the same bytes: a value would have to lie within float32 noise of a rounding boundary
    to round otherwise (measured: byte-identical here and on kodim05 at three qualities with r7)."""
    encoder = model.encoder()
    for seed in range(3):
        rgb, x = _image(128, 192, seed)
        ours, theirs = encoder.compress(rgb, quality), model.compress(x, quality)
        assert (ours.z_payload, ours.y_payload, ours.checksum) == (theirs.z_payload, theirs.y_payload,
                                                                  theirs.checksum)
        assert ours.estimated_bits == pytest.approx(theirs.estimated_bits, rel=1e-9)


def test_tiles_give_the_whole_images_latents(model, monkeypatch):
    rgb, _ = _image(192, 256, 3)
    encoder = model.encoder()
    whole = encoder.compress(rgb, 2.0)
    monkeypatch.setattr(channel_slice, "ANALYSIS_TILE", 64)
    monkeypatch.setattr(channel_slice, "HYPER_ANALYSIS_TILE", 4)
    tiled = encoder.compress(rgb, 2.0)
    assert (tiled.z_payload, tiled.y_payload) == (whole.z_payload, whole.y_payload)


def test_a_model_file_without_an_encoder_tensor_is_refused_by_name(tmp_path, model):
    from safetensors import safe_open
    from safetensors.numpy import save_file

    from aec.model_files import save_model

    path = tmp_path / "m.safetensors"
    save_model(model, path, "test-tiny")
    with safe_open(str(path), "numpy") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        metadata = handle.metadata()
    del tensors["g_a.2.weight"]
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(ModelMismatchError, match=r"m\.safetensors does not match .*tensor g_a\.2\.weight is missing"):
        coders_from_file(path)


def test_an_image_out_of_the_models_numeric_range_is_refused(model):
    encoder = model.encoder()
    encoder.log_gains = np.full_like(encoder.log_gains, 80.0)  # gains of e**80: no symbol fits the coder
    with pytest.raises(InputError, match="numeric range"):
        encoder.compress(smooth_image(64, 64, 0), 1.0)
