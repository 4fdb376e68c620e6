"""Claims about aec.architecture, the pieces architectures build their numpy coders from: layers, named tensors, the
float networks (torch's function in numpy) and the integer networks of a model file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aec.architecture import FloatNetwork, Layer, integer_network, named_tensor
from aec.layers import GDN
from aec.transforms import _float_network, integer_network as torch_integer_network


def test_a_layer_is_stride_1_or_2_and_a_transposed_one_stride_2():
    assert Layer(4, 6, 3).weight_shape == (6, 4, 3, 3)
    assert Layer(4, 6, 5, transpose=True, stride=2).weight_shape == (4, 6, 5, 5)  # (in, out, k, k) as torch
    for bad in ({"stride": 3}, {"transpose": True, "stride": 1}):
        with pytest.raises(ValueError, match="stride 1 or 2"):
            Layer(4, 6, 3, **bad)


def test_a_named_tensor_must_be_there_with_its_shape():
    tensors = {"g_s.0.bias": np.zeros(3, np.float32)}
    assert named_tensor(tensors, "g_s.0.bias", (3,)) is tensors["g_s.0.bias"]
    with pytest.raises(ValueError, match=r"tensor g_s\.0\.bias has shape \(3,\), the architecture needs \(4,\)"):
        named_tensor(tensors, "g_s.0.bias", (4,))
    with pytest.raises(ValueError, match=r"tensor g_s\.1\.bias is missing"):
        named_tensor(tensors, "g_s.1.bias", (3,))


@pytest.mark.parametrize("activation", ["gdn", "igdn", "leaky"])
def test_a_float_network_computes_the_torch_network_of_the_same_layers(activation):
    torch.manual_seed(1)
    transpose = activation == "igdn"
    layers = (Layer(3, 8, 5, stride=2, transpose=transpose), Layer(8, 5, 3, stride=2 if transpose else 1,
                                                                   transpose=transpose, activation=False))
    make = {"gdn": GDN, "igdn": lambda c: GDN(c, inverse=True), "leaky": lambda c: torch.nn.LeakyReLU(0.01)}
    network = _float_network(layers, make[activation])
    x = torch.rand(1, 3, 12, 16)
    with torch.no_grad():
        expected = network(x)[0].numpy()
    tensors = {f"net.{key}": value.numpy() for key, value in network.state_dict().items()}
    got = FloatNetwork(tensors, "net", layers, activation)(x[0].numpy())
    assert got.dtype == np.float32 and np.allclose(got, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_an_integer_network_of_a_model_files_tensors_is_the_frozen_torch_networks():
    torch.manual_seed(2)
    layers = (Layer(4, 6, 3), Layer(6, 5, 3, stride=2, transpose=True, activation=False))
    network = torch_integer_network(layers)
    for layer in network:
        layer.freeze()
    tensors = {f"h.{key}": value.numpy() for key, value in network.state_dict().items() if key.endswith("_int")}
    x = np.round(np.random.default_rng(3).normal(0, 600, (4, 7, 9)))
    assert np.array_equal(integer_network(tensors, "h", layers)(x), network.exact()(x))
