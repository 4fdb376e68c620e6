"""Claims about aec.channel_slice, the shipped architecture: its layer lists are the torch modules', its numpy
decoder reads every tensor of the decoding side by name and shape, and its name is written in it alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from aec.channel_slice import CHANNEL_SLICE, LATENT_STRIDE
from aec.config import TINY, ModelConfig
from tests.conftest import frozen_tiny_model

PACKAGE = Path(__file__).resolve().parents[2] / "codec"


@pytest.fixture(scope="module")
def model():
    return frozen_tiny_model(5)


def test_the_architectures_name_is_written_in_its_own_module_alone():
    holding = sorted(path.name for path in PACKAGE.rglob("*.py") if CHANNEL_SLICE.name in path.read_text())
    assert holding == ["channel_slice.py"]


def test_decoder_names_a_tensor_of_the_wrong_shape(model):
    tensors = {key: value.detach().numpy() for key, value in model.file_state_dict().items()}
    tensors["context.params.1.0.weight_int"] = tensors["context.params.1.0.weight_int"][:, :-1]
    with pytest.raises(ValueError, match=r"context\.params\.1\.0\.weight_int has shape"):
        CHANNEL_SLICE.decoder(TINY, tensors)
    del tensors["g_s.2.weight"]
    with pytest.raises(ValueError, match=r"g_s\.2\.weight is missing"):
        CHANNEL_SLICE.decoder(TINY, {**tensors, "context.params.1.0.weight_int": model.file_state_dict()[
            "context.params.1.0.weight_int"].numpy()})


@pytest.mark.parametrize("config", [TINY, ModelConfig()], ids=["tiny", "default"])
def test_the_torch_modules_are_built_from_the_architectures_layer_lists(config):
    """aec.channel_slice is the one description: the torch networks have exactly its layers, shapes and strides,
    and the strides are the decoder's."""
    from aec import channel_slice
    from aec.exact import HYPER_STRIDE
    from aec.model import AECModel

    model = AECModel(config)
    codec = model.latent_codec
    integer = [(codec.h_s, channel_slice.hyper_synthesis(config))]
    integer += [(codec.context.params[i], channel_slice.parameter_net(config, i)) for i in range(config.slices)]
    integer += [(codec.context.residuals[i], channel_slice.residual_net(config, i)) for i in range(config.slices)]
    for network, layers in integer:
        assert [(tuple(m.weight_int.shape), m.stride, m.transpose, m.activation) for m in network] == \
            [(layer.weight_shape, layer.stride, layer.transpose, layer.activation) for layer in layers]
    convolutions = [m for m in model.g_s if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(tuple(m.weight.shape), m.stride[0]) for m in convolutions] == \
        [(layer.weight_shape, layer.stride) for layer in channel_slice.synthesis(config)]
    assert np.prod([layer.stride for layer in channel_slice.synthesis(config)]) == LATENT_STRIDE
    assert np.prod([layer.stride for layer in channel_slice.hyper_synthesis(config)]) == HYPER_STRIDE


def test_the_decoder_reads_every_tensor_of_the_decoding_side(model):
    """Every tensor of h_s, the slice networks and g_s is one the decoder checks by name and shape: none is left
    to a default."""
    tensors = {key: value.detach().numpy() for key, value in model.file_state_dict().items()}
    decoding = [key for key in tensors if key.startswith("g_s.") or key.split(".")[0] in ("h_s", "context")
                and key.endswith(("weight_int", "bias_int"))]
    assert len(decoding) == 2 * (3 + 3 * TINY.slices + 2 * TINY.slices) + 4 * 2 + 3 * 2
    for key in decoding:
        with pytest.raises(ValueError, match=rf"tensor {key.replace('.', '[.]')} is missing"):
            CHANNEL_SLICE.decoder(TINY, {k: v for k, v in tensors.items() if k != key})
