"""Claims about aec.latent_codecs: the training pass of the channel-slice latent codec, in eval mode, is the coding
its exact path does (the same y_hat and the bits the encoder estimates), and what it compresses decompresses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import frozen_tiny_model


@pytest.fixture(scope="module")
def codec():
    return frozen_tiny_model(13).latent_codec


def test_the_eval_pass_gives_the_coders_y_hat_and_estimated_bits(codec):
    y = torch.randn(1, 16, 8, 12, generator=torch.Generator().manual_seed(1)).double()
    coded = codec.compress(y.float())
    y_hat = codec.decompress(coded.z_payload, coded.y_payload, 8, 12, coded.checksum)
    with torch.no_grad():
        rates = codec(y.float())
    assert np.allclose(y_hat.numpy(), rates.y_hat.double().numpy(), atol=1e-4)
    assert coded.estimated_bits == pytest.approx(float(rates.y_bits + rates.z_bits), rel=1e-4)


def test_training_rounds_with_noise_for_the_rate_and_straight_through_for_the_rest(codec):
    y = torch.randn(2, 16, 8, 8, generator=torch.Generator().manual_seed(2), requires_grad=True)
    codec.train()
    try:
        rates = codec(y)
    finally:
        codec.eval()
    (rates.y_hat.sum() + rates.y_bits.sum()).backward()
    assert rates.y_bits.shape == rates.z_bits.shape == (2,) and y.grad.abs().sum() > 0
