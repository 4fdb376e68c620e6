"""The four transforms: analysis g_a, synthesis g_s, hyper-analysis h_a (float) and hyper-synthesis h_s (integer).

    x --g_a--> y --h_a--> z                      (encoder only: float, need not be reproducible)
    z_hat --h_s--> hyper features                (integer network: bit-exact everywhere)
    y_hat --g_s--> x_hat                         (float: only perturbs pixels, never the bitstream)
"""

from __future__ import annotations

import torch.nn as nn

from .layers import GDN, IntConv2d, IntSequential, conv, deconv


def analysis(N: int, M: int) -> nn.Sequential:
    """g_a: four 5x5 stride-2 convolutions with GDN, 3 -> N -> N -> N -> M (stride 16)."""
    return nn.Sequential(conv(3, N), GDN(N), conv(N, N), GDN(N), conv(N, N), GDN(N), conv(N, M))


def synthesis(N: int, M: int) -> nn.Sequential:
    """g_s: the mirror of g_a with transposed convolutions and inverse GDN, M -> N -> N -> N -> 3."""
    return nn.Sequential(deconv(M, N), GDN(N, inverse=True), deconv(N, N), GDN(N, inverse=True),
                         deconv(N, N), GDN(N, inverse=True), deconv(N, 3))


def hyper_analysis(M: int, N: int, Z: int) -> nn.Sequential:
    """h_a: y -> z, total stride 4 relative to y."""
    return nn.Sequential(conv(M, N, 3, 1), nn.LeakyReLU(inplace=True), conv(N, N), nn.LeakyReLU(inplace=True),
                         conv(N, Z))


def hyper_synthesis(Z: int, N: int, out: int) -> IntSequential:
    """h_s: z_hat -> hyper features at the latent resolution, as an integer network."""
    return IntSequential(IntConv2d(Z, N, 5, 2, transpose=True), IntConv2d(N, N, 5, 2, transpose=True),
                         IntConv2d(N, out, 3, 1))
