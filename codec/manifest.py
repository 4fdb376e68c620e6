"""The model manifest (weights/manifest.json), read without torch: `aec models` and `aec info` need no model."""

from __future__ import annotations

import json
from pathlib import Path

from . import weights as _shipped
from .errors import ModelMismatchError
from .quality_scale import QualityScale

__all__ = ["WEIGHTS_DIR", "MANIFEST", "read_manifest", "quality_scale", "described_quality"]

WEIGHTS_DIR = Path(_shipped.__file__).resolve().parent  # the aec.weights package: weights/ in the repository
MANIFEST = "manifest.json"


def read_manifest(directory: Path = WEIGHTS_DIR) -> dict:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ModelMismatchError(f"no model manifest at {path}; reinstall aec")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ModelMismatchError(f"model manifest {path} is unreadable: {error}") from None


def described_quality(model_id: str, weights_tag: bytes, model_quality: float) -> float | None:
    """The 0-100 quality to show for a file's header (``QualityScale.describe``), or None when the manifest has no
    scale for its model and weights."""
    scale = quality_scale(model_id, bytes(weights_tag).hex())
    return None if scale is None else scale.describe(model_quality)


def quality_scale(model_id: str, sha256: str, directory: Path = WEIGHTS_DIR) -> QualityScale | None:
    """The 0-100 scale the manifest gives the model with this id whose sha256 starts with ``sha256`` (a file's
    digest, or a header's weights tag in hex); None when the manifest has no scale for those weights (a model file
    that was never released: it maps 0-100 linearly onto its range, ``QualityScale.linear``)."""
    entry = read_manifest(directory).get("models", {}).get(model_id)
    if not sha256 or not entry or "quality_scale" not in entry or not str(entry.get("sha256", "")).startswith(sha256.lower()):
        return None
    try:
        return QualityScale.from_manifest(entry["quality_scale"], 1, len(entry["config"]["lambdas"]))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ModelMismatchError(f"the quality scale of model {model_id!r} in {Path(directory) / MANIFEST} is "
                                 f"damaged ({error}); reinstall aec") from None
