"""Tiled processing equals whole-image processing: exactly for the integer path, to the pixel for synthesis."""

from fractions import Fraction

import numpy as np
import pytest
import torch

import aec.latent_codecs as latent_module
import aec.model as model_module
from aec.config import TINY
from aec.model import AECModel
from aec.tiling import tiled
from tests.conftest import smooth_image


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(11)
    m = AECModel(TINY).eval()
    with torch.no_grad():
        m.latent_codec.h_a[-1].weight *= 10  # non-trivial z, as after training
    m.freeze()
    return m


def test_integer_networks_are_bit_identical_in_tiles(model):
    z = torch.randint(-6, 7, (1, TINY.Z, 9, 13)).double() * 256
    whole = model.latent_codec.h_s.forward_exact(z)
    assert torch.equal(tiled(model.latent_codec.h_s.forward_exact, z, 3, latent_module.HYPER_MARGIN, 4), whole)
    support = whole[:, :]
    net = model.latent_codec.context.params[0]
    assert torch.equal(tiled(net.forward_exact, support, 5, latent_module.CONTEXT_MARGIN), net.forward_exact(support))
    lrp = model.latent_codec.context.residuals[0]
    support = torch.cat([support, support[:, :TINY.M // TINY.slices]], dim=1)
    assert torch.equal(tiled(lrp.forward_exact, support, 5, latent_module.CONTEXT_MARGIN), lrp.forward_exact(support))


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
    monkeypatch.setattr(latent_module, "CONTEXT_TILE", 5)
    monkeypatch.setattr(latent_module, "HYPER_TILE", 1)
    parts = model.decompress(coded.z_payload, coded.y_payload, 2.0, 192, 320, coded.checksum)
    # The checksum held, so the integer path gave the same symbols; only the float32 synthesis sums in another order.
    assert (whole - parts).abs().max() < 1e-5
    levels = np.abs((whole * 255).round().numpy() - (parts * 255).round().numpy())
    assert levels.max() <= 1 and (levels > 0).mean() < 1e-3
