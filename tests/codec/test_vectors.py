"""Golden vectors: committed .aec files must keep decoding to the same pixels in every later version."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
INDEX = json.loads((VECTORS / "vectors.json").read_text()) if (VECTORS / "vectors.json").is_file() else {}


@pytest.fixture(scope="module")
def codec():
    from aec import Codec

    return Codec()


@pytest.mark.parametrize("name", sorted(INDEX))
def test_golden_vector_decodes_to_its_recorded_pixels(codec, name):
    entry = INDEX[name]
    array = codec.decompress_array(VECTORS / name)
    assert list(array.shape) == entry["shape"]
    assert hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest() == entry["pixels_sha256"]


def test_there_are_golden_vectors_for_the_default_model():
    from aec.model_files import read_manifest

    default = read_manifest()["default"]
    assert any(entry["model_id"] == default for entry in INDEX.values())
