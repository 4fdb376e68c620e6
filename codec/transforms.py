"""The four transforms: analysis g_a, synthesis g_s, hyper-analysis h_a (float) and hyper-synthesis h_s (integer).

    x --g_a--> y --h_a--> z                      (encoder only: float, need not be reproducible)
    z_hat --h_s--> hyper features                (integer network: bit-exact everywhere)
    y_hat --g_s--> x_hat                         (float: only perturbs pixels, never the bitstream)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn as nn

from . import architecture
from .config import ModelConfig
from .layers import GDN, IntConv2d, IntSequential, conv, deconv


def analysis(N: int, M: int) -> nn.Sequential:
    """g_a: four 5x5 stride-2 convolutions with GDN, 3 -> N -> N -> N -> M (stride 16)."""
    return nn.Sequential(conv(3, N), GDN(N), conv(N, N), GDN(N), conv(N, N), GDN(N), conv(N, M))


def synthesis(c: ModelConfig) -> nn.Sequential:
    """g_s (``architecture.synthesis``): the mirror of g_a with transposed convolutions and inverse GDN."""
    modules: list[nn.Module] = []
    for layer in architecture.synthesis(c):
        modules.append(deconv(layer.inputs, layer.outputs, layer.kernel) if layer.transpose
                       else conv(layer.inputs, layer.outputs, layer.kernel, 1))
        if layer.activation:
            modules.append(GDN(layer.outputs, inverse=True))
    return nn.Sequential(*modules)


def hyper_analysis(M: int, N: int, Z: int) -> nn.Sequential:
    """h_a: y -> z, total stride 4 relative to y."""
    return nn.Sequential(conv(M, N, 3, 1), nn.LeakyReLU(inplace=True), conv(N, N), nn.LeakyReLU(inplace=True),
                         conv(N, Z))


def integer_network(layers: Sequence[architecture.Layer]) -> IntSequential:
    """The trainable integer network of an architecture's layer list."""
    return IntSequential(*(IntConv2d(layer.inputs, layer.outputs, layer.kernel, layer.stride, transpose=layer.transpose,
                                     activation=layer.activation) for layer in layers))


def hyper_synthesis(c: ModelConfig) -> IntSequential:
    """h_s (``architecture.hyper_synthesis``): z_hat -> hyper features at the latent resolution, integer."""
    return integer_network(architecture.hyper_synthesis(c))
