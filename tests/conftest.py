"""Shared fixtures: a tiny random-init model file, so tests never need the shipped weights or ../shared."""

from __future__ import annotations

import numpy as np
from pathlib import Path
import pytest
import torch

from aec.config import TINY
from aec.model import AECModel
from aec.model_files import save_model


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A frozen, seeded, untrained tiny model saved as a .safetensors file."""
    torch.manual_seed(1234)
    model = AECModel(TINY).eval()
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_model(model, path, "test-tiny")
    return path


@pytest.fixture(scope="session")
def tiny_codec(tiny_weights):
    from aec import Codec

    return Codec(weights=tiny_weights)


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


@pytest.fixture
def image_factory():
    return smooth_image
