"""The four transforms: analysis g_a, synthesis g_s, hyper-analysis h_a (float) and hyper-synthesis h_s (integer).

    x --g_a--> y --h_a--> z                      (encoder only: float, need not be reproducible)
    z_hat --h_s--> hyper features                (integer network: bit-exact everywhere)
    y_hat --g_s--> x_hat                         (float: only perturbs pixels, never the bitstream)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch.nn as nn

from . import channel_slice
from .architecture import LEAKY_SLOPE, Layer
from .config import ModelConfig
from .layers import GDN, IntConv2d, IntSequential, conv, deconv


def _float_network(layers: Sequence[Layer], activation: Callable[[int], nn.Module]) -> nn.Sequential:
    """The torch layers of a float network's list, ``activation(channels)`` after each layer that has one."""
    modules: list[nn.Module] = []
    for layer in layers:
        modules.append((deconv if layer.transpose else conv)(layer.inputs, layer.outputs, layer.kernel, layer.stride))
        if layer.activation:
            modules.append(activation(layer.outputs))
    return nn.Sequential(*modules)


def analysis(c: ModelConfig, layers: Sequence[Layer] | None = None) -> nn.Sequential:
    """g_a (``channel_slice.analysis``, or an architecture's own ``layers``): stride-2 convolutions with GDN,
    3 -> N -> N -> N -> M (stride 16)."""
    return _float_network(channel_slice.analysis(c) if layers is None else layers, GDN)


def synthesis(c: ModelConfig, layers: Sequence[Layer] | None = None) -> nn.Sequential:
    """g_s (``channel_slice.synthesis``, or an architecture's own ``layers``): the mirror of g_a with transposed
    convolutions and inverse GDN."""
    return _float_network(channel_slice.synthesis(c) if layers is None else layers,
                          lambda channels: GDN(channels, inverse=True))


def hyper_analysis(c: ModelConfig) -> nn.Sequential:
    """h_a (``channel_slice.hyper_analysis``): y -> z, total stride 4 relative to y."""
    return _float_network(channel_slice.hyper_analysis(c),
                          lambda channels: nn.LeakyReLU(LEAKY_SLOPE, inplace=True))


def integer_network(layers: Sequence[Layer]) -> IntSequential:
    """The trainable integer network of an architecture's layer list."""
    return IntSequential(*(IntConv2d(layer.inputs, layer.outputs, layer.kernel, layer.stride, transpose=layer.transpose,
                                     activation=layer.activation) for layer in layers))


def hyper_synthesis(c: ModelConfig, layers: Sequence[Layer] | None = None) -> IntSequential:
    """h_s (``channel_slice.hyper_synthesis``, or an architecture's own ``layers``): z_hat -> hyper features at the
    latent resolution, integer."""
    return integer_network(channel_slice.hyper_synthesis(c) if layers is None else layers)
