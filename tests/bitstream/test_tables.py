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


# ----------------------------------------------------------------------------------------------------------
# Format 2.0's indexed tables: built by exact arithmetic, the same bits on every machine


def test_exp_negative_is_exp_to_a_few_ulps():
    from aec.bitstream.tables import exp_negative

    a = np.concatenate([np.linspace(0.0, 50.0, 20001), np.linspace(50.0, 700.0, 2001)])
    np.testing.assert_allclose(exp_negative(a), np.exp(-a), rtol=5e-16, atol=0)


def test_indexed_tables_are_the_gaussians_mass_per_bin():
    import math

    from aec.bitstream.tables import indexed_counts

    for sigma in scale_table()[::7]:
        radius, counts = indexed_counts(sigma, 2047)
        assert counts.dtype == np.int32 and counts.shape == (2 * radius + 2,) and counts.sum() == 2**24
        assert counts.min() >= 1 and radius == min(2047, math.ceil(8 * sigma) + 1)
        s = np.arange(-radius, radius + 1)
        mass = [0.5 * (math.erfc((k - 0.5) / (sigma * math.sqrt(2))) - math.erfc((k + 0.5) / (sigma * math.sqrt(2))))
                for k in s]
        # Bits lost to the tables (relative entropy), per symbol: what one count per bin and the escape share cost.
        mass = np.array(mass)
        kept = mass > 0
        loss = float(np.sum(mass[kept] * np.log2(mass[kept] / (counts[:-1][kept] / 2**24))))
        assert 0 <= loss < 5e-4, (sigma, loss)
        assert counts[-1] >= 4079  # the escape bin's share: no symbol is likelier than 1 - 2**-12 or so


def test_indexed_tables_match_their_golden_checksum():
    """The tables are part of format 2.0: any change to them (or to how they are built) breaks every 2.0 file."""
    import zlib

    from aec.bitstream.tables import indexed_counts

    crc = 0
    for sigma in scale_table():
        radius, counts = indexed_counts(sigma, 2047)
        crc = zlib.crc32(np.int32(radius).tobytes() + counts.astype("<i4").tobytes(), crc)
    assert crc == 0x12019BE8


@pytest.mark.parametrize("sigma", [0.0, -1.0, float("nan"), float("inf")])
def test_indexed_counts_refuse_a_degenerate_sigma(sigma):
    from aec.bitstream.tables import indexed_counts

    with pytest.raises(ValueError):
        indexed_counts(sigma, 2047)


def test_a_huge_sigma_or_bound_keeps_a_table_bounded():
    from aec.bitstream.tables import indexed_counts

    radius, counts = indexed_counts(1e300, 1 << 20)
    assert radius == (1 << 15) - 1 and counts.size == 1 << 16
