"""Claims about aec.registry and model files: a model file names its architecture, the loader builds that one."""

import pytest
import torch

from aec import ModelMismatchError
from aec.config import TINY
from aec.model import AECModel
from aec.model_files import file_metadata, load_model_file, save_model
from aec.registry import ARCHITECTURES, architecture, register


def test_the_shipped_architecture_is_registered_under_its_stable_name():
    assert architecture("aec-channel-slice-v1") is AECModel
    assert AECModel.architecture == "aec-channel-slice-v1"


def test_a_second_architecture_ships_beside_the_first_with_no_change_to_the_loader(tmp_path, monkeypatch):
    monkeypatch.setattr("aec.registry.ARCHITECTURES", dict(ARCHITECTURES))

    @register("test-wider-gains-v0")
    class WiderGains(AECModel):
        """A stand-in second architecture: the same networks, another name and an extra parameter."""

        def __init__(self, config):
            super().__init__(config)
            self.extra = torch.nn.Parameter(torch.full((3,), 7.0))

    torch.manual_seed(3)
    path = tmp_path / "second.safetensors"
    save_model(WiderGains(TINY).eval(), path, "test-second")
    assert file_metadata(path)["architecture"] == "test-wider-gains-v0"
    model, model_id, _ = load_model_file(path)
    assert type(model) is WiderGains and model_id == "test-second"
    assert torch.equal(model.extra, torch.full((3,), 7.0))


def test_an_unknown_architecture_is_a_clear_model_error(tmp_path, monkeypatch):
    monkeypatch.setattr("aec.registry.ARCHITECTURES", dict(ARCHITECTURES))
    register("test-vanishing-v0")(type("Vanishing", (AECModel,), {}))
    path = tmp_path / "vanishing.safetensors"
    save_model(architecture("test-vanishing-v0")(TINY).eval(), path, "test-vanishing")
    monkeypatch.setattr("aec.registry.ARCHITECTURES", {"aec-channel-slice-v1": AECModel})
    with pytest.raises(ModelMismatchError, match="unknown architecture 'test-vanishing-v0'.*newer aec"):
        load_model_file(path)


def test_a_name_cannot_be_taken_twice():
    with pytest.raises(ValueError, match="already registered"):
        register("aec-channel-slice-v1")(type("Impostor", (AECModel,), {}))
