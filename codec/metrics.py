"""Distortion measures shared by the trainer, the command line (`aec compress -v`) and the benchmarks; numpy only.

MS-SSIM: Wang, Simoncelli and Bovik, "Multi-scale structural similarity for image quality assessment" (Asilomar 2003):
5 scales, 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, the 2003 scale weights, computed on each channel
with data range 255 and averaged over the channels. The details follow pytorch_msssim, which CompressAI uses for its
published curves: "valid" filtering (no padding), negative contrast-structure terms clipped to zero, and 2x2 average
pooling between scales that pads an odd side with a zero row or column in front.
"""

from __future__ import annotations

import math

import numpy as np

DATA_RANGE = 255.0
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
K1, K2 = 0.01, 0.03
# Four halvings must leave at least one window: ceil^4(side) >= 11, that is side > 160.
MS_SSIM_MIN_SIDE = (WINDOW_SIZE - 1) * 2 ** (len(MS_SSIM_WEIGHTS) - 1) + 1


def psnr(mse: float, peak: float = 1.0) -> float:
    """PSNR in dB of a mean squared error, for pixel values whose largest is PEAK; inf when the error is zero."""
    return math.inf if mse == 0 else 10.0 * math.log10(peak**2 / mse)


def gaussian_window(size: int = WINDOW_SIZE, sigma: float = WINDOW_SIGMA) -> np.ndarray:
    """Normalised 1-D Gaussian window (the 2-D window is its outer product)."""
    coords = np.arange(size, dtype=np.float64) - size // 2
    window = np.exp(-(coords**2) / (2.0 * sigma**2))
    return window / window.sum()


def _filter_valid(stack: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Separable Gaussian filter over the last two axes, keeping only the positions the window fully covers (with
    scipy where it is installed, 2.5 times as fast; the two agree to 1e-15)."""
    try:
        from scipy.ndimage import correlate1d
    except ImportError:
        return _correlate_valid(_correlate_valid(stack, window, -2), window, -1)
    radius = len(window) // 2
    out = correlate1d(stack, window, axis=-2, mode="constant")[..., radius:stack.shape[-2] - radius, :]
    return correlate1d(out, window, axis=-1, mode="constant")[..., radius:stack.shape[-1] - radius]


def _correlate_valid(stack: np.ndarray, window: np.ndarray, axis: int) -> np.ndarray:
    """The window correlated along one axis, where it fully covers the input: numpy only."""
    length = stack.shape[axis] - len(window) + 1

    def shifted(k: int) -> np.ndarray:
        return np.moveaxis(np.moveaxis(stack, axis, 0)[k:k + length], 0, axis)

    out = shifted(0) * window[0]
    scratch = np.empty_like(out)
    for k in range(1, len(window)):
        out += np.multiply(shifted(k), window[k], out=scratch)
    return out


def _ssim_and_contrast_structure(x: np.ndarray, y: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean SSIM and mean contrast-structure term per channel of two C x H x W float images."""
    c1 = (K1 * DATA_RANGE) ** 2
    c2 = (K2 * DATA_RANGE) ** 2
    # The filter is linear, so filtering x*x + y*y once gives sigma_x^2 + sigma_y^2 with four maps instead of five.
    mu_x, mu_y, squares, xy = _filter_valid(np.stack([x, y, x * x + y * y, x * y]), window)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    cs_map = (2.0 * (xy - mu_xy) + c2) / (squares - mu_xx - mu_yy + c2)
    luminance = (2.0 * mu_xy + c1) / (mu_xx + mu_yy + c1)
    return (luminance * cs_map).mean(axis=(1, 2)), cs_map.mean(axis=(1, 2))


def _average_pool_2x2(image: np.ndarray) -> np.ndarray:
    """2x2 mean pooling of C x H x W; an odd side gets a zero row or column in front (torch avg_pool2d, padding=1)."""
    pad_height, pad_width = image.shape[1] % 2, image.shape[2] % 2
    if pad_height or pad_width:
        image = np.pad(image, [(0, 0), (pad_height, 0), (pad_width, 0)])
    return 0.25 * (image[:, 0::2, 0::2] + image[:, 1::2, 0::2] + image[:, 0::2, 1::2] + image[:, 1::2, 1::2])


def ms_ssim(reference: np.ndarray, decoded: np.ndarray) -> float:
    """MS-SSIM of two H x W x C (or H x W) uint8 images, per channel then averaged; 1.0 when identical.

    Raises ValueError when the shapes differ or a side is shorter than MS_SSIM_MIN_SIDE (161) pixels: the coarsest
    scale would be smaller than the 11x11 window.
    """
    if reference.shape != decoded.shape:
        raise ValueError(f"image shapes differ: reference {reference.shape}, decoded {decoded.shape}")
    if min(reference.shape[:2]) < MS_SSIM_MIN_SIDE:
        raise ValueError(
            f"MS-SSIM needs both sides >= {MS_SSIM_MIN_SIDE} pixels (5 scales, 11x11 window); "
            f"got {reference.shape[1]}x{reference.shape[0]}"
        )
    window = gaussian_window()
    # Channels first, so that both filter passes run over contiguous rows.
    x = np.ascontiguousarray(np.atleast_3d(reference).transpose(2, 0, 1), dtype=np.float64)
    y = np.ascontiguousarray(np.atleast_3d(decoded).transpose(2, 0, 1), dtype=np.float64)
    factors = []
    for level in range(len(MS_SSIM_WEIGHTS)):
        ssim_per_channel, cs_per_channel = _ssim_and_contrast_structure(x, y, window)
        if level < len(MS_SSIM_WEIGHTS) - 1:
            factors.append(np.maximum(cs_per_channel, 0.0))
            x, y = _average_pool_2x2(x), _average_pool_2x2(y)
    factors.append(np.maximum(ssim_per_channel, 0.0))
    weights = np.asarray(MS_SSIM_WEIGHTS)[:, None]
    per_channel = np.prod(np.stack(factors) ** weights, axis=0)
    return float(per_channel.mean())
