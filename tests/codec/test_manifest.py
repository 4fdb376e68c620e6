"""Claims about aec.manifest's checks of a model file, made before a byte of its tensors is trusted (no torch)."""

import json
import os

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from aec import ModelMismatchError
from aec.manifest import MAX_CONFIG_BYTES, checked_model_file


def _with_metadata(tiny_weights, tmp_path, **changes) -> str:
    from safetensors import safe_open

    with safe_open(str(tiny_weights), framework="numpy") as handle:
        metadata = {**handle.metadata(), **changes}
    path = tmp_path / "hostile.safetensors"
    save_file(load_file(str(tiny_weights)), str(path), metadata=metadata)
    return path


@pytest.mark.parametrize("path, fragment", [
    ("/dev/zero", "/dev/zero is not a regular file (a character device), so not a model file"),
    ("/dev/null", "/dev/null is not a regular file (a character device)"),
    (".", "is a folder, not a model file"),
    ("missing.safetensors", "model file not found: missing.safetensors"),
])
def test_what_is_not_a_regular_file_is_named_for_what_it_is(path, fragment, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelMismatchError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        checked_model_file(path)


def test_a_pipe_is_refused_without_being_read(tmp_path):
    os.mkfifo(tmp_path / "fifo")  # reading it would wait for a writer for ever
    with pytest.raises(ModelMismatchError, match=r"not a regular file \(a pipe\)"):
        checked_model_file(tmp_path / "fifo")


@pytest.mark.parametrize("model_id", ["../../etc/passwd", "", "a" * 65, "with space", "line\nbreak", "é"])
def test_a_model_id_no_header_can_hold_is_refused(tiny_weights, tmp_path, model_id):
    with pytest.raises(ModelMismatchError, match="its model id .* is not 1 to 64 of the characters"):
        checked_model_file(_with_metadata(tiny_weights, tmp_path, model_id=model_id))


@pytest.mark.parametrize("config, fragment", [
    ("[" * 200_000 + "]" * 200_000, f"over the {MAX_CONFIG_BYTES}"),
    ("[" * 30_000 + "]" * 30_000, "not JSON (nested too deep)"),
    ('{"a":' * 10_000 + "1" + "}" * 10_000, "not JSON (nested too deep)"),
    ("{", "not JSON"),
    ("[1, 2]", "a JSON list, not an object"),
], ids=["200000-deep", "30000-deep-list", "10000-deep-object", "cut", "list"])
def test_a_config_that_is_not_a_small_json_object_is_refused(tiny_weights, tmp_path, config, fragment):
    with pytest.raises(ModelMismatchError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        checked_model_file(_with_metadata(tiny_weights, tmp_path, config=config))
