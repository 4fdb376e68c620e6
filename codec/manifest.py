"""The model manifest (weights/manifest.json), read without torch: `aec models` and `aec info` need no model."""

from __future__ import annotations

import json
from pathlib import Path

from . import weights as _shipped
from .errors import ModelMismatchError

__all__ = ["WEIGHTS_DIR", "MANIFEST", "read_manifest"]

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
