"""Model files: hash-checked, self-describing, and refused with a clear message when damaged or foreign."""

import json

import numpy as np
import pytest
from safetensors.torch import save_file
import torch

import aec
from aec import ModelMismatchError
from aec.model_files import load_model, load_model_file, sha256_file
from aec.train.export import update_manifest


def test_a_saved_model_loads_ready_to_code(tiny_weights):
    model, model_id, digest = load_model_file(tiny_weights, sha256_file(tiny_weights))
    assert model_id == "test-tiny" and not model.training
    assert model.latent_codec.prior.counts.sum(dim=1).eq(1 << 16).all()  # frozen tables came with the file


def test_hash_mismatch_is_refused(tiny_weights):
    with pytest.raises(ModelMismatchError, match="sha256"):
        load_model_file(tiny_weights, "0" * 64)


def test_corrupt_and_foreign_files_are_refused(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(ModelMismatchError, match="not a valid"):
        load_model_file(junk)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, str(foreign), metadata={"architecture": "something-else"})
    with pytest.raises(ModelMismatchError, match="not an aec model"):
        load_model_file(foreign)


def test_manifest_loads_by_id_and_guards_released_ids(tiny_weights, tmp_path):
    target = tmp_path / "tiny.safetensors"
    target.write_bytes(tiny_weights.read_bytes())
    digest = sha256_file(target)
    update_manifest("test-tiny", "tiny.safetensors", digest, {"released": True}, tmp_path)
    model, model_id, _ = load_model(None, tmp_path)
    assert model_id == "test-tiny"
    with pytest.raises(ModelMismatchError, match="not installed"):
        load_model("no-such-model", tmp_path)
    with pytest.raises(Exception, match="released"):
        update_manifest("test-tiny", "tiny.safetensors", "f" * 64, {"released": True}, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["default"] == "test-tiny"


def test_transforms_are_stored_in_float16_and_decode_like_float32(tmp_path):
    from safetensors import safe_open

    from aec import Codec
    from aec.config import TINY
    from aec.model import AECModel
    from aec.model_files import save_model
    from tests.conftest import smooth_image

    torch.manual_seed(7)
    model = AECModel(TINY).eval()
    half, full = tmp_path / "half.safetensors", tmp_path / "full.safetensors"
    save_model(model, half, "test-half")
    save_model(model, full, "test-full", half_transforms=False)
    with safe_open(str(half), framework="pt") as handle:
        dtypes = {k: handle.get_tensor(k).dtype for k in handle.keys()}
    assert {dtypes[k] for k in dtypes if k.startswith(("g_a.", "g_s.", "h_a."))} == {torch.float16}
    assert dtypes["prior.counts"] == torch.int32 and half.stat().st_size < full.stat().st_size

    image = smooth_image(40, 56, seed=3)
    decoded = {}
    for name, path in (("half", half), ("full", full)):
        codec = Codec(weights=path)
        decoded[name] = codec.decompress_array(codec.compress(image, quality=50)).astype(int)
    # float16 storage moves a decoded pixel by at most a level or two, never more
    assert np.abs(decoded["half"] - decoded["full"]).max() <= 2


def test_a_released_quality_scale_never_changes(tiny_weights, tmp_path):
    target = tmp_path / "tiny.safetensors"
    target.write_bytes(tiny_weights.read_bytes())
    digest = sha256_file(target)
    scale = {"anchors": {"0": 1.0, "50": 1.5, "100": 3.0}}
    update_manifest("test-tiny", "tiny.safetensors", digest, {"released": True, "quality_scale": scale}, tmp_path)
    update_manifest("test-tiny", "tiny.safetensors", digest, {"released": True}, tmp_path)  # a refresh keeps it
    assert json.loads((tmp_path / "manifest.json").read_text())["models"]["test-tiny"]["quality_scale"] == scale
    with pytest.raises(aec.InputError, match="released scale never changes"):
        update_manifest("test-tiny", "tiny.safetensors", digest,
                        {"released": True, "quality_scale": {"anchors": {"0": 1.0, "100": 3.0}}}, tmp_path)


def test_a_model_may_have_its_own_effort_levels_which_its_manifest_entry_gives(tiny_weights, tmp_path, monkeypatch):
    from aec import api
    from aec.config import EFFORT_ITERATIONS, check_effort_iterations
    from aec.manifest import effort_iterations
    from aec.model import AECModel

    target = tmp_path / "tiny.safetensors"
    target.write_bytes(tiny_weights.read_bytes())
    digest = sha256_file(target)
    update_manifest("test-tiny", "tiny.safetensors", digest, {"released": True}, tmp_path)
    assert effort_iterations("test-tiny", digest, tmp_path) == EFFORT_ITERATIONS  # none given: the shared levels
    levels = [0, 2, 3, 5, 8, 13]
    update_manifest("test-tiny", "tiny.safetensors", digest, {"released": True, "effort_iterations": levels}, tmp_path)
    update_manifest("test-tiny", "tiny.safetensors", digest, {"released": True}, tmp_path)  # a re-export keeps them
    assert effort_iterations("test-tiny", digest, tmp_path) == tuple(levels)
    assert effort_iterations("test-tiny", digest[:16], tmp_path) == tuple(levels)  # a header's weights tag
    assert effort_iterations("test-tiny", "00" * 32, tmp_path) == EFFORT_ITERATIONS  # other weights of that id
    assert effort_iterations("test-other", digest, tmp_path) == EFFORT_ITERATIONS
    for damaged in ([0, 2, 3], [1, 2, 3, 4, 5, 6], [0, 2, 2, 5, 8, 13], [0, 2, 3, 5, 8, 10**6], "0,1,2,3,4,5",
                    [0, 1, 2, 3, 4, 5.5], [0, True, 2, 3, 4, 5]):
        with pytest.raises(ValueError, match="effort iterations must be 6 ascending whole numbers"):
            check_effort_iterations(damaged)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["models"]["test-tiny"]["effort_iterations"] = [0, 5, 4, 3, 2, 1]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelMismatchError, match="effort levels of model 'test-tiny' .* are damaged"):
        effort_iterations("test-tiny", digest, tmp_path)

    # the codec refines for its model's own steps at each effort
    monkeypatch.setattr(api, "_released_efforts", lambda model_id, digest: (0, 2, 3, 5, 8, 13))
    seen = []
    compress = AECModel.compress
    monkeypatch.setattr(AECModel, "compress", lambda self, x, at, iterations, valid: (
        seen.append(iterations), compress(self, x, at, iterations, valid))[1])
    codec = aec.Codec(weights=tiny_weights)
    assert codec.effort_iterations == (0, 2, 3, 5, 8, 13)
    for effort in (1, 3):
        codec.compress(np.zeros((16, 16, 3), np.uint8), model_quality=2, effort=effort)
    assert seen == [2, 5]


def test_a_released_model_file_given_as_weights_keeps_its_released_scale():
    from aec.model_files import WEIGHTS_DIR
    from aec.quality_scale import QualityScale

    from aec.manifest import read_manifest

    manifest = read_manifest()
    default = manifest["default"]
    codec = aec.Codec(weights=WEIGHTS_DIR / manifest["models"][default]["file"])
    assert codec.quality_scale == aec.Codec(default).quality_scale != QualityScale.linear(1, 6)
