"""Claims about aec.entropy_models: each numpy model rounds, indexes and codes its latents and prices them as the
coder spends bits on them and as its torch twin prices them in training; the module needs no torch to code."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from aec import InputError
from aec.entropy_models import (FactorizedPrior, GaussianIndexedEntropyModel, IndexedGaussian, check_symbols)


@pytest.fixture
def gaussian():
    return GaussianIndexedEntropyModel(64, 0.11, 256.0)


def test_scale_grid_ends_at_the_configured_scales_and_is_log_spaced(gaussian):
    table = gaussian.scale_table
    assert float(table[0]) == 0.11 and float(table[-1]) == 256.0
    assert gaussian.index_of(0.11) == pytest.approx(0) and gaussian.index_of(256.0) == pytest.approx(63)
    ratios = table[1:] / table[:-1]
    assert torch.allclose(ratios, ratios[0].expand_as(ratios), rtol=1e-12)


def test_the_coding_index_rounds_the_predicted_index_half_up_and_clamps_it_to_the_table(gaussian):
    predicted = np.array([-5.0, 0.0, 0.5 - 1 / 256, 0.5, 2.5, 70.0])
    assert gaussian.coding.index(predicted).tolist() == [0, 0, 0, 1, 3, 63]


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
    model = gaussian.coding
    mean = np.random.default_rng(0).uniform(-3, 3, symbols.shape)
    stream = model.encoder()
    coded = model.encode(stream, symbols.numpy() + mean + 0.3, mean, index.numpy())  # rounds y - mean half up
    assert np.array_equal(coded, symbols.numpy().astype(np.int32))
    payload = stream.finish()
    decoded = model.decode(model.decoder(payload, name="the test data"), index.numpy())
    assert np.array_equal(decoded, coded)
    estimate = model.bits(symbols.numpy(), index.numpy())
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
    payload, coded = prior.coding.encode(z + 0.4)  # rounded half up
    assert np.array_equal(coded, z)
    assert np.array_equal(prior.coding.decode(payload, 6 * 7, name="the test data"), z)
    estimate = prior.coding.bits(z)
    assert abs(8 * len(payload) - estimate) <= 0.05 * estimate + 64
    inside = z.copy()
    inside[0, 0] = 0
    with torch.no_grad():  # the training's price of the density that the tables freeze
        trained = float(-torch.log2(prior.likelihood(torch.from_numpy(inside).double().view(1, 4, 6, 7))).sum())
    assert prior.coding.bits(inside) == pytest.approx(trained, rel=0.01)


def test_factorized_prior_rebuilds_its_coding_tables_when_new_counts_load():
    torch.manual_seed(2)
    first, second = FactorizedPrior(3, 4), FactorizedPrior(3, 4)
    with torch.no_grad():
        second.biases[0].add_(1.0)
    first.freeze()
    second.freeze()
    old_coding = first.coding
    first.load_state_dict(second.state_dict())
    assert first.coding is not old_coding
    assert np.array_equal(first.coding.tables.counts, second.coding.tables.counts)


def test_coding_imports_no_torch_and_the_torch_twins_are_defined_when_asked_for():
    script = ("import sys, numpy as np; from aec.entropy_models import IndexedGaussian; "
              "model = IndexedGaussian(np.geomspace(0.11, 256, 64)); stream = model.encoder(); "
              "model.encode(stream, np.ones(3), np.zeros(3), np.zeros(3, int)); stream.finish(); "
              "assert 'torch' not in sys.modules, 'torch was imported'; "
              "from aec.entropy_models import FactorizedPrior; assert 'torch' in sys.modules")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


def test_a_torch_twin_pickles_as_a_module_level_class():
    prior = FactorizedPrior(2, 3)
    assert FactorizedPrior.__module__ == "aec.entropy_models" and FactorizedPrior.__qualname__ == "FactorizedPrior"
    copy = pickle.loads(pickle.dumps(prior))
    assert type(copy) is FactorizedPrior and torch.equal(copy.counts, prior.counts)
