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


def frozen_tiny_model(seed: int) -> AECModel:
    """A seeded, untrained, frozen tiny model whose z is non-trivial, as after training."""
    torch.manual_seed(seed)
    model = AECModel(TINY).eval()
    with torch.no_grad():
        model.latent_codec.h_a[-1].weight *= 10
    model.freeze()
    return model


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
    from aec import api, model_files
    from aec.decoder import coders_from_file, decoder_from_file
    from aec.model_files import load_model_file

    loaded = []

    def load_coders(model_id=None, *args, **kwargs):
        loaded.append(model_id)
        return coders_from_file(tiny_weights)

    def load_model(model_id=None, *args, **kwargs):
        loaded.append(model_id)
        return load_model_file(tiny_weights)

    def load_decoder(model_id=None, *args, **kwargs):
        loaded.append(model_id)
        return decoder_from_file(tiny_weights)

    monkeypatch.setattr(api, "load_coders", load_coders)  # encoding
    monkeypatch.setattr(model_files, "load_model", load_model)  # refining (aec.api imports it when it needs torch)
    monkeypatch.setattr(api, "load_decoder", load_decoder)  # decoding
    monkeypatch.setattr(api, "_default", None)  # aec.decompress gets a fresh default codec
    return loaded


@pytest.fixture
def image_factory():
    return smooth_image
