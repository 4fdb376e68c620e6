"""Golden vectors: committed .aec files must keep decoding to the same pixels in every later version."""

import hashlib
import re
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

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


# The pixels a golden vector decoded to when it was made are stored beside it (NAME.png, checked against the
# recorded sha256). The synthesis g_s is float32 and not part of the format's contract (docs/bitstream.md): a decode
# may differ from the record by one level on a few values; the symbols, and so the file's validity, are exact.
MAX_LEVEL_DIFFERENCE = 1
MAX_DIFFERING_FRACTION = 0.005


def _reference(name: str) -> np.ndarray:
    reference = np.asarray(Image.open(VECTORS / f"{name[:-4]}.png"))
    assert hashlib.sha256(np.ascontiguousarray(reference).tobytes()).hexdigest() == INDEX[name]["pixels_sha256"]
    return reference


@pytest.mark.parametrize("name", SHIPPED)
def test_golden_vector_decodes_to_its_recorded_pixels_within_a_level(codec, name):
    entry = INDEX[name]
    array = codec.decompress_array(VECTORS / name)
    assert list(array.shape) == entry["shape"]
    difference = np.abs(array.astype(int) - _reference(name).astype(int))
    assert difference.max() <= MAX_LEVEL_DIFFERENCE
    assert (difference > 0).mean() <= MAX_DIFFERING_FRACTION


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


def test_every_model_a_release_shipped_since_the_policy_ships_still_with_golden_vectors_of_each_layout():
    from aec.model_files import RETIRED_BEFORE_THE_POLICY, WEIGHTS_DIR, read_manifest

    models = read_manifest()["models"]
    kept = {model_id for model_id, entry in models.items() if not entry.get("retired_after")}
    assert {model_id for model_id in models if model_id not in kept} <= RETIRED_BEFORE_THE_POLICY  # none retired since
    assert {"aec-sc192-r7", "aec-sc192-r8", "aec-light-r1", "aec-sc192-r9", "aec-light-r2", "aec-sc192-r10",
            "aec-fast-r1", read_manifest()["default"]} <= kept
    assert sorted(p.name for p in WEIGHTS_DIR.glob("*.safetensors")) == sorted(models[m]["file"] for m in kept)
    for model_id in kept:
        layouts = {entry["layout"] for entry in INDEX.values() if entry["model_id"] == model_id}
        assert layouts >= {"RGB", "L", "RGBA"}, (model_id, layouts)


def test_every_kept_models_decoder_side_stays_within_its_budget():
    from aec.decoder import decoder_side_bytes
    from aec.model_files import DECODER_SIDE_BUDGET, WEIGHTS_DIR, read_manifest

    for model_id, entry in read_manifest()["models"].items():
        if not entry.get("retired_after"):
            assert decoder_side_bytes(WEIGHTS_DIR / entry["file"]) <= DECODER_SIDE_BUDGET, model_id


FORMAT_2 = sorted(name for name in SHIPPED if name.endswith("_f2.aec"))
# Models released before format 2 have each vector in both formats; a model released since has format 2's alone.
TWINNED = [name for name in FORMAT_2 if name.replace("_f2.aec", ".aec") in SHIPPED]


def test_every_model_with_format_1_vectors_has_a_format_1_twin_of_each_format_2_vector():
    older = {INDEX[name]["model_id"] for name in SHIPPED if name.endswith(".aec") and name not in FORMAT_2}
    assert {"aec-sc192-r9", "aec-light-r1"} <= older
    assert [name for name in FORMAT_2 if INDEX[name]["model_id"] in older] == TWINNED


@pytest.mark.parametrize("name", TWINNED)
def test_a_format_2_vector_holds_the_symbols_and_pixels_of_its_format_1_twin(name):
    from aec.bitstream import parse

    twin = name.replace("_f2.aec", ".aec")
    header, _ = parse((VECTORS / name).read_bytes())
    twin_header, _ = parse((VECTORS / twin).read_bytes())
    assert header.version == (2, 0) and twin_header.version[0] == 1
    # The same image coded the same way: only the YLAT layout differs, so the symbols and the pixels agree.
    assert header.symbol_checksum == twin_header.symbol_checksum
    assert INDEX[name]["pixels_sha256"] == INDEX[twin]["pixels_sha256"]


def test_every_model_that_encodes_has_vectors_of_the_format_it_writes():
    from aec.bitstream import FORMAT_VERSION
    from aec.model_files import read_manifest

    assert FORMAT_VERSION == (2, 0)
    for model_id, entry in read_manifest()["models"].items():
        if entry.get("retired_after") or entry.get("decoder_only"):
            continue
        layouts = {INDEX[name]["layout"] for name in FORMAT_2 if INDEX[name]["model_id"] == model_id}
        assert layouts >= {"RGB", "L", "RGBA"}, (model_id, layouts)
