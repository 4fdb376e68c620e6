"""Claims about aec.entropy_models and the coding of their tables: each model prices its latents as the coder
spends bits on them."""

import numpy as np
import pytest
import torch

from aec import InputError
from aec.bitstream.entropy import SymbolDecoder, SymbolEncoder
from aec.encoder import GaussianBits, categorical_bits, check_symbols
from aec.entropy_models import FactorizedPrior, GaussianIndexedEntropyModel
from aec.exact import ONE, coding_index


@pytest.fixture
def gaussian():
    return GaussianIndexedEntropyModel(64, 0.11, 256.0)


def test_scale_grid_ends_at_the_configured_scales_and_is_log_spaced(gaussian):
    table = gaussian.scale_table
    assert float(table[0]) == 0.11 and float(table[-1]) == 256.0
    assert gaussian.index_of(0.11) == pytest.approx(0) and gaussian.index_of(256.0) == pytest.approx(63)
    ratios = table[1:] / table[:-1]
    assert torch.allclose(ratios, ratios[0].expand_as(ratios), rtol=1e-12)


def test_coding_index_rounds_fixed_point_half_up_and_clamps(gaussian):
    fixed = np.array([-5.0 * ONE, 0.0, ONE / 2 - 1, ONE / 2, 2.5 * ONE, 70.0 * ONE])
    assert coding_index(fixed, gaussian.levels).tolist() == [0, 0, 0, 1, 3, 63]


def test_training_scale_is_the_table_entry_of_the_rounded_index(gaussian):
    index = torch.tensor([-3.0, 0.2, 10.6, 80.0], requires_grad=True)
    sigma = gaussian.training_scale(index)
    expected = gaussian.scale_table[[0, 0, 11, 63]].float()
    assert torch.allclose(sigma, expected, rtol=1e-5)
    sigma.sum().backward()
    # straight-through rounding and clamping: an index outside the table still learns its way back
    assert (index.grad > 0).all()


def test_gaussian_round_trip_and_its_bit_estimate_matches_the_payload_and_trainings_price(gaussian):
    torch.manual_seed(0)
    index = torch.randint(5, 40, (1, 8, 16, 16))
    symbols = torch.floor(torch.randn(1, 8, 16, 16).double() * gaussian.scale_table[index] + 0.5)
    symbols[0, 0, 0, :2] = torch.tensor([90.0, -300.0])  # beyond the tabulated magnitudes: priced one by one
    table = gaussian.scale_table.numpy()
    encoder = SymbolEncoder(table)
    encoder.encode_gaussian(symbols.numpy().astype(np.int32), index.numpy())
    payload = encoder.finish()
    decoded = SymbolDecoder(payload, table).decode_gaussian(index.numpy())
    assert np.array_equal(decoded, symbols.numpy().astype(np.int32))
    estimate = GaussianBits(table)(symbols.numpy(), index.numpy())
    assert abs(8 * len(payload) - estimate) <= 0.02 * estimate + 64
    trained = float(-torch.log2(gaussian.likelihood(symbols, gaussian.scale_table[index])).sum())
    assert estimate == pytest.approx(trained, rel=1e-9)


def test_eval_quantization_rounds_half_up_and_training_adds_bounded_noise(gaussian):
    values = torch.tensor([-1.5, -0.5, 0.49, 0.5, 2.5])
    assert gaussian.quantize(values, noisy=False).tolist() == [-1.0, 0.0, 0.0, 1.0, 3.0]
    noisy = gaussian.quantize(torch.zeros(10_000), noisy=True)
    assert noisy.abs().max() <= 0.5 and noisy.std() > 0.25


@pytest.mark.parametrize("value", [2.0**31, np.nan, -np.inf])
def test_symbols_beyond_the_numeric_range_are_refused(value):
    with pytest.raises(InputError, match="numeric range"):
        check_symbols(np.array([[1.0, value]]))


def test_factorized_prior_codes_z_under_its_frozen_tables_and_prices_it_so():
    torch.manual_seed(1)
    prior = FactorizedPrior(4, support=8)
    prior.freeze()
    assert prior.counts.sum(dim=1).eq(1 << 16).all()
    z = torch.randint(-5, 6, (4, 6 * 7)).int().numpy()
    z[0, 0] = 40  # beyond the support: escape-coded
    encoder = SymbolEncoder()
    encoder.encode_categorical(z, prior.tables)
    payload = encoder.finish()
    decoder = SymbolDecoder(payload)
    assert np.array_equal(decoder.decode_categorical(prior.tables, 6 * 7), z)
    decoder.finish()
    estimate = categorical_bits(z, prior.tables)
    assert abs(8 * len(payload) - estimate) <= 0.05 * estimate + 64
    inside = z.copy()
    inside[0, 0] = 0
    with torch.no_grad():  # the training's price of the density that the tables freeze
        trained = float(-torch.log2(prior.likelihood(torch.from_numpy(inside).double().view(1, 4, 6, 7))).sum())
    assert categorical_bits(inside, prior.tables) == pytest.approx(trained, rel=0.01)


def test_factorized_prior_rebuilds_its_coding_tables_when_new_counts_load():
    torch.manual_seed(2)
    first, second = FactorizedPrior(3, 4), FactorizedPrior(3, 4)
    with torch.no_grad():
        second.biases[0].add_(1.0)
    first.freeze()
    second.freeze()
    old_tables = first.tables
    first.load_state_dict(second.state_dict())
    assert first.tables is not old_tables
    assert np.array_equal(first.tables.counts, second.tables.counts)
