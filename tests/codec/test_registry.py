"""Claims about aec.registry: architectures by the stable name a model file carries, torch-free, each name once."""

import subprocess
import sys

import pytest

from aec import ModelMismatchError
from aec.channel_slice import CHANNEL_SLICE
from aec.model import AECModel
from aec.model_files import load_model_file, save_model
from aec.registry import ARCHITECTURES, architecture, default_architecture, register
from tests.codec.factorized_architecture import FACTORIZED, TINY_FACTORIZED


def test_the_shipped_architecture_is_registered_under_its_stable_name_and_is_the_default():
    assert architecture("aec-channel-slice-v1") is CHANNEL_SLICE is default_architecture()
    assert AECModel.architecture == "aec-channel-slice-v1"
    assert type(CHANNEL_SLICE.training_module(TINY_FACTORIZED)) is AECModel


def test_looking_up_and_building_the_numpy_side_imports_no_torch():
    script = ("import sys; from aec.registry import architecture; entry = architecture('aec-channel-slice-v1'); "
              "assert entry.stride == 64; assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


def test_an_unknown_name_is_a_key_error_that_lists_the_known_ones():
    with pytest.raises(KeyError, match="unknown architecture 'aec-nothing-v0'.*aec-channel-slice-v1"):
        architecture("aec-nothing-v0")


def test_a_model_file_of_an_architecture_this_aec_does_not_know_is_a_clear_model_error(tmp_path, monkeypatch):
    path = tmp_path / "second.safetensors"
    save_model(FACTORIZED.training_module(TINY_FACTORIZED).eval(), path, "test-second")
    monkeypatch.setattr("aec.registry.ARCHITECTURES", {"aec-channel-slice-v1": CHANNEL_SLICE})
    with pytest.raises(ModelMismatchError, match="unknown architecture 'test-factorized-v0'.*newer aec"):
        load_model_file(path)


def test_a_name_cannot_be_taken_twice():
    impostor = type("Impostor", (type(CHANNEL_SLICE),), {})()
    with pytest.raises(ValueError, match="already registered"):
        register(impostor)
    assert register(CHANNEL_SLICE) is CHANNEL_SLICE and ARCHITECTURES["aec-channel-slice-v1"] is CHANNEL_SLICE
