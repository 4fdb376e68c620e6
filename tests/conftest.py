"""Shared fixtures: a tiny random-init model file and generated images, so tests never need ../shared.

Most tests run on the tiny model; the golden-vector tests (tests/codec/test_vectors.py) also load the shipped weights
in weights/ (part of the repository), to check that every released model keeps decoding its files.
"""

from __future__ import annotations

from pathlib import Path
import pytest
import torch

from aec.config import TINY
from aec.model import AECModel
from aec.model_files import save_model
from benchmarks.synthetic import smooth_image  # the tests' pictures, shared with benchmarks/fuzz.py


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A frozen, seeded, untrained tiny model saved as a .safetensors file."""
    torch.manual_seed(1234)
    model = AECModel(TINY).eval()
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_model(model, path, "test-tiny")
    return path


@pytest.fixture(scope="session")
def tiny_codec(tiny_weights):
    from aec import Codec

    return Codec(weights=tiny_weights)


@pytest.fixture
def installed_tiny(tiny_weights, monkeypatch) -> list:
    """Every installed model id loads the tiny model; returns the ids that aec.api loads (None: the default)."""
    from aec import api
    from aec.model_files import load_model_file

    loaded = []

    def load_model(model_id=None, *args, **kwargs):
        loaded.append(model_id)
        return load_model_file(tiny_weights)

    monkeypatch.setattr(api, "load_model", load_model)
    monkeypatch.setattr(api, "_default", None)  # aec.decompress gets a fresh default codec
    return loaded


@pytest.fixture
def image_factory():
    return smooth_image
