import math

import numpy as np
import pytest

pytest.importorskip("bjontegaard", reason="the bench extra is not installed: pip install -e '.[bench]'")

from benchmarks import bd  # noqa: E402

RATE = [0.12, 0.21, 0.35, 0.58, 0.94, 1.52]
PSNR = [27.1, 28.9, 30.8, 32.9, 35.0, 37.3]


@pytest.mark.parametrize("method", bd.METHODS)
def test_curve_against_itself_is_zero(method):
    assert bd.bd_rate(RATE, PSNR, RATE, PSNR, method).value == pytest.approx(0.0, abs=1e-12)
    assert bd.bd_quality(RATE, PSNR, RATE, PSNR, method).value == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("method", bd.METHODS)
@pytest.mark.parametrize("factor", [0.5, 0.8, 1.25, 2.0])
def test_every_rate_scaled_by_a_constant_gives_that_bd_rate(method, factor):
    result = bd.bd_rate(RATE, PSNR, [r * factor for r in RATE], PSNR, method)
    assert result.value == pytest.approx((factor - 1) * 100, abs=1e-9)
    assert result.overlap == pytest.approx((PSNR[0], PSNR[-1]))
    assert result.overlap_fraction == pytest.approx(1.0)


@pytest.mark.parametrize("factor", [0.8, 1.25])
def test_bd_psnr_of_a_log_linear_curve_with_scaled_rates(factor):
    # PSNR = 20 + 10 log10(rate): scaling every rate by k shifts the curve down by 10 log10(k) dB.
    quality = [20 + 10 * math.log10(r) for r in RATE]
    result = bd.bd_quality(RATE, quality, [r * factor for r in RATE], quality)
    assert result.value == pytest.approx(-10 * math.log10(factor), abs=1e-9)
    assert result.overlap == pytest.approx((max(RATE[0], RATE[0] * factor), min(RATE[-1], RATE[-1] * factor)))


def test_curves_with_different_point_counts_and_orders_compare():
    shuffled = np.random.default_rng(0).permutation(len(RATE))
    test_rate = [RATE[i] * 0.9 for i in shuffled][:-1]
    test_psnr = [PSNR[i] for i in shuffled][:-1]
    ordered = sorted(zip(test_rate, test_psnr))
    expected = bd.bd_rate(RATE, PSNR, [r for r, _ in ordered], [q for _, q in ordered]).value
    assert bd.bd_rate(RATE, PSNR, test_rate, test_psnr).value == pytest.approx(expected)
    assert expected < 0  # fewer bits at equal quality


def test_non_monotonic_curve_is_not_available():
    bumpy = PSNR[:2] + [PSNR[3], PSNR[2]] + PSNR[4:]
    result = bd.bd_rate(RATE, PSNR, RATE, bumpy)
    assert result.value is None
    assert "increasing" in result.reason
    assert result.format(" %").startswith("n/a (")


def test_curves_that_do_not_overlap_are_not_available():
    high = [q + 20 for q in PSNR]
    assert bd.bd_rate(RATE, PSNR, RATE, high).reason == "quality ranges do not overlap"
    assert bd.bd_quality(RATE, PSNR, [r * 100 for r in RATE], PSNR).reason == "rate ranges do not overlap"


def test_a_curve_needs_two_points():
    result = bd.bd_rate(RATE, PSNR, [0.5], [31.0])
    assert result.value is None
    assert "needs 2" in result.reason


def test_lossless_and_missing_points_are_ignored():
    result = bd.bd_rate(RATE + [12.0], PSNR + [math.inf], RATE + [0.7], PSNR + [math.nan])
    assert result.value == pytest.approx(0.0, abs=1e-12)


def test_repeated_points_count_once():
    assert bd.bd_rate(RATE + RATE[:2], PSNR + PSNR[:2], RATE, PSNR).value == pytest.approx(0.0, abs=1e-12)


def test_unknown_interpolation_is_an_error():
    with pytest.raises(ValueError, match="pchip"):
        bd.bd_rate(RATE, PSNR, RATE, PSNR, method="cubic")


def test_format_signs_and_units():
    assert bd.BDResult(-12.345).format(" %") == "-12.3 %"
    assert bd.BDResult(0.5).format(" dB", 2) == "+0.50 dB"


def test_compare_runs_reads_one_codecs_curve_from_two_rd_runs(tmp_path):
    header = "codec,quality,bpp,psnr\n"
    (tmp_path / "old.csv").write_text(header + "".join(f"aec,{q},{r},{p}\n" for q, (r, p) in enumerate(zip(RATE, PSNR)))
                                      + "jpeg420,50,9.0,20.0\n")
    faster = [r * 0.9 for r in RATE]
    (tmp_path / "new.csv").write_text(header + "".join(f"aec,{q},{r},{p}\n" for q, (r, p) in enumerate(zip(faster, PSNR))))
    rate, quality = bd.compare_runs(str(tmp_path / "old.csv"), str(tmp_path / "new.csv"))
    assert rate.value == pytest.approx(-10.0, abs=1e-6) and quality.value > 0
    with pytest.raises(SystemExit, match="no 'webp' rows"):
        bd.compare_runs(str(tmp_path / "old.csv"), str(tmp_path / "new.csv"), codec="webp")
