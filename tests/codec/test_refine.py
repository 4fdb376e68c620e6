"""Encoder effort: refinement lowers the model's own loss, codes through the exact path, decodes anywhere."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from aec import InputError
from aec.config import TINY
from aec.model import AECModel
from aec.config import EFFORT_ITERATIONS, MAX_EFFORT
from aec.refine import interpolated_lambda, rounding_at, sga_rounding, temperature
from tests.conftest import smooth_image


@pytest.fixture(scope="module")
def trained_ish():
    """A tiny model whose z is not all zero (as after some training)."""
    torch.manual_seed(21)
    model = AECModel(TINY).eval()
    with torch.no_grad():
        model.latent_codec.h_a[-1].weight *= 10
    model.freeze()
    return model


def test_sga_rounds_to_a_neighbouring_integer_in_the_cold_limit():
    generator = torch.Generator().manual_seed(0)
    values = torch.tensor([0.1, 0.9, -1.2, 2.5, 3.0])
    warm, _ = sga_rounding(0.5, generator)(values)
    assert ((warm >= torch.floor(values)) & (warm <= torch.floor(values) + 1)).all()
    cold = torch.stack([sga_rounding(1e-3, generator)(values)[0] for _ in range(20)])
    assert torch.allclose(cold[:, [0, 1, 2, 4]], torch.tensor([0.0, 1.0, -1.0, 3.0]).expand(20, 4), atol=1e-3)
    assert set(cold[:, 3].round().tolist()) <= {2.0, 3.0}


def test_the_steps_start_unrounded_then_anneal_from_one_half_to_a_tenth_of_it():
    assert temperature(0, 10) is None and temperature(2, 10) is None and temperature(3, 10) == 0.5  # 30 % relaxed
    assert temperature(19, 100) is None and temperature(20, 100) == 0.5  # ... at most 20 steps
    assert temperature(99, 100) == pytest.approx(0.05)
    assert temperature(60, 100) < temperature(40, 100)
    assert temperature(0, 1) == 0.5  # a single step is an SGA step
    generator = torch.Generator().manual_seed(0)
    values = torch.tensor([0.3, -1.7])
    assert torch.equal(rounding_at(0, 100, generator)(values)[0], values)
    assert not torch.equal(rounding_at(20, 100, generator)(values)[0], values)


def test_fractional_qualities_interpolate_lambda_log_linearly():
    assert interpolated_lambda(replace(TINY, lambdas=(0.01, 0.04)), 1.5) == pytest.approx(0.02)
    assert interpolated_lambda(replace(TINY, lambdas=(0.01, 0.04)), 2.0) == pytest.approx(0.04)


def test_refinement_lowers_the_rate_distortion_cost_of_the_coded_file(trained_ish):
    x = torch.from_numpy(smooth_image(128, 192, 3)).permute(2, 0, 1)[None]
    reference = x.float() / 255

    def cost(iterations):
        coded = trained_ish.compress(x, 2.0, iterations, (128, 192))
        x_hat = trained_ish.decompress(coded.z_payload, coded.y_payload, 2.0, 128, 192, coded.checksum)
        mse = float(((torch.round(x_hat * 255) / 255 - reference) ** 2).mean())
        bits = 8 * (len(coded.z_payload) + len(coded.y_payload))
        return interpolated_lambda(TINY, 2.0) * 255**2 * mse + bits / (128 * 192)

    assert cost(30) < cost(0)


def test_effort_gives_a_file_every_decoder_reads_and_is_deterministic(tiny_codec):
    image = smooth_image(70, 90, 4)
    first = tiny_codec.encode(image, model_quality=2, effort=1)
    assert first.effort == 1 and first.data == tiny_codec.compress(image, model_quality=2, effort=1)
    assert tiny_codec.decompress_array(first.data).shape == (70, 90, 3)  # the decoder needs nothing new
    assert tiny_codec.compress(image, model_quality=2, effort=0) == tiny_codec.compress(image, model_quality=2)


def test_refinement_steps_move_the_progress(tiny_codec):
    fractions = []
    tiny_codec.encode(smooth_image(70, 90, 4), model_quality=2, effort=1, progress=fractions.append)
    assert fractions == sorted(set(fractions)) and fractions[0] == 0 and fractions[-1] == 1
    assert len(fractions) >= EFFORT_ITERATIONS[1]  # a tick per step, beside those of the tiles and slices


@pytest.mark.parametrize("effort", [-1, MAX_EFFORT + 1, 1.5, True, "2"])
def test_an_effort_outside_the_levels_is_refused(tiny_codec, effort):
    with pytest.raises(InputError, match="effort"):
        tiny_codec.compress(smooth_image(8, 8), 2, effort=effort)


def test_effort_levels_grow():
    assert EFFORT_ITERATIONS[0] == 0 and list(EFFORT_ITERATIONS) == sorted(set(EFFORT_ITERATIONS))


def test_big_images_refine_tile_by_tile(trained_ish, monkeypatch):
    import aec.refine as refine

    monkeypatch.setattr(refine, "REFINE_TILE", 64)
    x = torch.from_numpy(smooth_image(128, 192, 5)).permute(2, 0, 1)[None]
    coded = trained_ish.compress(x, 2.0, 2, (120, 180))
    out = trained_ish.decompress(coded.z_payload, coded.y_payload, 2.0, 128, 192, coded.checksum)
    assert out.shape == (1, 3, 128, 192) and np.isfinite(out.numpy()).all()
