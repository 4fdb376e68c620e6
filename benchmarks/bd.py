"""Bjøntegaard deltas between two rate-distortion curves, through the `bjontegaard` package.

BD-rate is the mean relative rate difference of the test curve against the anchor at equal quality, averaged
over the quality range both curves cover (negative: the test codec needs fewer bits). BD-PSNR (more generally,
BD-quality) is the mean quality difference at equal rate over the rate range both cover. Both interpolate
log10(rate) piecewise with PCHIP by default, the variant the video-coding standards recommend (Akima is the
other choice). Curves that cannot be compared (too few points, quality not increasing with rate, no overlap)
give a result with no value and a reason, never an exception.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import bjontegaard
import numpy as np

METHODS = ("pchip", "akima")


@dataclass(frozen=True)
class BDResult:
    """One Bjøntegaard delta: `value` (percent for BD-rate, quality units for BD-quality) or None with a `reason`.

    `overlap` is the interval the average is taken over (quality for BD-rate, bpp for BD-quality), and
    `overlap_fraction` its share of the union of both curves' ranges (on the log scale for rate).
    """

    value: float | None
    reason: str = ""
    overlap: tuple[float, float] | None = None
    overlap_fraction: float | None = None

    def format(self, unit: str, digits: int = 1) -> str:
        """The value with its sign and unit, or 'n/a (reason)'."""
        if self.value is None:
            return f"n/a ({self.reason})"
        return f"{self.value:+.{digits}f}{unit}"


def _curve(rate: Sequence[float], quality: Sequence[float], name: str) -> tuple[np.ndarray, np.ndarray] | str:
    """Finite, positive-rate points sorted by rate with exact repeats removed, or why the curve is unusable."""
    points = sorted(
        {(float(r), float(q)) for r, q in zip(rate, quality) if math.isfinite(r) and math.isfinite(q) and r > 0}
    )
    if len(points) < 2:
        return f"{name} curve has {len(points)} usable point(s), needs 2"
    rates, qualities = map(np.asarray, zip(*points))
    if np.any(np.diff(rates) <= 0) or np.any(np.diff(qualities) <= 0):
        return f"{name} curve is not strictly increasing (quality must rise with rate)"
    return rates, qualities


def _overlap(low_a: float, high_a: float, low_b: float, high_b: float) -> tuple[tuple[float, float], float] | None:
    low, high = float(max(low_a, low_b)), float(min(high_a, high_b))
    if high <= low:
        return None
    return (low, high), (high - low) / float(max(high_a, high_b) - min(low_a, low_b))


def _delta(anchor_rate, anchor_quality, test_rate, test_quality, method: str, on_rate: bool) -> BDResult:
    if method not in METHODS:
        raise ValueError(f"unknown interpolation {method!r}; choose from {', '.join(METHODS)}")
    anchor = _curve(anchor_rate, anchor_quality, "anchor")
    test = _curve(test_rate, test_quality, "test")
    for curve in (anchor, test):
        if isinstance(curve, str):
            return BDResult(None, curve)
    (a_rate, a_quality), (t_rate, t_quality) = anchor, test
    if on_rate:
        overlap = _overlap(a_quality[0], a_quality[-1], t_quality[0], t_quality[-1])
        if overlap is None:
            return BDResult(None, "quality ranges do not overlap")
        interval, fraction = overlap
    else:
        overlap = _overlap(*np.log10([a_rate[0], a_rate[-1], t_rate[0], t_rate[-1]]))
        if overlap is None:
            return BDResult(None, "rate ranges do not overlap")
        (low, high), fraction = overlap
        interval = (10.0**low, 10.0**high)
    function = bjontegaard.bd_rate if on_rate else bjontegaard.bd_psnr
    with warnings.catch_warnings():
        # The package warns below its own overlap threshold; the overlap is reported with the result instead.
        warnings.simplefilter("ignore")
        value = function(a_rate, a_quality, t_rate, t_quality, method=method, require_matching_points=False, min_overlap=0)
    if not math.isfinite(value):
        return BDResult(None, "interpolation failed", interval, fraction)
    return BDResult(float(value), "", interval, fraction)


def bd_rate(
    anchor_rate: Sequence[float],
    anchor_quality: Sequence[float],
    test_rate: Sequence[float],
    test_quality: Sequence[float],
    method: str = "pchip",
) -> BDResult:
    """BD-rate of the test curve against the anchor, in percent (negative: fewer bits at equal quality)."""
    return _delta(anchor_rate, anchor_quality, test_rate, test_quality, method, on_rate=True)


def bd_quality(
    anchor_rate: Sequence[float],
    anchor_quality: Sequence[float],
    test_rate: Sequence[float],
    test_quality: Sequence[float],
    method: str = "pchip",
) -> BDResult:
    """BD-PSNR (or BD of any quality in dB) of the test curve against the anchor (positive: better at equal rate)."""
    return _delta(anchor_rate, anchor_quality, test_rate, test_quality, method, on_rate=False)


def compare_runs(anchor_csv: str, test_csv: str, codec: str = "aec") -> tuple[BDResult, BDResult]:
    """BD-rate and BD-PSNR of one codec's curve in a `benchmarks/rd.py` run (its curves.csv) against the same codec's
    curve in another run: how a model release compares with the one before it."""
    import csv

    def curve(path: str) -> tuple[list[float], list[float]]:
        with open(path, newline="") as handle:
            rows = sorted((float(r["bpp"]), float(r["psnr"])) for r in csv.DictReader(handle) if r["codec"] == codec)
        if not rows:
            raise SystemExit(f"error: no {codec!r} rows in {path}")
        return [bpp for bpp, _ in rows], [psnr for _, psnr in rows]

    anchor, test = curve(anchor_csv), curve(test_csv)
    return bd_rate(*anchor, *test), bd_quality(*anchor, *test)


if __name__ == "__main__":
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python benchmarks/bd.py", description=compare_runs.__doc__)
    parser.add_argument("anchor", help="the earlier run's curves.csv (e.g. from `git show REV:benchmarks/results/curves.csv`)")
    parser.add_argument("test", help="the later run's curves.csv")
    parser.add_argument("--codec", default="aec")
    args = parser.parse_args()
    rate, quality = compare_runs(args.anchor, args.test, args.codec)
    print(f"BD-rate {rate.value:+.2f} %  BD-PSNR {quality.value:+.3f} dB" if rate.value is not None
          and quality.value is not None else f"not comparable: {rate.reason or quality.reason}")
    sys.exit(0)
