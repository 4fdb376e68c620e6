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
