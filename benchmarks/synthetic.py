"""Synthetic pictures for the benchmarks and the tests that must not need image files (numpy only)."""

from __future__ import annotations

import numpy as np


def smooth_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A natural-ish test picture: smooth gradients plus a little noise, HxWx3 uint8."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    channels = []
    for c in range(3):
        fy, fx = rng.uniform(0.01, 0.1, 2)
        channels.append(127 + 80 * np.sin(fy * yy + c) * np.cos(fx * xx - c))
    image = np.stack(channels, axis=2) + rng.normal(0, 6, (height, width, 3))
    return np.clip(np.round(image), 0, 255).astype(np.uint8)
