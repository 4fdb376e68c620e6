import io
import math

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("scipy", reason="the bench extra is not installed: pip install -e '.[bench]'")

from benchmarks import metrics  # noqa: E402

C1 = (0.01 * 255) ** 2
W_COARSEST = metrics.MS_SSIM_WEIGHTS[-1]


def luminance(a: float, b: float) -> float:
    return (2 * a * b + C1) / (a * a + b * b + C1)


def test_bits_per_pixel_counts_every_byte():
    assert metrics.bits_per_pixel(1000, 80, 100) == 1.0
    assert metrics.bits_per_pixel(1, 1, 1) == 8.0


def test_psnr_matches_hand_computed_value():
    reference = np.zeros((2, 2, 3), dtype=np.uint8)
    decoded = reference.copy()
    decoded[0, 0, 0] = 10  # one value off by 10 among 12: MSE = 100 / 12
    assert metrics.psnr(reference, decoded) == pytest.approx(10 * math.log10(255**2 * 12 / 100), abs=1e-12)


def test_psnr_is_symmetric_and_uses_all_channels():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (8, 9, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (8, 9, 3), dtype=np.uint8)
    mse = np.mean((a.astype(float) - b) ** 2)
    assert metrics.psnr(a, b) == pytest.approx(10 * np.log10(255**2 / mse))
    assert metrics.psnr(a, b) == metrics.psnr(b, a)


def test_psnr_of_identical_images_is_inf():
    image = np.full((4, 4, 3), 7, dtype=np.uint8)
    assert metrics.psnr(image, image.copy()) == math.inf


def test_metrics_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.psnr(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8))


def test_ms_ssim_of_identical_images_is_one():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (176, 180, 3), dtype=np.uint8)
    assert metrics.ms_ssim(image, image.copy()) == pytest.approx(1.0, abs=1e-12)


def test_ms_ssim_of_flat_images_is_the_coarsest_luminance_term():
    # Flat images have no contrast or structure: every cs term is 1, and only the coarsest scale's luminance
    # term enters, raised to its weight.
    a = np.full((192, 192, 3), 100, dtype=np.uint8)
    b = np.full((192, 192, 3), 110, dtype=np.uint8)
    assert metrics.ms_ssim(a, b) == pytest.approx(luminance(100, 110) ** W_COARSEST, abs=1e-9)


def test_ms_ssim_of_offset_checkerboard_ignores_fine_scale_luminance():
    # b = a + 20 keeps variance and covariance equal, so cs = 1 at the finest scale; 2x2 pooling turns the
    # one-pixel checkerboard (100/140) into flat 120 against 140 for all coarser scales.
    a = np.where(np.indices((192, 192)).sum(axis=0) % 2 == 0, 100, 140).astype(np.uint8)
    a = np.repeat(a[:, :, None], 3, axis=2)
    b = a + 20
    assert metrics.ms_ssim(a, b) == pytest.approx(luminance(120, 140) ** W_COARSEST, abs=1e-9)


def test_ms_ssim_falls_as_the_error_grows():
    rng = np.random.default_rng(2)
    image = rng.integers(40, 216, (176, 176, 3)).astype(np.int16)
    scores = [
        metrics.ms_ssim(image.astype(np.uint8), np.clip(image + rng.normal(0, s, image.shape), 0, 255).astype(np.uint8))
        for s in (2, 8, 32)
    ]
    assert 1 > scores[0] > scores[1] > scores[2] > 0


def test_ms_ssim_rejects_images_too_small_for_five_scales():
    image = np.zeros((160, 300, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="161"):
        metrics.ms_ssim(image, image)
    ok = np.zeros((161, 161, 3), dtype=np.uint8)
    assert metrics.ms_ssim(ok, ok) == pytest.approx(1.0)


def test_ms_ssim_db_matches_hand_computed_values():
    assert metrics.ms_ssim_db(0.99) == pytest.approx(20.0)
    assert metrics.ms_ssim_db(0.9) == pytest.approx(10.0)
    assert metrics.ms_ssim_db(1.0) == math.inf
    assert math.isnan(metrics.ms_ssim_db(math.nan))


def test_ms_ssim_matches_pytorch_msssim_used_by_compressai():
    torch = pytest.importorskip("torch")
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:201, 0:243]  # odd sides exercise the padded pooling
    image = np.stack([x, y, (x * y) % 256], axis=-1) + rng.normal(0, 12, (201, 243, 3))
    image = np.clip(image, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=20)
    decoded = np.asarray(Image.open(buffer).convert("RGB"))

    def tensor(a):
        return torch.from_numpy(a.copy()).permute(2, 0, 1)[None].double()

    expected = pytorch_msssim.ms_ssim(tensor(image), tensor(decoded), data_range=255).item()
    # pytorch_msssim builds its Gaussian window in float32, hence the tolerance.
    assert metrics.ms_ssim(image, decoded) == pytest.approx(expected, abs=1e-5)
