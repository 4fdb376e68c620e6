"""Golden vectors: committed .aec files must keep decoding to the same pixels in every later version."""

import hashlib
import re
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


def _retired(model_id: str) -> str | None:
    from aec.model_files import read_manifest

    return read_manifest()["models"][model_id].get("retired_after")


SHIPPED = sorted(name for name, entry in INDEX.items() if not _retired(entry["model_id"]))
RETIRED = sorted(name for name, entry in INDEX.items() if _retired(entry["model_id"]))


@pytest.mark.parametrize("name", SHIPPED)
def test_golden_vector_decodes_to_its_recorded_pixels(codec, name):
    entry = INDEX[name]
    array = codec.decompress_array(VECTORS / name)
    assert list(array.shape) == entry["shape"]
    assert hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest() == entry["pixels_sha256"]


def test_there_are_golden_vectors_for_the_default_model():
    from aec.model_files import read_manifest

    default = read_manifest()["default"]
    assert any(entry["model_id"] == default for entry in INDEX.values())


@pytest.mark.parametrize("name", RETIRED)
def test_a_file_of_a_retired_model_names_the_aec_version_that_decodes_it(codec, name):
    from aec import ModelMismatchError

    version = _retired(INDEX[name]["model_id"])
    with pytest.raises(ModelMismatchError, match=f"no longer ships.*aec {re.escape(version)} decodes its files"):
        codec.decompress_array(VECTORS / name)


def test_only_the_default_and_the_model_before_it_ship():
    from aec.model_files import SHIPPED_RELEASES, WEIGHTS_DIR, read_manifest

    models = read_manifest()["models"]
    shipped = [model_id for model_id, entry in models.items() if not entry.get("retired_after")]
    assert len(shipped) == SHIPPED_RELEASES and read_manifest()["default"] in shipped
    assert sorted(p.name for p in WEIGHTS_DIR.glob("*.safetensors")) == sorted(models[m]["file"] for m in shipped)
