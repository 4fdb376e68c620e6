"""The channel-slice context model with latent residual prediction (Minnen & Singh 2020), as integer networks.

The latent y (M channels) is split into S slices. Slice i is coded with a zero-mean quantized Gaussian on the
residual round(y_i - mu_i), where mu_i and the scale index come from the hyper features and the already decoded
slices 0..i-1. After decoding, a latent residual prediction (LRP) from the same inputs plus slice i itself is
added to y_hat_i. Every network here is integer (``IntConv2d``), so the means, scale indexes and the y_hat that
later slices see are bit-exact on every machine (``aec.exact`` evaluates them).

    hyper ----+------------------+--------------------+
              |                  |                    |
              v                  v                    v
       [params_0] -> mu, idx    [params_1(.., y0)]   [params_2(.., y0, y1)] ...
              |                  |
      y0 = sym*1 + mu + lrp_0   y1 = ...
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .exact import LRP_LIMIT
from .layers import IntConv2d, IntSequential


def parameter_net(cin: int, width: int, slice_channels: int) -> IntSequential:
    """Predicts (mean, scale index) for one slice: 2 * slice_channels outputs."""
    return IntSequential(IntConv2d(cin, width, 3), IntConv2d(width, width, 1),
                         IntConv2d(width, 2 * slice_channels, 3, activation=False))


def residual_net(cin: int, width: int, slice_channels: int) -> IntSequential:
    """Latent residual prediction for one slice (clamped to +-1/2 by the caller)."""
    return IntSequential(IntConv2d(cin, width, 3), IntConv2d(width, slice_channels, 3, activation=False))


class ChannelSliceContext(nn.Module):
    """All slice networks of the context model."""

    def __init__(self, M: int, slices: int, hyper_width: int, width: int):
        super().__init__()
        self.slices = slices
        self.slice_channels = M // slices
        c = self.slice_channels
        self.params = nn.ModuleList(parameter_net(hyper_width + i * c, width, c) for i in range(slices))
        self.residuals = nn.ModuleList(residual_net(hyper_width + (i + 1) * c, width, c) for i in range(slices))

    def networks(self) -> list[IntSequential]:
        return list(self.params) + list(self.residuals)

    @staticmethod
    def split_params(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, index = out.chunk(2, dim=1)
        return mean, index

    @staticmethod
    def clamp_residual(out: torch.Tensor) -> torch.Tensor:
        """The float pass's LRP clamp (``aec.exact`` applies the same one in fixed point)."""
        return out.clamp(-LRP_LIMIT, LRP_LIMIT)
