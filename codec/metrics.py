"""Distortion measures shared by the trainer and the benchmarks."""

from __future__ import annotations

import math


def psnr(mse: float, peak: float = 1.0) -> float:
    """PSNR in dB of a mean squared error, for pixel values whose largest is PEAK; inf when the error is zero."""
    return math.inf if mse == 0 else 10.0 * math.log10(peak**2 / mse)
