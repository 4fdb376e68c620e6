"""Tiled processing equals whole-image processing: exactly for the integer path, to the pixel for synthesis."""

from fractions import Fraction

import numpy as np
import pytest
import torch

import aec.exact as exact_module
import aec.latent_codecs as latent_module
import aec.model as model_module
from aec.config import TINY
from aec.tiling import tiled
from tests.conftest import frozen_tiny_model, smooth_image


@pytest.fixture(scope="module")
def model():
    return frozen_tiny_model(11)


def test_integer_networks_are_bit_identical_in_tiles(model):
    path = model.latent_codec.exact_path()
    z = np.random.default_rng(0).integers(-6, 7, (TINY.Z, 9, 13)).astype(np.float64) * 256
    whole = path.h_s(z)
    assert np.array_equal(tiled(path.h_s, z, 3, exact_module.HYPER_MARGIN, 4), whole)
    net = path.params[0]
    assert np.array_equal(tiled(net, whole, 5, exact_module.CONTEXT_MARGIN), net(whole))
    support = np.concatenate([whole, whole[:TINY.M // TINY.slices]])
    lrp = path.residuals[0]
    assert np.array_equal(tiled(lrp, support, 5, exact_module.CONTEXT_MARGIN), lrp(support))


@pytest.mark.parametrize("tile", [3, 20])  # in tiles, or in one
def test_tiles_stitched_into_a_given_array_of_any_strides_are_the_new_arrays_values(model, tile):
    path = model.latent_codec.exact_path()
    z = np.random.default_rng(1).integers(-6, 7, (TINY.Z, 9, 13)).astype(np.float64) * 256
    expected = tiled(path.h_s, z, tile, exact_module.HYPER_MARGIN, 4)
    channels_last = np.full((36, 52, len(expected)), np.nan)
    out = tiled(path.h_s, z, tile, exact_module.HYPER_MARGIN, 4, out=channels_last.transpose(2, 0, 1))
    assert np.shares_memory(out, channels_last) and np.array_equal(channels_last.transpose(2, 0, 1), expected)


def test_analysis_in_tiles_matches_the_whole_image(model):
    x = torch.from_numpy(smooth_image(320, 448)).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        whole = model.g_a(x)
        parts = tiled(model.g_a, x, 128, model_module.ANALYSIS_MARGIN, Fraction(1, 16))
        z_whole = model.latent_codec.h_a(whole)
        z_parts = tiled(model.latent_codec.h_a, whole, 8, latent_module.HYPER_ANALYSIS_MARGIN, Fraction(1, 4))
    assert torch.allclose(parts, whole, atol=1e-5)
    assert torch.allclose(z_parts, z_whole, atol=1e-5)


def test_decoding_in_small_tiles_gives_the_same_latents_and_pixels_within_float32_noise(model, monkeypatch):
    x = torch.from_numpy(smooth_image(192, 320, 2)).permute(2, 0, 1)[None].float() / 255
    coded = model.compress(x, 2.0)
    whole = model.decompress(coded.z_payload, coded.y_payload, 2.0, 192, 320, coded.checksum)
    monkeypatch.setattr(model_module, "SYNTHESIS_TILE", 4)
    monkeypatch.setattr(exact_module, "CONTEXT_TILE", 5)
    monkeypatch.setattr(exact_module, "HYPER_TILE", 1)
    parts = model.decompress(coded.z_payload, coded.y_payload, 2.0, 192, 320, coded.checksum)
    # The checksum held, so the integer path gave the same symbols; only the float32 synthesis sums in another order.
    assert (whole - parts).abs().max() < 1e-5
    levels = np.abs((whole * 255).round().numpy() - (parts * 255).round().numpy())
    assert levels.max() <= 1 and (levels > 0).mean() < 1e-3
