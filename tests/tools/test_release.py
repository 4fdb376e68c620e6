"""tools/release.py: the manifest says which models ship and which is the default, and only a release changes that."""

import json

import pytest

from aec.manifest import sha256_file
from aec.model_files import load_model_file, save_model
from aec.train.export import update_manifest
from tools.release import main, release

SCALE = {"anchors": {"0": 1.0, "100": 3.0}}


def _export(weights, directory, model_id, **fields):
    """A candidate entry, as `python -m aec.train --export` writes one."""
    path = directory / f"{model_id}.safetensors"
    save_model(load_model_file(weights)[0], path, model_id)
    update_manifest(model_id, path.name, sha256_file(path), {"released": False, **fields}, directory)


def _manifest(directory):
    return json.loads((directory / "manifest.json").read_text())


def test_an_export_changes_neither_the_default_nor_what_is_released(tiny_weights, tmp_path):
    _export(tiny_weights, tmp_path, "test-a", quality_scale=SCALE)  # a new manifest names its first model
    _export(tiny_weights, tmp_path, "test-b", quality_scale=SCALE)
    manifest = _manifest(tmp_path)
    assert manifest["default"] == "test-a"
    assert [manifest["models"][m]["released"] for m in ("test-a", "test-b")] == [False, False]


def test_models_ship_beside_the_default_and_a_new_default_retires_none(tiny_weights, tmp_path, capsys):
    for model_id in ("test-a", "test-b", "test-c"):
        _export(tiny_weights, tmp_path, model_id, quality_scale=SCALE)
    release("test-a", tmp_path, make_default=True)
    release("test-b", tmp_path)  # ships beside the default, chosen by id
    assert _manifest(tmp_path)["default"] == "test-a"
    assert main(["test-c", "--default", "--weights-dir", str(tmp_path)]) == 0
    assert "the default model is test-c" in capsys.readouterr().out
    manifest = _manifest(tmp_path)
    assert manifest["default"] == "test-c"
    for model_id in ("test-a", "test-b", "test-c"):
        assert manifest["models"][model_id]["released"] is True
        assert "retired_after" not in manifest["models"][model_id]
    # exporting a released id again (its entry refreshed) leaves it released
    update_manifest("test-b", "test-b.safetensors", manifest["models"]["test-b"]["sha256"], {"released": False},
                    tmp_path)
    assert _manifest(tmp_path)["models"]["test-b"]["released"] is True


def test_a_release_needs_an_exported_entry_its_file_and_its_quality_scale(tiny_weights, tmp_path):
    _export(tiny_weights, tmp_path, "test-a")
    with pytest.raises(SystemExit, match="has no 0-100 quality scale"):
        release("test-a", tmp_path)
    with pytest.raises(SystemExit, match="test-z is not in"):
        release("test-z", tmp_path)
    _export(tiny_weights, tmp_path, "test-b", quality_scale=SCALE)
    (tmp_path / "test-b.safetensors").write_bytes(b"other weights")
    with pytest.raises(SystemExit, match="does not hash to its manifest entry"):
        release("test-b", tmp_path)
    (tmp_path / "test-c.safetensors").write_bytes((tmp_path / "test-a.safetensors").read_bytes())
    update_manifest("test-c", "test-c.safetensors", sha256_file(tmp_path / "test-c.safetensors"),
                    {"released": False, "quality_scale": SCALE}, tmp_path)
    with pytest.raises(SystemExit, match="holds model 'test-a', not 'test-c'"):
        release("test-c", tmp_path)
    assert not any(entry["released"] for entry in _manifest(tmp_path)["models"].values())
