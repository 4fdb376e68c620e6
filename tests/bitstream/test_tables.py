"""Claims about bitstream.tables: the scale grid and integer pmf counts."""

import numpy as np
import pytest

from aec.bitstream import pmf_to_counts, scale_table


def test_scale_table_is_64_log_spaced_stds_from_0_11_to_256():
    table = scale_table()
    assert table.dtype == np.float64 and table.shape == (64,)
    assert table[0] == 0.11 and table[-1] == 256.0
    ratios = table[1:] / table[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-13)


def test_scale_table_matches_the_compressai_grid_to_rounding():
    reference = np.exp(np.linspace(np.log(0.11), np.log(256.0), 64))
    np.testing.assert_allclose(scale_table(), reference, rtol=1e-14, atol=0)


def test_scale_table_is_bit_identical_on_every_call():
    assert scale_table(16, 0.5, 8.0).tobytes() == scale_table(16, 0.5, 8.0).tobytes()


@pytest.mark.parametrize("args", [(1, 0.11, 256.0), (64, 0.0, 1.0), (64, 2.0, 1.0), (64, 0.1, float("inf"))])
def test_scale_table_rejects_a_degenerate_grid(args):
    with pytest.raises(ValueError):
        scale_table(*args)


@pytest.mark.parametrize("precision", [8, 12, 16, 24])
def test_pmf_to_counts_rows_sum_to_exactly_two_to_the_precision(precision):
    pmf = np.random.default_rng(1).random((32, 100)) ** 6
    counts = pmf_to_counts(pmf, precision)
    assert counts.dtype == np.int32 and counts.shape == pmf.shape
    assert (counts.sum(axis=1) == 1 << precision).all()


def test_pmf_to_counts_gives_every_bin_at_least_one_even_with_zero_probability():
    pmf = np.zeros((3, 50))
    pmf[:, 7] = 1.0
    pmf[1, :] += 1e-300
    counts = pmf_to_counts(pmf)
    assert counts.min() == 1
    assert (counts[:, 7] == (1 << 16) - 49).all()


def test_pmf_to_counts_tracks_the_pmf():
    pmf = np.random.default_rng(2).dirichlet(np.ones(40), size=8)
    counts = pmf_to_counts(pmf, 16)
    np.testing.assert_allclose(counts / 2**16, pmf, atol=50 / 2**16)


def test_pmf_to_counts_does_not_need_normalised_rows():
    pmf = np.array([[1.0, 3.0, 4.0], [10.0, 30.0, 40.0], [0.125, 0.375, 0.5]])
    counts = pmf_to_counts(pmf, 10)
    assert (counts == counts[0]).all()


def test_pmf_to_counts_is_deterministic_and_matches_the_golden_counts():
    pmf = np.array([[0.5, 0.25, 0.125, 0.125, 0.0], [0.1, 0.2, 0.3, 0.4, 1e-9]])
    # Worked by hand: 1 per bin, floor(p * 251), then the 2 (resp. 1) spare units to the largest fractions.
    expected = [[127, 64, 32, 32, 1], [26, 51, 76, 102, 1]]
    assert pmf_to_counts(pmf, 8).tolist() == expected
    assert pmf_to_counts(pmf, 8).tobytes() == pmf_to_counts(pmf.copy(), 8).tobytes()


@pytest.mark.parametrize(
    "pmf, precision",
    [
        (np.array([[0.5, -0.1, 0.6]]), 16),
        (np.array([[0.5, np.nan]]), 16),
        (np.zeros((2, 3)), 16),
        (np.ones((2, 300)), 8),
        (np.ones(5), 16),
        (np.ones((1, 3)), 25),
    ],
)
def test_pmf_to_counts_rejects_unusable_input(pmf, precision):
    with pytest.raises(ValueError):
        pmf_to_counts(pmf, precision)
