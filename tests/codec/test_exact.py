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
