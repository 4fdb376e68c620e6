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

from . import channel_slice
from .config import ModelConfig
from .exact import LRP_LIMIT
from .layers import IntSequential
from .transforms import integer_network


class ChannelSliceContext(nn.Module):
    """All slice networks of the context model: per slice, one that predicts (mean, scale index) and one for the latent
    residual prediction (``channel_slice.parameter_net``, ``channel_slice.residual_net``; the LRP is clamped to +-1/2
    by the caller)."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        self.slices = c.slices
        self.slice_channels = channel_slice.slice_channels(c)
        self.params = nn.ModuleList(integer_network(channel_slice.parameter_net(c, i)) for i in range(c.slices))
        # None without latent residual prediction (``aec.light``'s latent_residual=False).
        self.residuals = nn.ModuleList(integer_network(channel_slice.residual_net(c, i)) for i in range(c.slices)
                                       if getattr(c, "latent_residual", True))

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
