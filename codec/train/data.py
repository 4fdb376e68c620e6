"""Training and validation images: the shared data folders, the in-memory pool, random crops, a portable subset."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..images import list_images

# Relative to the current folder, not to the source: the package ships installed. Run from the repository root,
# they name the shared folder beside it.
SHARED = Path("..") / "shared"
DEFAULT_TRAIN = SHARED / "data" / "train"
DEFAULT_KODAK = SHARED / "data" / "kodak"


def read_rgb(path: Path) -> np.ndarray:
    """One image file as a uint8 HxWx3 array."""
    with Image.open(path) as image:
        return np.array(image.convert("RGB"))


def load_pool(folder: Path, min_side: int, limit: int | None = None) -> list[np.ndarray]:
    """Decode every training image once into RAM (uint8 HxWx3), skipping those smaller than a crop."""
    images = [array for array in map(read_rgb, list_images(folder)[:limit]) if min(array.shape[:2]) >= min_side]
    if not images:
        raise SystemExit(f"no training images of at least {min_side}px in {folder}")
    return images


def load_validation(folder: Path, count: int) -> list[np.ndarray]:
    """The first COUNT images of a folder (Kodak by default) as uint8 HxWx3 arrays; none if there is no folder."""
    return [read_rgb(path) for path in (list_images(folder)[:count] if Path(folder).is_dir() else [])]


class CropSampler:
    """Random crops with horizontal flips, assembled into a batch."""

    def __init__(self, images: list[np.ndarray], crop: int, seed: int):
        self.images, self.crop = images, crop
        self.rng = np.random.default_rng(seed)

    def batch(self, size: int) -> torch.Tensor:
        """uint8 NCHW crops; the caller converts on its device (less to copy to a GPU)."""
        out = np.empty((size, self.crop, self.crop, 3), dtype=np.uint8)
        for b in range(size):
            image = self.images[self.rng.integers(len(self.images))]
            top = self.rng.integers(image.shape[0] - self.crop + 1)
            left = self.rng.integers(image.shape[1] - self.crop + 1)
            patch = image[top:top + self.crop, left:left + self.crop]
            out[b] = patch[:, ::-1] if self.rng.random() < 0.5 else patch
        return torch.from_numpy(out).permute(0, 3, 1, 2)


def make_subset(source: Path, kodak: Path, destination: Path, megabytes: float, val_images: int,
                seed: int = 0) -> tuple[int, int]:
    """Copy a random subset of the training pool (files as they are, no re-encoding) and the first validation
    images into DESTINATION/train and DESTINATION/kodak, within a size budget: what travels to a lent GPU."""
    budget = int(megabytes * 1e6)
    (destination / "train").mkdir(parents=True, exist_ok=True)
    (destination / "kodak").mkdir(exist_ok=True)
    validation = list_images(kodak)[:val_images] if kodak.is_dir() else []
    for path in validation:
        shutil.copyfile(path, destination / "kodak" / path.name)
        budget -= path.stat().st_size
    pool = list_images(source)
    random.Random(seed).shuffle(pool)
    copied = 0
    for path in pool:
        size = path.stat().st_size
        if size <= budget:
            shutil.copyfile(path, destination / "train" / path.name)
            budget -= size
            copied += 1
    if not copied:
        raise SystemExit(f"no training image of {source} fits in {megabytes} MB")
    return copied, len(validation)
