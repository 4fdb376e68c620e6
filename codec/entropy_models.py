"""Entropy models: how one tensor of latents is priced in training, and the frozen tables it is coded with.

Two models, each owning everything between "these are the latents" and "these are the bits":

- ``FactorizedPrior`` (z): the per-channel monotone CDF network of Ballé et al. 2018 (appendix 6.1). Trained as a
  density; for coding it is frozen once into integer frequency tables over a fixed support plus an escape bin
  (``freeze``), which ship in the model file. No auxiliary quantile loss: the support is fixed, the tables are read
  off the CDF, values outside the support are escape-coded.
- ``GaussianIndexedEntropyModel`` (y): a zero-mean quantized Gaussian on the residual ``round(y - mu)``, whose
  scale is one of a fixed log-spaced table (tensorflow-compression's ``LocationScaleIndexedEntropyModel``,
  CompressAI's ``GaussianConditional``). It owns the table, the rounding of a predicted index to a table entry,
  quantization and the likelihood. The coder only ever sees table entries, so encoder and decoder build identical
  coding distributions.

The range coding itself, and its bit estimate, are numpy (``aec.encoder.code_latents``, ``aec.exact``): the coder
needs no torch.

Neither knows anything about images, slices or networks (see ``latent_codecs.py``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .bitstream.entropy import CategoricalTables
from .bitstream.tables import pmf_to_counts, scale_table
from .encoder import LIKELIHOOD_FLOOR
from .layers import round_ste

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
        self._tables: CategoricalTables | None = None

    # ------------------------------------------------------------------------------------------------ training
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

    def bits(self, z: torch.Tensor) -> torch.Tensor:
        """Per-sample bits of z (noisy in training, rounded in eval) under the density: shape (B,)."""
        return -torch.log2(self.likelihood(z)).sum(dim=(1, 2, 3))

    # -------------------------------------------------------------------------------------------------- coding
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
        self._tables = None

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._tables = None  # new counts: the coding tables are rebuilt on next use

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_tables": None}  # constriction's models do not pickle; a copy rebuilds them

    @property
    def tables(self) -> CategoricalTables:
        """The frozen tables as the range coder's categorical models (built once, on first use)."""
        if self._tables is None:
            self._tables = CategoricalTables(self.counts.cpu().numpy().astype(np.int64),
                                             self.offsets.cpu().numpy().astype(np.int64))
        return self._tables


class GaussianIndexedEntropyModel(nn.Module):
    """Zero-mean quantized Gaussians whose scales are entries of a fixed log-spaced table.

    Training prices ``y - mu`` (plus uniform noise, or rounded in eval) under the Gaussian of the table entry nearest
    to the predicted index; coding range-codes ``round(y - mu)`` with that entry. The table ships in the model file.
    """

    def __init__(self, levels: int, low: float, high: float):
        super().__init__()
        self.register_buffer("scale_table", torch.from_numpy(scale_table(levels, low, high)).double())

    @property
    def levels(self) -> int:
        return self.scale_table.shape[0]

    @property
    def log_low(self) -> float:
        return math.log(float(self.scale_table[0]))

    @property
    def log_step(self) -> float:
        """Spacing of the table in log scale (the table's ends are exactly the configured low and high)."""
        return (math.log(float(self.scale_table[-1])) - self.log_low) / (self.levels - 1)

    def index_of(self, scale: float) -> float:
        """The (fractional) table index of a scale: what a parameter network should output to predict it."""
        return (math.log(scale) - self.log_low) / self.log_step

    # ------------------------------------------------------------------------------------------------ training
    def training_scale(self, index: torch.Tensor) -> torch.Tensor:
        """sigma of the table entry nearest to a predicted float index, with straight-through gradients."""
        index = index + (index.clamp(0, self.levels - 1) - index).detach()
        return torch.exp(self.log_low + round_ste(index) * self.log_step)

    @staticmethod
    def quantize(values: torch.Tensor, noisy: bool) -> torch.Tensor:
        """Additive uniform noise (training's rate proxy) or rounding half up (eval and coding)."""
        if noisy:
            return values + torch.empty_like(values).uniform_(-0.5, 0.5)
        return torch.floor(values + 0.5)

    @staticmethod
    def likelihood(residual: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """Mass of [r - 1/2, r + 1/2] under a zero-mean Gaussian of scale sigma (symmetric, tail-accurate form)."""
        r = residual.abs()
        upper = torch.special.ndtr((0.5 - r) / sigma)
        lower = torch.special.ndtr((-0.5 - r) / sigma)
        return (upper - lower).clamp(min=LIKELIHOOD_FLOOR)

    def bits(self, residual: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """Per-sample bits of the residuals: shape (B,)."""
        return -torch.log2(self.likelihood(residual, sigma)).sum(dim=(1, 2, 3))
