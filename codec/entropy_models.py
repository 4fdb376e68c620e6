"""Entropy models: the factorized prior of the hyper-latent z and the Gaussian likelihood of the latent y.

The factorized prior is the per-channel monotone CDF network of Ballé et al. 2018 (appendix 6.1). It is only
trained as a density; for coding it is frozen once into integer frequency tables over a fixed support plus an
escape bin (``freeze``), which ship in the model file. No auxiliary quantile loss is involved: the support is
fixed, the tables are read off the CDF directly, and values outside the support are escape-coded.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .bitstream.tables import pmf_to_counts

LIKELIHOOD_FLOOR = 1e-9
TABLE_PRECISION = 16


class FactorizedPrior(nn.Module):
    """A learned, per-channel, non-parametric density for z (filters 3-3-3, as in Ballé et al. 2018)."""

    def __init__(self, channels: int, support: int, filters: tuple[int, ...] = (3, 3, 3), init_scale: float = 10.0):
        super().__init__()
        self.channels, self.support = channels, support
        dims = (1,) + tuple(filters) + (1,)
        scale = init_scale ** (1.0 / (len(filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(filters) + 1):
            init = math.log(math.expm1(1.0 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(torch.rand(channels, dims[i + 1], 1) - 0.5))
            if i < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))
        width = 2 * support + 2  # values -support..support, then the escape bin
        self.register_buffer("counts", torch.ones(channels, width, dtype=torch.int32))
        self.register_buffer("offsets", torch.full((channels,), -support, dtype=torch.int32))

    def logits_cdf(self, values: torch.Tensor) -> torch.Tensor:
        """values: (C, 1, n) -> logit of the CDF at each value, per channel."""
        logits = values
        for i, matrix in enumerate(self.matrices):
            logits = torch.matmul(F.softplus(matrix), logits) + self.biases[i]
            if i < len(self.factors):
                logits = logits + torch.tanh(self.factors[i]) * torch.tanh(logits)
        return logits

    def likelihood(self, z: torch.Tensor) -> torch.Tensor:
        """Probability mass of [z - 1/2, z + 1/2] under each channel's density; z: (B, C, H, W)."""
        b, c, h, w = z.shape
        values = z.float().permute(1, 0, 2, 3).reshape(c, 1, -1)
        lower = self.logits_cdf(values - 0.5)
        upper = self.logits_cdf(values + 0.5)
        # Subtract in the tail where the sigmoid is accurate.
        sign = -torch.sign(lower + upper).detach()
        p = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        p = p.clamp(min=LIKELIHOOD_FLOOR)
        return p.reshape(c, b, h, w).permute(1, 0, 2, 3)

    @torch.no_grad()
    def freeze(self) -> None:
        """Read integer frequency tables off the CDF: one row per channel, the last bin for escapes."""
        support = torch.arange(-self.support, self.support + 1, dtype=torch.float32)
        values = support.view(1, 1, -1).expand(self.channels, 1, -1)
        cdf_lower = torch.sigmoid(self.logits_cdf(values - 0.5)).double()
        cdf_upper = torch.sigmoid(self.logits_cdf(values + 0.5)).double()
        pmf = (cdf_upper - cdf_lower).clamp(min=0).squeeze(1)
        tail = (cdf_lower[:, 0, :1] + (1 - cdf_upper[:, 0, -1:])).clamp(min=0)
        pmf = torch.cat([pmf, tail], dim=1).numpy()
        pmf = np.maximum(pmf, 1e-12)
        pmf = pmf / pmf.sum(axis=1, keepdims=True)
        self.counts.copy_(torch.from_numpy(pmf_to_counts(pmf, TABLE_PRECISION).astype(np.int32)))
        self.offsets.fill_(-self.support)

    def table_bits(self, z_symbols: torch.Tensor) -> torch.Tensor:
        """Bits the frozen tables spend on integer z (escapes priced at their 32 extra bits)."""
        counts = self.counts.double()
        total = counts.sum(dim=1, keepdim=True)
        index = z_symbols.long() - self.offsets.view(1, -1, 1, 1).long()
        escape = (index < 0) | (index > counts.shape[1] - 2)
        index = torch.where(escape, torch.full_like(index, counts.shape[1] - 1), index)
        b, c, h, w = index.shape
        gathered = torch.gather(counts.unsqueeze(0).expand(b, -1, -1), 2, index.reshape(b, c, -1))
        bits = -torch.log2(gathered / total.unsqueeze(0))
        return bits.sum() + 32.0 * escape.sum()


def gaussian_likelihood(residual: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Mass of [r - 1/2, r + 1/2] under a zero-mean Gaussian of scale sigma (symmetric, tail-accurate form)."""
    r = residual.abs()
    upper = torch.special.ndtr((0.5 - r) / sigma)
    lower = torch.special.ndtr((-0.5 - r) / sigma)
    return (upper - lower).clamp(min=LIKELIHOOD_FLOOR)
