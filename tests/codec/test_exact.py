"""Claims about aec.exact's latent path: what ``encode`` writes, ``decode`` reads back to within a rounding and the
residual prediction of y, and a payload that is not exactly the symbols is refused."""

from __future__ import annotations

import numpy as np
import pytest

from aec.config import TINY
from aec.errors import FormatError, InputError
from aec.exact import LRP_LIMIT
from tests.conftest import frozen_tiny_model


@pytest.fixture(scope="module")
def path():
    return frozen_tiny_model(11).latent_codec.exact_path()


def _latents(seed: int, height: int = 8, width: int = 12) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 3, (TINY.M, height, width)), rng.normal(0, 2, (TINY.Z, height // 4, width // 4))


def test_decode_gives_y_to_within_its_rounding_and_residual_prediction(path):
    y, z = _latents(1)
    coded = path.encode(y, z)
    y_hat = path.decode(coded.z_payload, coded.y_payload, 8, 12, coded.checksum)  # the checksum is checked
    assert y_hat.shape == y.shape and np.abs(y_hat - y).max() <= 0.5 + LRP_LIMIT
    assert coded.estimated_bits > 0


def test_a_payload_with_data_after_its_symbols_or_cut_short_is_refused(path):
    y, z = _latents(2)
    coded = path.encode(y, z)
    for kind, z_payload, y_payload in (("ZHYP", coded.z_payload + bytes(8), coded.y_payload),
                                       ("YLAT", coded.z_payload, coded.y_payload + bytes(8))):
        with pytest.raises(FormatError, match=f"the {kind} section has data after its last symbol"):
            path.decode(z_payload, y_payload, 8, 12)
    with pytest.raises(FormatError, match="the YLAT section ends early"):
        path.decode(coded.z_payload, coded.y_payload[: len(coded.y_payload) // 8 * 4], 8, 12)


def test_latents_out_of_the_numeric_range_are_refused_before_any_coding(path):
    y, z = _latents(3)
    y[0, 0, 0] = np.nan
    with pytest.raises(InputError, match="numeric range"):
        path.encode(y, z)


def _reference_slices(path, z_symbols, symbols):
    """The slice loop as it was first written: a new concatenation of the clamped context for every network."""
    from aec.exact import INPUT_LIMIT, ONE

    hyper = path.hyper_features(z_symbols)
    y_hat = []
    for i, network in enumerate(path.params):
        context = np.concatenate([hyper, *[np.clip(y, -INPUT_LIMIT, INPUT_LIMIT) for y in y_hat]])
        mean_fixed = np.split(network(context), 2)[0]
        y = symbols[i] * float(ONE) + mean_fixed
        if path.residuals:
            lrp = path.residuals[i](np.concatenate([context, np.clip(y, -INPUT_LIMIT, INPUT_LIMIT)]))
            y = y + np.clip(lrp, -LRP_LIMIT * ONE, LRP_LIMIT * ONE)
        y_hat.append(y)
    return np.concatenate(y_hat)


@pytest.mark.parametrize("residuals", [True, False])
def test_y_hat_beyond_the_networks_clamp_is_kept_whole_and_the_networks_read_it_clamped(path, residuals):
    """code_slices keeps y_hat in the networks' own buffer, clamped for them; the values beyond the clamp (symbols of
    2**14 units and more, which no photo has but a file may hold) come back whole in the y_hat it returns."""
    from aec.exact import ExactLatentPath

    if not residuals:
        path = ExactLatentPath(path.h_s, path.params, [], path.y_model, path.z_model)
    rng = np.random.default_rng(5)
    z_symbols = rng.integers(-3, 4, (TINY.Z, 2, 3))
    symbols = [rng.integers(-5, 6, (width, 8, 12)).astype(np.int32) for width in path.widths]
    symbols[0][0, 1, 2], symbols[0][-1, 7, 11], symbols[-1][0, 0, 0] = 40_000, -(1 << 20), 1 << 15

    def code_slice(i, mean_fixed, index):
        return symbols[i]

    y_hat = path.code_slices(z_symbols, code_slice)
    assert np.array_equal(y_hat, _reference_slices(path, z_symbols, symbols))
    assert y_hat.max() > 1 << 22 and y_hat.min() < -(1 << 22)  # beyond the clamp, whole
