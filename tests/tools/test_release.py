"""tools/release.py: the manifest says which models ship and which is the default, and only a release changes that."""

import json

import numpy as np
import pytest

from aec.manifest import sha256_file
from aec.model_files import load_model_file, save_model
from aec.train.export import update_manifest
from aec.errors import InputError
from tools.release import main, release, ship_decoder_only

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


def test_an_older_model_ships_its_decoder_side_alone_and_still_decodes_its_files(tiny_weights, tmp_path, capsys):
    from aec import ModelMismatchError
    from aec.decoder import coders_from_file, decoder_side_bytes, load_coders, load_decoder
    from aec.model_files import load_model
    from tests.conftest import smooth_image

    for model_id in ("test-a", "test-b"):
        _export(tiny_weights, tmp_path, model_id, quality_scale=SCALE)
    release("test-a", tmp_path)
    release("test-b", tmp_path, make_default=True)
    released = _manifest(tmp_path)["models"]["test-a"]["sha256"]
    _, encoder, _, _ = load_coders("test-a", tmp_path)
    coded = encoder.compress(smooth_image(64, 64, seed=1), 2.0)
    before = load_decoder("test-a", tmp_path)[0].decode(coded.z_payload, coded.y_payload, 2.0, 64, 64, coded.checksum)
    file = tmp_path / "test-a.safetensors"
    size, decoder_side = file.stat().st_size, decoder_side_bytes(file)

    assert main(["test-a", "--decoder-only", "--weights-dir", str(tmp_path)]) == 0
    assert "test-a ships its decoder side alone" in capsys.readouterr().out
    entry = _manifest(tmp_path)["models"]["test-a"]
    assert entry["sha256"] == released and entry["decoder_only"]["sha256"] == sha256_file(file) != released
    assert entry["decoder_only"]["since"] == __import__("aec").__version__
    assert decoder_side_bytes(file) == decoder_side < file.stat().st_size < size
    # the same pixels from its files, and the released weights' hash (the files' weights tag) as its identity
    decoder, _, identity = load_decoder("test-a", tmp_path)
    assert identity == released
    after = decoder.decode(coded.z_payload, coded.y_payload, 2.0, 64, 64, coded.checksum)
    assert np.array_equal(before, after)
    # no encoding, whichever way it is asked for, each one clear line
    for attempt in (lambda: load_coders("test-a", tmp_path), lambda: load_model("test-a", tmp_path)):
        with pytest.raises(ModelMismatchError, match="ships only its decoder since aec .*: this aec decodes its files"):
            attempt()
    with pytest.raises(ModelMismatchError, match="holds the decoder side of model 'test-a' alone"):
        coders_from_file(file)
    # and its entry is final: no second pass, no default, no export over it
    with pytest.raises(SystemExit, match="ships its decoder side alone already"):
        ship_decoder_only("test-a", tmp_path)
    with pytest.raises(SystemExit, match="is the default model"):
        ship_decoder_only("test-b", tmp_path)
    with pytest.raises(SystemExit, match="ships its decoder side alone"):
        release("test-a", tmp_path, make_default=True)
    with pytest.raises(InputError, match="its entry is final"):
        update_manifest("test-a", "test-a.safetensors", released, {"released": False}, tmp_path)


def test_a_release_may_give_the_model_its_own_effort_levels(tiny_weights, tmp_path, capsys):
    _export(tiny_weights, tmp_path, "test-a", quality_scale=SCALE)
    assert main(["test-a", "--effort-iterations", "0,25,60,150,400,1000", "--weights-dir", str(tmp_path)]) == 0
    assert _manifest(tmp_path)["models"]["test-a"]["effort_iterations"] == [0, 25, 60, 150, 400, 1000]
    release("test-a", tmp_path)  # released again without them: they stay
    assert _manifest(tmp_path)["models"]["test-a"]["effort_iterations"] == [0, 25, 60, 150, 400, 1000]
    capsys.readouterr()
    with pytest.raises(SystemExit, match="error: effort iterations must be 6 ascending whole numbers"):
        main(["test-a", "--effort-iterations", "0,25,60", "--weights-dir", str(tmp_path)])
    with pytest.raises(SystemExit):
        main(["test-a", "--effort-iterations", "0,a,1,2,3,4", "--weights-dir", str(tmp_path)])
    assert "--effort-iterations must be whole numbers" in capsys.readouterr().err
    assert _manifest(tmp_path)["models"]["test-a"]["effort_iterations"] == [0, 25, 60, 150, 400, 1000]
