"""Rate and distortion metrics on 8-bit RGB images, computed the way the learned-compression literature does.

* Rate: bits per pixel from the real bytes written, container header included.
* PSNR: on all three RGB channels at once, data range 255, one value per image (the caller averages over images).
* MS-SSIM: Wang, Simoncelli and Bovik, "Multi-scale structural similarity for image quality assessment"
  (Asilomar 2003): 5 scales, 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, the 2003 scale weights,
  computed on each RGB channel with data range 255 and averaged over the channels. The details follow
  pytorch_msssim, which CompressAI uses for its published curves: "valid" filtering (no padding), negative
  contrast-structure terms clipped to zero, and 2x2 average pooling between scales that pads an odd side with a
  zero row or column in front. The MS-SSIM is ``aec.metrics.ms_ssim`` (numpy only), which `aec compress -v`
  reports too.
"""

from __future__ import annotations

import math

import numpy as np

from aec.metrics import (DATA_RANGE, MS_SSIM_MIN_SIDE, MS_SSIM_WEIGHTS, WINDOW_SIGMA,  # noqa: F401
                         WINDOW_SIZE, gaussian_window)
from aec.metrics import ms_ssim as _ms_ssim
from aec.metrics import psnr as psnr_of_mse


def bits_per_pixel(num_bytes: int, height: int, width: int) -> float:
    """Bits per pixel of a file of `num_bytes` bytes for an image of height x width pixels."""
    return 8.0 * num_bytes / (height * width)


def _check_pair(reference: np.ndarray, decoded: np.ndarray) -> None:
    if reference.shape != decoded.shape:
        raise ValueError(f"image shapes differ: reference {reference.shape}, decoded {decoded.shape}")
    if reference.ndim != 3 or reference.shape[2] != 3:
        raise ValueError(f"expected H x W x 3 RGB arrays, got shape {reference.shape}")


def psnr(reference: np.ndarray, decoded: np.ndarray) -> float:
    """RGB PSNR in dB of two H x W x 3 uint8 images; inf when they are identical."""
    _check_pair(reference, decoded)
    error = reference.astype(np.float64) - decoded.astype(np.float64)
    return psnr_of_mse(float(np.mean(error * error)), DATA_RANGE)


def ms_ssim(reference: np.ndarray, decoded: np.ndarray) -> float:
    """MS-SSIM of two H x W x 3 uint8 images, per RGB channel then averaged; 1.0 when identical (``aec.metrics``).

    Raises ValueError when a side is shorter than MS_SSIM_MIN_SIDE (161) pixels: the coarsest scale would be
    smaller than the 11x11 window.
    """
    _check_pair(reference, decoded)
    return _ms_ssim(reference, decoded)


def ms_ssim_db(value: float) -> float:
    """MS-SSIM on a dB scale, -10 * log10(1 - value); inf for a perfect 1.0, nan stays nan."""
    if math.isnan(value):
        return math.nan
    if value >= 1.0:
        return math.inf
    return -10.0 * math.log10(1.0 - value)
