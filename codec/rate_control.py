"""Rate control: the quality that hits a target file size or PSNR, as `cwebp -size` and `cwebp -psnr` do.

Rate and PSNR grow with the quality (the model's gains), so the search is a bisection over the qualities the
header can carry (hundredths), guided by interpolation on the log of the measured value, and it stops as soon as
a probe lands within the tolerance. A target outside what the model reaches gives the nearest end of the range,
marked as not met.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

MAX_PROBES = 12
SIZE_TOLERANCE = 0.02  # relative, for a target size or bits per pixel
PSNR_TOLERANCE = 0.05  # dB


@dataclass(frozen=True)
class SearchResult:
    """The quality chosen, the value measured there, and whether it is within the tolerance of the target."""

    quality: float
    value: float
    met: bool
    probes: int


def search_quality(measure: Callable[[float], float], target: float, low: float, high: float, *,
                   relative: bool) -> SearchResult:
    """The quality in [low, high] (hundredths) whose measure is nearest to target, stopping once within tolerance.

    Args:
        measure: quality -> the value it gives (bytes, bpp or dB), increasing with the quality.
        relative: True for sizes (SIZE_TOLERANCE of the target), False for PSNR (PSNR_TOLERANCE dB).
    """
    seen: dict[float, float] = {}

    def probe(quality: float) -> float:
        quality = round(quality * 100) / 100
        if quality not in seen:
            seen[quality] = measure(quality)
        return seen[quality]

    def error(value: float) -> float:
        return abs(value - target) / target if relative else abs(value - target)

    tolerance = SIZE_TOLERANCE if relative else PSNR_TOLERANCE

    def nearest() -> SearchResult:
        quality = min(seen, key=lambda q: (error(seen[q]), q))
        return SearchResult(quality, seen[quality], error(seen[quality]) <= tolerance, len(seen))

    scale = math.log if relative else (lambda v: v)
    lo, hi = round(low * 100) / 100, round(high * 100) / 100
    value_lo, value_hi = probe(lo), probe(hi)
    if target <= value_lo or target >= value_hi:
        return nearest()
    while len(seen) < MAX_PROBES and hi - lo > 0.011:
        # Interpolate on the (log) value, kept away from the ends so that the bracket always shrinks.
        t = (scale(target) - scale(value_lo)) / (scale(value_hi) - scale(value_lo))
        quality = lo + min(max(t, 0.1), 0.9) * (hi - lo)
        quality = min(max(round(quality * 100) / 100, lo + 0.01), hi - 0.01)
        value = probe(quality)
        if error(value) <= tolerance:
            break
        if value < target:
            lo, value_lo = quality, value
        else:
            hi, value_hi = quality, value
    return nearest()
