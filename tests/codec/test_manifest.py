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


@pytest.mark.parametrize("mangle, fragment", [
    (lambda data: data[:5], "cut short or misstates its length"),
    (lambda data: (len(data) * 2).to_bytes(8, "little") + data[8:], "cut short or misstates its length"),
    (lambda data: data[:8] + b"[" * (len(data) - 8), "its header is not JSON"),
    (lambda data: _header_replaced(data, b'{"__metadata__": {"model_id": 7}}'), "metadata is not a map of strings"),
    (lambda data: _header_replaced(data, b'[' * 50_000 + b']' * 50_000), "its header is not JSON"),
], ids=["cut", "long-length", "not-json", "number", "deep"])
def test_a_safetensors_header_that_is_not_one_is_refused_in_one_line(tiny_weights, tmp_path, mangle, fragment):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(mangle(tiny_weights.read_bytes()))
    with pytest.raises(ModelMismatchError, match=fragment) as caught:
        checked_model_file(path)
    assert "\n" not in str(caught.value)


def _header_replaced(data: bytes, header: bytes) -> bytes:
    return len(header).to_bytes(8, "little") + header


def test_what_is_loaded_is_the_bytes_that_were_hashed(tiny_weights):
    import hashlib

    from aec.manifest import read_checked_model_file

    digest, metadata, data = read_checked_model_file(tiny_weights)
    assert hashlib.sha256(data).hexdigest() == digest and data == tiny_weights.read_bytes()
    assert metadata["model_id"] and metadata["architecture"]


def test_a_file_larger_than_any_model_is_refused_before_it_is_hashed(tiny_weights, monkeypatch):
    import aec.manifest

    monkeypatch.setattr(aec.manifest, "MAX_MODEL_FILE_BYTES", tiny_weights.stat().st_size - 1)
    with pytest.raises(ModelMismatchError, match="the most a model file takes"):
        checked_model_file(tiny_weights)
