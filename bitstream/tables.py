"""Build-time probability tables: the scale grid and integer pmf counts."""

from __future__ import annotations

import decimal
import math

import numpy as np

__all__ = ["scale_table", "pmf_to_counts", "MAX_PRECISION"]

# constriction codes with 24-bit probabilities; counts finer than that would be rounded again.
MAX_PRECISION = 24


def scale_table(levels: int = 64, low: float = 0.11, high: float = 256.0) -> np.ndarray:
    """Return `levels` log-spaced standard deviations from `low` to `high` (float64)."""
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2:
        raise ValueError(f"levels must be an int >= 2, got {levels!r}")
    low, high = float(low), float(high)
    if not (math.isfinite(low) and math.isfinite(high) and 0.0 < low < high):
        raise ValueError(f"need 0 < low < high (finite), got low={low!r}, high={high!r}")
    # decimal's exp/ln are correctly rounded, so the table is bit-identical on every machine,
    # unlike np.exp/np.log whose last bit depends on the SIMD code path. Models still store the
    # table in their file; this only makes rebuilding it reproducible.
    context = decimal.Context(prec=40, rounding=decimal.ROUND_HALF_EVEN)
    log_low = context.ln(decimal.Decimal(low))
    step = context.divide(context.ln(decimal.Decimal(high)) - log_low, levels - 1)
    values = [float(context.exp(log_low + step * i)) for i in range(levels)]
    values[0], values[-1] = low, high
    return np.array(values, dtype=np.float64)


def pmf_to_counts(pmf: np.ndarray, precision: int = 16) -> np.ndarray:
    """Quantise rows of a (C, K) pmf to int32 counts >= 1 that sum to exactly 2**precision."""
    if isinstance(precision, bool) or not isinstance(precision, int):
        raise ValueError(f"precision must be an int, got {precision!r}")
    if not 1 <= precision <= MAX_PRECISION:
        raise ValueError(f"precision must be in [1, {MAX_PRECISION}], got {precision}")
    pmf = np.asarray(pmf)
    if pmf.ndim != 2 or pmf.shape[1] == 0:
        raise ValueError(f"pmf must have shape (C, K) with K >= 1, got {pmf.shape}")
    if not (np.issubdtype(pmf.dtype, np.floating) or np.issubdtype(pmf.dtype, np.integer)):
        raise ValueError(f"pmf must be a real array, got dtype {pmf.dtype}")
    pmf = pmf.astype(np.float64)
    channels, size = pmf.shape
    total_count = 1 << precision
    if size > total_count:
        raise ValueError(f"{size} bins do not fit {precision}-bit counts (each bin needs >= 1)")
    if not np.all(np.isfinite(pmf)) or np.any(pmf < 0):
        raise ValueError("pmf must be finite and non-negative")
    # math.fsum is exactly rounded, so the row totals do not depend on summation order.
    totals = np.array([math.fsum(row) for row in pmf.tolist()], dtype=np.float64)
    if channels and not np.all(totals > 0):
        raise ValueError(f"pmf rows must have a positive sum; rows {np.flatnonzero(totals <= 0).tolist()} do not")

    # Every bin gets 1 (so any symbol stays codable); the rest is shared out in proportion.
    # Only +, *, / and floor are used: IEEE rounds them exactly, the same on every machine.
    spare = float(total_count - size)
    ideal = pmf * spare / totals[:, None]
    floors = np.floor(ideal)
    fractions = ideal - floors
    counts = floors.astype(np.int64) + 1
    deficit = total_count - counts.sum(axis=1)

    # Hand the leftover units to the largest fractional parts; ties go to the lower index.
    order = np.argsort(-fractions, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(size)[None, :].repeat(channels, axis=0), axis=1)
    counts += ranks < np.maximum(deficit, 0)[:, None]

    # Float rounding can leave a row a unit off; settle it on the largest counts (lowest index first).
    remaining = total_count - counts.sum(axis=1)
    for row in np.flatnonzero(remaining != 0):
        step = 1 if remaining[row] > 0 else -1
        for _ in range(abs(int(remaining[row]))):
            counts[row, int(np.argmax(counts[row]))] += step
    return counts.astype(np.int32)


# --------------------------------------------------------------------------- format 2.0: tables of the y symbols
# Each is built by IEEE-754 double arithmetic of +, -, *, / and floor alone, each operation on its own (no fused
# multiply-add, no library exp), whose results are correctly rounded and so bit-identical on every machine; sums of
# many terms are taken in a fixed order. docs/bitstream.md ("Indexed blocks") is this code in words.
INDEXED_PRECISION = 24  # the counts of an indexed table sum to 2**24
INDEXED_SPREAD = 8  # a table's symbols span -r..r with r = min(bound, ceil(8 sigma) + 1); the rest is the escape bin
ESCAPE_SHARE = 2.0 ** -12  # the escape bin's mass, relative to the rest's
# Every escape bin keeps at least floor((2**24 - K) / 4097) + 1 >= 4079 counts (pmf_to_counts, K <= 2**16 bins), so no
# bin of an indexed table holds more than 2**24 - 4079: a margin below that.
INDEXED_LIKELIEST = 1.0 - 4000 * 2.0 ** -24
_LN2_HI = 6.93147180369123816490e-01  # fdlibm's split of log(2): LN2_HI * k is exact for k < 2**20
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e+00
_EXP_TERMS = tuple(1.0 / math.factorial(i) for i in range(14))  # Taylor's coefficients of exp, 1/0! .. 1/13!


def exp_negative(values: np.ndarray) -> np.ndarray:
    """exp(-a) for float64 a >= 0, to about 1e-15 relative, bit-identical everywhere: a = k log 2 + t with
    |t| <= log(2) / 2, exp(-t) by its Taylor polynomial of degree 13 (Horner), times 2**-k (exact)."""
    a = np.asarray(values, dtype=np.float64)
    k = np.floor(a * _INV_LN2 + 0.5)
    t = (a - k * _LN2_HI) - k * _LN2_LO
    minus_t = -t
    result = np.full_like(a, _EXP_TERMS[-1])
    for coefficient in _EXP_TERMS[-2::-1]:
        result = result * minus_t + coefficient
    return np.ldexp(result, -np.minimum(k, 2000.0).astype(np.int64))


def indexed_radius(sigma: float, bound: int) -> int:
    """The largest magnitude an indexed table of standard deviation ``sigma`` codes without escape."""
    return int(min(bound, math.ceil(INDEXED_SPREAD * sigma) + 1, (1 << 15) - 1))


def indexed_counts(sigma: float, bound: int) -> tuple[int, np.ndarray]:
    """(r, counts): the integer table of symbols -r..r (index s + r) and the escape bin (index 2r + 1) under a
    zero-mean Gaussian of standard deviation ``sigma``, 24-bit counts (``pmf_to_counts``).

    Bin s holds the Gaussian's mass on [s - 1/2, s + 1/2] by Simpson's rule on n sub-intervals of width 1/n,
    n = 2 max(1, ceil(2 / sigma)), up to a common factor; the escape bin holds ESCAPE_SHARE times their sum."""
    sigma = float(sigma)
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be finite and > 0, got {sigma!r}")
    radius = indexed_radius(sigma, bound)
    steps = 2 * max(1, math.ceil(2.0 / sigma))
    bins = 2 * radius + 1
    # Points -r - 1/2 + i/n, i = 0 .. bins n; the density at t up to its constant: exp(-(t / sigma)^2 / 2).
    points = (-radius - 0.5) + np.arange(bins * steps + 1, dtype=np.float64) / steps
    x = points / sigma
    density = exp_negative(x * x * 0.5)
    # Simpson's weights 1, 4, 2, 4, ..., 4, 1 within each bin, added left to right.
    ends = np.arange(bins) * steps
    mass = density[ends]
    for i in range(1, steps + 1):
        weight = 1.0 if i == steps else (4.0 if i % 2 else 2.0)
        mass = mass + weight * density[ends + i]
    # The escape bin holds 2**-12 of the total: the tails beyond 8 sigma need far less, but then no symbol is
    # likelier than 1 - 2**-12 (about as with format 1's Gaussians), so every symbol costs at least 3.5e-4 bits and a
    # short stream cannot declare an unbounded number of them.
    pmf = np.append(mass, math.fsum(mass.tolist()) * ESCAPE_SHARE)
    return radius, pmf_to_counts(pmf[None], INDEXED_PRECISION)[0]
