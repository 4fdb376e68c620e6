"""aec.metrics: the MS-SSIM that `aec compress -v` reports, numpy only (scipy, where installed, only faster)."""

import sys

import numpy as np
import pytest

from aec import metrics
from tests.conftest import smooth_image


def pair(height=170, width=180):
    rng = np.random.default_rng(5)
    image = smooth_image(height, width, 1)
    noisy = np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)
    return image, noisy


def test_the_numpy_filter_agrees_with_scipys(monkeypatch):
    pytest.importorskip("scipy")
    image, noisy = pair()
    with_scipy = metrics.ms_ssim(image, noisy)
    monkeypatch.setitem(sys.modules, "scipy.ndimage", None)  # as in the default install, without scipy
    assert metrics.ms_ssim(image, noisy) == pytest.approx(with_scipy, abs=1e-12)
    assert 0.5 < with_scipy < 1


def test_ms_ssim_is_one_for_identical_images_and_takes_gray_planes():
    image, noisy = pair()
    assert metrics.ms_ssim(image, image) == pytest.approx(1.0)
    gray, noisy_gray = image[..., 0], noisy[..., 0]
    assert metrics.ms_ssim(gray, noisy_gray) == pytest.approx(metrics.ms_ssim(gray[..., None], noisy_gray[..., None]))


def test_ms_ssim_refuses_images_too_small_or_of_other_shapes():
    image, noisy = pair(160, 200)
    with pytest.raises(ValueError, match="161"):
        metrics.ms_ssim(image, noisy)
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.ms_ssim(*pair(170, 180)[:1], pair(171, 180)[1])
